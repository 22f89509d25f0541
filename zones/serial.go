package zones

import "time"

// SerialGreater is RFC 1982 serial number arithmetic: a is greater than b.
func SerialGreater(a, b uint32) bool { return a != b && int32(a-b) > 0 }

// NextSerial is the smallest serial above cur (RFC 1982), or the date
// convention's YYYYMMDD00 of now's UTC day when that is above cur: a
// serial only ever rises, and follows the date when it can.
func NextSerial(cur uint32, now time.Time) uint32 {
	y, m, d := now.UTC().Date()
	today := uint32(y*1000000 + int(m)*10000 + d*100)
	next := cur + 1
	if SerialGreater(today, next) {
		next = today
	}
	return next
}
