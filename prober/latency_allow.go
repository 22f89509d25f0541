package prober

import (
	"fmt"
	"net/netip"
	"strings"
)

// AllowList says which resolver addresses the latency prober may measure
// (config prober.latency.allow). The zero value allows public unicast
// addresses only (see PublicUnicast): a resolver's source address comes
// from a packet anyone can forge, so nothing private, loopback,
// link-local, multicast or reserved is ever probed unless an operator
// lists it. Tests list loopback.
type AllowList struct {
	prefixes []netip.Prefix
}

// ParseAllowList parses prefixes ("203.0.113.0/24", "2001:db8::/32"); an
// empty list is the default, public unicast.
func ParseAllowList(ss []string) (AllowList, error) {
	var a AllowList
	for i, s := range ss {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return AllowList{}, fmt.Errorf("prober.latency.allow[%d]: %w", i, err)
		}
		a.prefixes = append(a.prefixes, p.Masked())
	}
	return a, nil
}

// Allows reports whether addr may be measured. Unspecified, multicast
// and broadcast addresses never may, whatever the list says.
func (a AllowList) Allows(addr netip.Addr) bool {
	addr = addr.Unmap()
	if !addr.IsValid() || addr.Zone() != "" || addr.IsUnspecified() || addr.IsMulticast() ||
		addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return false
	}
	if len(a.prefixes) == 0 {
		return PublicUnicast(addr)
	}
	for _, p := range a.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// String lists the prefixes, or says it is the default.
func (a AllowList) String() string {
	if len(a.prefixes) == 0 {
		return "public unicast"
	}
	ss := make([]string, len(a.prefixes))
	for i, p := range a.prefixes {
		ss[i] = p.String()
	}
	return strings.Join(ss, ",")
}

// specialPurpose are the special-purpose ranges (IANA registries, RFC
// 6890 and later) that IsGlobalUnicast and IsPrivate do not already
// exclude. A function, not a package variable, so nothing can change the
// list; parsing it costs well under a microsecond, per address checked
// once a round.
func specialPurpose() []string {
	return []string{
		"0.0.0.0/8",       // "this network"
		"100.64.0.0/10",   // shared address space (CGN), RFC 6598
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // TEST-NET-1, RFC 5737
		"198.18.0.0/15",   // benchmarking, RFC 2544
		"198.51.100.0/24", // TEST-NET-2
		"203.0.113.0/24",  // TEST-NET-3
		"240.0.0.0/4",     // reserved
		"100::/64",        // discard, RFC 6666
		"64:ff9b::/96",    // NAT64: may map to anything, RFC 6052
		"64:ff9b:1::/48",  // local NAT64, RFC 8215
		"2001::/23",       // IETF protocol assignments (Teredo, ORCHID, ...)
		"2001:db8::/32",   // documentation, RFC 3849
		"2002::/16",       // 6to4: embeds an IPv4 address of any kind
		"3fff::/20",       // documentation, RFC 9637
		"5f00::/16",       // SRv6 SIDs, RFC 9602
	}
}

// PublicUnicast reports whether addr is a globally routable unicast
// address: not private (RFC 1918, fc00::/7), loopback, link-local,
// multicast, documentation or otherwise special-purpose.
func PublicUnicast(addr netip.Addr) bool {
	addr = addr.Unmap()
	if !addr.IsGlobalUnicast() || addr.IsPrivate() {
		return false
	}
	for _, s := range specialPurpose() {
		if netip.MustParsePrefix(s).Contains(addr) {
			return false
		}
	}
	return true
}
