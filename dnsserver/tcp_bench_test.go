package dnsserver

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkTCPPipelined: queries pipelined 64 at a time on one loopback
// TCP connection, answered in order: the per-query cost of the TCP loop
// (framing, deadlines, idle/busy accounting) on top of serve.
func BenchmarkTCPPipelined(b *testing.B) {
	ts := startServer(b, options{})
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	q := new(dns.Msg)
	q.SetQuestion("www.example.com.", dns.TypeA)
	p, _ := q.Pack()
	const batch = 64
	var out []byte
	for range batch {
		out = binary.BigEndian.AppendUint16(out, uint16(len(p)))
		out = append(out, p...)
	}
	br := bufio.NewReaderSize(c, 64<<10)
	buf := make([]byte, 65535)
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		if _, err := c.Write(out); err != nil {
			b.Fatal(err)
		}
		for range batch {
			var l [2]byte
			if _, err := io.ReadFull(br, l[:]); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(br, buf[:binary.BigEndian.Uint16(l[:])]); err != nil {
				b.Fatal(err)
			}
		}
	}
}
