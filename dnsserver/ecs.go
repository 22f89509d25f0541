package dnsserver

import (
	"encoding/binary"
	"net/netip"

	"github.com/miekg/dns"
)

// ecsMaxLen is the largest ECS option data: family, two prefix lengths
// and a whole IPv6 address.
const ecsMaxLen = 4 + 16

// ecs is a query's EDNS Client Subnet option (RFC 7871), validated.
type ecs struct {
	family uint16
	source uint8 // SOURCE PREFIX-LENGTH as received
	// addr is the address, all of its bits beyond source zero (checked);
	// invalid for a FAMILY 0 option.
	addr netip.Addr
	// wire is the option data as received (the address octets exactly as
	// sent), which the response echoes with the SCOPE set.
	wire [ecsMaxLen]byte
	n    int
}

// takeOptions finds the ECS and COOKIE options in the raw query pkt,
// validates them (RFC 7871 §7.1.1, RFC 7873 §5.2.2), and returns the query
// without them for miekg/dns to parse (in w.in; pkt itself is left alone).
// It records in w whether the query had a well-formed ECS option (w.hasECS,
// w.ecs) or a malformed one, or several (w.badECS): FORMERR; and likewise
// a cookie (w.hasCookie, w.cookie) or a malformed one, or several
// (w.badCookie): FORMERR.
//
// Working on the raw bytes does two things. It sees what miekg/dns's
// EDNS0_SUBNET hides, since that pads or cuts the address to its
// family's length: the too-short and too-long addresses §7.1.1 refuses.
// And miekg/dns never parses the options, which saves the allocations
// (four for ECS, two for a cookie) and a fifth of a query's time they
// cost (BenchmarkServeECS).
// pkt has not been parsed yet: every read is bounds-checked, and a
// packet too broken to walk is left to miekg/dns, which rejects it.
func (w *worker) takeOptions(pkt []byte) []byte {
	w.hasECS, w.badECS = false, false
	w.hasCookie, w.badCookie = false, false
	start, end, ok := optSpan(pkt)
	if !ok {
		return pkt
	}
	rdata := pkt[start:end]
	foundECS, foundCookie := false, false
	for off := 0; off < len(rdata); {
		if off+4 > len(rdata) {
			return pkt // broken option framing: miekg/dns refuses it
		}
		code := binary.BigEndian.Uint16(rdata[off:])
		l := int(binary.BigEndian.Uint16(rdata[off+2:]))
		if off+4+l > len(rdata) {
			return pkt
		}
		switch code {
		case dns.EDNS0SUBNET:
			if foundECS || !w.ecs.parse(rdata[off+4:off+4+l]) {
				w.badECS = true // §7.1.1: malformed, or two ECS options
			}
			foundECS = true
		case dns.EDNS0COOKIE:
			if foundCookie || !w.parseCookie(rdata[off+4:off+4+l]) {
				w.badCookie = true // RFC 7873 §5.2.2: malformed, or two
			}
			foundCookie = true
		}
		off += 4 + l
	}
	if !foundECS && !foundCookie {
		return pkt
	}
	w.hasECS = foundECS && !w.badECS
	w.hasCookie = foundCookie && !w.badCookie
	// Copy the query without those options and fix the OPT's RDLENGTH.
	in := append(w.in[:0], pkt[:start]...)
	for off := 0; off < len(rdata); {
		l := int(binary.BigEndian.Uint16(rdata[off+2:]))
		if c := binary.BigEndian.Uint16(rdata[off:]); c != dns.EDNS0SUBNET && c != dns.EDNS0COOKIE {
			in = append(in, rdata[off:off+4+l]...)
		}
		off += 4 + l
	}
	binary.BigEndian.PutUint16(in[start-2:], uint16(len(in)-start))
	in = append(in, pkt[end:]...)
	w.in = in
	return in
}

// parse validates one ECS option's data into e.
func (e *ecs) parse(b []byte) bool {
	if len(b) < 4 || len(b) > ecsMaxLen {
		return false
	}
	e.family = binary.BigEndian.Uint16(b)
	e.source = b[2]
	e.n = copy(e.wire[:], b)
	addrBytes := b[4:]
	var alen int
	switch e.family {
	case 0:
		// Old dig sends FAMILY 0 with prefix 0 and no address for "no
		// subnet"; accept exactly that, as miekg/dns does.
		e.addr = netip.Addr{}
		return e.source == 0 && len(addrBytes) == 0
	case 1:
		alen = 4
	case 2:
		alen = 16
	default:
		return false
	}
	if int(e.source) > alen*8 || len(addrBytes) != (int(e.source)+7)/8 {
		return false
	}
	var full [16]byte
	copy(full[:], addrBytes)
	// Bits beyond the source prefix must be zero (§6).
	if rem := e.source % 8; rem != 0 && addrBytes[len(addrBytes)-1]&(0xFF>>rem) != 0 {
		return false
	}
	if alen == 4 {
		e.addr = netip.AddrFrom4([4]byte(full[:4]))
	} else {
		e.addr = netip.AddrFrom16(full)
	}
	return true
}

// optSpan returns where the RDATA of the first OPT record in the
// additional section of a raw message starts and ends, walking the
// question and the records before it.
func optSpan(pkt []byte) (start, end int, ok bool) {
	if len(pkt) < 12 {
		return 0, 0, false
	}
	qd := int(binary.BigEndian.Uint16(pkt[4:]))
	rrs := int(binary.BigEndian.Uint16(pkt[6:])) + int(binary.BigEndian.Uint16(pkt[8:]))
	ar := int(binary.BigEndian.Uint16(pkt[10:]))
	if ar == 0 {
		return 0, 0, false
	}
	off := 12
	for range qd {
		if off, ok = skipName(pkt, off); !ok || off+4 > len(pkt) {
			return 0, 0, false
		}
		off += 4
	}
	for i := range rrs + ar {
		if off, ok = skipName(pkt, off); !ok || off+10 > len(pkt) {
			return 0, 0, false
		}
		typ := binary.BigEndian.Uint16(pkt[off:])
		l := int(binary.BigEndian.Uint16(pkt[off+8:]))
		off += 10
		if off+l > len(pkt) {
			return 0, 0, false
		}
		if typ == dns.TypeOPT && i >= rrs {
			return off, off + l, true
		}
		off += l
	}
	return 0, 0, false
}

// skipName returns the offset after the (possibly compressed) name at off.
func skipName(pkt []byte, off int) (int, bool) {
	for off < len(pkt) {
		c := pkt[off]
		switch {
		case c == 0:
			return off + 1, true
		case c&0xC0 == 0xC0:
			return off + 2, off+2 <= len(pkt)
		case c&0xC0 != 0:
			return 0, false
		default:
			off += 1 + int(c)
		}
	}
	return 0, false
}

// echoLen is the size of the ECS option the response carries.
func (e *ecs) echoLen() int { return 4 + e.n }

// appendEcho appends the echoed ECS option (RFC 7871 §7.2.1: FAMILY,
// SOURCE PREFIX-LENGTH and ADDRESS as received, SCOPE PREFIX-LENGTH set)
// to a packed response whose last record is our OPT with *rdlen bytes of
// RDATA (see appendOption). Appending to the packed bytes, instead of
// adding an EDNS0_SUBNET to the OPT, keeps the response free of
// allocations: miekg/dns allocates to pack every option.
func (e *ecs) appendEcho(out []byte, rdlen *int, scope uint8) []byte {
	out = appendOption(out, rdlen, dns.EDNS0SUBNET, e.wire[:e.n])
	out[len(out)-e.n+3] = scope
	return out
}
