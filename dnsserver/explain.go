package dnsserver

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gtm-project/gtm/routing"
	"github.com/miekg/dns"
)

// Query returns the routing.Query this server makes for a question of
// type qtype ("A", "AAAA", any type name or number) about name, from a
// resolver at src carrying the ECS network subnet (the zero Prefix: no ECS;
// an unmasked network is masked, as a resolver must send it). With it
// Snapshot.Explain reproduces exactly what this server answers, the ECS
// prefix limits included. Rand is 0: the first rotation.
func (s *Server) Query(name, qtype string, src netip.Addr, subnet netip.Prefix) (routing.Query, error) {
	if name == "" {
		return routing.Query{}, fmt.Errorf("a name is required")
	}
	t, ok := dns.StringToType[strings.ToUpper(qtype)]
	if !ok {
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(qtype), "TYPE"), 10, 16)
		if err != nil {
			return routing.Query{}, fmt.Errorf("unknown query type %q", qtype)
		}
		t = uint16(n)
	}
	q := routing.Query{Name: dns.Fqdn(name), Type: t, Client: src.Unmap()}
	if subnet.IsValid() {
		p := subnet.Masked()
		e := ecs{source: uint8(p.Bits()), addr: p.Addr().Unmap()}
		s.clientFromECS(&q, &e)
	}
	return q, nil
}
