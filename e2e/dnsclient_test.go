//go:build e2e && linux

package e2e

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// resolver is a DNS client inside a namespace talking to one server over
// one connected UDP socket, as a recursive resolver talks to an
// authoritative server.
type resolver struct {
	conn *net.UDPConn
	ecs  netip.Prefix // sent as EDNS Client Subnet when valid
	buf  []byte
}

func newResolver(ns, from string, server netip.AddrPort, ecs netip.Prefix) (*resolver, error) {
	c, err := udpIn(ns, from+":0", server.String())
	if err != nil {
		return nil, err
	}
	return &resolver{conn: c, ecs: ecs, buf: make([]byte, 4096)}, nil
}

func (r *resolver) Close() error { return r.conn.Close() }

// msg is the query for name/A, with EDNS0 and, when set, ECS.
func (r *resolver) msg(name string) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	m.SetEdns0(1232, false)
	if r.ecs.IsValid() {
		o := m.IsEdns0()
		o.Option = append(o.Option, &dns.EDNS0_SUBNET{
			Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(r.ecs.Bits()),
			Address: r.ecs.Addr().AsSlice(),
		})
	}
	return m
}

// answerOf turns a response into sorted addresses, or an error for an
// rcode other than NOERROR or an empty answer.
func answerOf(resp *dns.Msg) ([]string, error) {
	if resp.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("rcode %s", dns.RcodeToString[resp.Rcode])
	}
	var out []string
	for _, rr := range resp.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	if len(out) == 0 {
		return nil, errors.New("empty answer")
	}
	slices.Sort(out)
	return out, nil
}

// query asks name/A and returns the answer addresses, sorted, or an error
// for a timeout, an rcode other than NOERROR or an empty answer.
func (r *resolver) query(name string, timeout time.Duration) ([]string, error) {
	m := r.msg(name)
	b, err := m.Pack()
	if err != nil {
		return nil, err
	}
	if err := r.conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	if _, err := r.conn.Write(b); err != nil {
		return nil, err
	}
	for {
		n, err := r.conn.Read(r.buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil, errors.New("timeout")
			}
			return nil, err
		}
		resp := new(dns.Msg)
		if resp.Unpack(r.buf[:n]) != nil || resp.Id != m.Id {
			continue // a late answer to an earlier query
		}
		return answerOf(resp)
	}
}

// firstAnswer sends name/A every `every` until a good answer (NOERROR,
// not empty) to any of those queries arrives, and returns it with its
// arrival time and the failures seen before it, counted. Sending on a
// clock rather than query by query keeps the measurement's resolution at
// `every` whatever the round trip, and a server that is not there yet
// (refused, or silent once the kernel rate-limits its ICMP errors) costs
// nothing.
func (r *resolver) firstAnswer(name string, every, limit time.Duration) ([]string, time.Time, map[string]int, error) {
	fails := map[string]int{}
	b, err := r.msg(name).Pack()
	if err != nil {
		return nil, time.Time{}, fails, err
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for id := uint16(1); ; id++ {
			b[0], b[1] = byte(id>>8), byte(id)
			_, _ = r.conn.Write(b) // refused writes are reported on a read
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	if err := r.conn.SetReadDeadline(time.Now().Add(limit)); err != nil {
		return nil, time.Time{}, fails, err
	}
	for {
		n, err := r.conn.Read(r.buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil, time.Time{}, fails, fmt.Errorf("no answer within %s", limit)
			}
			fails[err.Error()]++ // ECONNREFUSED: nothing listens yet
			continue
		}
		at := time.Now()
		resp := new(dns.Msg)
		if err := resp.Unpack(r.buf[:n]); err != nil {
			fails["unpack"]++
			continue
		}
		ans, err := answerOf(resp)
		if err != nil {
			fails[err.Error()]++
			continue
		}
		return ans, at, fails, nil
	}
}

// names renders an answer as sorted gateway names ("gw-eu-a,gw-eu-b").
func (tp *topology) names(addrs []string) string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = tp.gatewayName(a)
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// regionAnswer is what a client gets from region r with the given
// gateways down: the region's other gateways.
func regionAnswer(r *region, down ...string) string {
	var out []string
	for _, g := range r.gateways() {
		if !slices.Contains(down, g.name) {
			out = append(out, g.name)
		}
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}
