package geo

import (
	"github.com/oschwald/maxminddb-golang/v2/mmdbdata"
)

// records holds the decode targets of one lookup, recycled through
// DB.pool.
type records struct {
	loc locationRecord
	asn asnRecord
}

// locationRecord decodes the few fields gtm uses from a GeoIP2 City or
// Country record and skips the rest (names in many languages, postal,
// subdivisions, traits) without reading them. Decoding through this
// hand-written cursor unmarshaler instead of geoip2's City struct is what
// makes Lookup allocation-free; see README.md for the measurements.
type locationRecord struct {
	Location
	// registered is the registered_country map, read only when a record
	// has no country (anycast and satellite networks carry only the
	// registrant's).
	registered mmdbdata.Cursor
	hasLat     bool
	hasLon     bool
}

// UnmarshalMaxMindDBCursor implements mmdbdata.CursorUnmarshaler.
func (r *locationRecord) UnmarshalMaxMindDBCursor(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	m, err := c.Map()
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[locationRecord](err)
	}
	var next mmdbdata.Cursor
	for {
		key, val, ok := m.Next(next)
		if !ok {
			break
		}
		// A switch on string(key) compiles to comparisons without
		// converting (allocating) the key.
		switch string(key) {
		case "country":
			r.Country, next, err = stringField(val, "iso_code")
		case "registered_country":
			r.registered = val
			next, err = val.Skip()
		case "continent":
			r.Continent, next, err = stringField(val, "code")
		case "location":
			next, err = r.location(val)
		default:
			next, err = val.Skip()
		}
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
	}
	end, err := m.End()
	if err != nil {
		return mmdbdata.Cursor{}, err
	}
	if r.Country == "" && r.registered != (mmdbdata.Cursor{}) {
		if r.Country, _, err = stringField(r.registered, "iso_code"); err != nil {
			return mmdbdata.Cursor{}, err
		}
	}
	return end, nil
}

// location reads latitude and longitude from a location map.
func (r *locationRecord) location(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	m, err := c.Map()
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[map[string]any](err)
	}
	var next mmdbdata.Cursor
	for {
		key, val, ok := m.Next(next)
		if !ok {
			break
		}
		switch string(key) {
		case "latitude":
			r.Lat, next, err = val.ReadFloat()
			r.hasLat = err == nil
		case "longitude":
			r.Lon, next, err = val.ReadFloat()
			r.hasLon = err == nil
		default:
			next, err = val.Skip()
		}
		if err != nil {
			return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[float64](err)
		}
	}
	return m.End()
}

// stringField reads the string under key in the map at c. It returns the
// successor of the whole map from c.Skip, which is O(1) when c is a pointer
// (real databases store these shared maps once and point to them), and so
// can stop reading the map at key instead of walking the rest (such as
// names in eight languages). Strings come from the reader's string cache,
// so repeated codes ("US", "EU") do not allocate.
func stringField(c mmdbdata.Cursor, key string) (string, mmdbdata.Cursor, error) {
	succ, err := c.Skip()
	if err != nil {
		return "", mmdbdata.Cursor{}, err
	}
	m, err := c.Map()
	if err != nil {
		return "", mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[map[string]any](err)
	}
	var next mmdbdata.Cursor
	for {
		k, val, ok := m.Next(next)
		if !ok {
			break
		}
		if string(k) == key {
			out, _, err := val.ReadString()
			if err != nil {
				return "", mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[string](err)
			}
			return out, succ, nil
		}
		if next, err = val.Skip(); err != nil {
			return "", mmdbdata.Cursor{}, err
		}
	}
	// Absent key: report a malformed map, if it was one.
	if _, err := m.End(); err != nil {
		return "", mmdbdata.Cursor{}, err
	}
	return "", succ, nil
}

// asnRecord decodes a GeoLite2 ASN (or GeoIP2 ISP) record.
type asnRecord struct {
	number uint32
	org    string
}

// UnmarshalMaxMindDBCursor implements mmdbdata.CursorUnmarshaler.
func (r *asnRecord) UnmarshalMaxMindDBCursor(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	m, err := c.Map()
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[asnRecord](err)
	}
	var next mmdbdata.Cursor
	for {
		key, val, ok := m.Next(next)
		if !ok {
			break
		}
		switch string(key) {
		case "autonomous_system_number":
			var n uint64
			n, next, err = val.ReadUint()
			if err == nil && n > 1<<32-1 {
				err = mmdbdata.NewUnmarshalTypeError[uint32](n)
			}
			r.number = uint32(n)
		case "autonomous_system_organization":
			r.org, next, err = val.ReadString()
		default:
			next, err = val.Skip()
		}
		if err != nil {
			return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[asnRecord](err)
		}
	}
	return m.End()
}
