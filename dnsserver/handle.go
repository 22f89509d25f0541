package dnsserver

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/gtm-project/gtm/routing"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// worker holds everything one query needs, reused query after query by a
// UDP socket's loop or a TCP connection, so the answer path allocates only
// what miekg/dns's Unpack does.
type worker struct {
	req  dns.Msg
	resp dns.Msg
	res  routing.Result
	q    routing.Query
	// frame holds a TCP length prefix and then buf, the packed response,
	// so a TCP answer is written in one call without a copy.
	frame []byte
	buf   []byte
	opt   dns.OPT
	// optRdlen is the RDATA length of opt as packed, so the ECS echo can
	// be appended behind it.
	optRdlen int
	// in holds the query without its ECS and COOKIE options (see
	// takeOptions).
	in []byte
	// ecs is the query's client subnet when hasECS; badECS says the
	// query's ECS was malformed.
	ecs    ecs
	hasECS bool
	badECS bool
	// cookie is the query's COOKIE option data (cookieN bytes) when
	// hasCookie; badCookie says it was malformed. cookieOut is the
	// option the response carries when sendCookie; cookieValid says the
	// query's server cookie was ours (see checkCookie).
	cookie      [cookieMaxLen]byte
	cookieN     int
	cookieOut   [cookieClientLen + cookieServerLen]byte
	hasCookie   bool
	badCookie   bool
	sendCookie  bool
	cookieValid bool
	// now is when the query being answered was read.
	now time.Time
	// samples are resolver addresses waiting for the Sampler.
	samples samplerBuffer
	// answers caches this worker's service answer counters by labels, so
	// counting costs a map lookup without a lock, not a label hash in the
	// shared vector.
	answers map[answerKey]prometheus.Counter
}

func newWorker() *worker {
	w := &worker{frame: make([]byte, 2+dns.MaxMsgSize)}
	w.buf = w.frame[2:]
	w.res.Answer = make([]dns.RR, 0, 16)
	w.res.Ns = make([]dns.RR, 0, 8)
	w.res.Extra = make([]dns.RR, 0, 8)
	return w
}

// serve answers the packet in pkt and returns the response bytes (inside
// w.buf) or nil to send nothing. maxUDP is 0 for TCP.
func (s *Server) serve(w *worker, pkt []byte, proto int, src netip.Addr) []byte {
	if len(pkt) < 12 {
		s.metrics.dropped.WithLabelValues("short").Inc()
		return nil
	}
	if pkt[2]&0x80 != 0 { // QR: never answer a response (reflection loops)
		s.metrics.dropped.WithLabelValues("response").Inc()
		return nil
	}
	if err := w.req.Unpack(w.takeOptions(pkt)); err != nil {
		return s.headerOnly(w, pkt, proto, dns.RcodeFormatError)
	}
	return s.respond(w, &w.req, proto, src)
}

// headerOnly answers from the 12-byte header alone: the query could not be
// parsed, so there is no question to echo.
func (s *Server) headerOnly(w *worker, pkt []byte, proto, rcode int) []byte {
	start := s.now()
	b := w.buf[:12]
	copy(b, pkt[:12])
	b[2] = 0x80 | (pkt[2] & 0x79) // QR, keep opcode and RD; clear AA, TC
	b[3] = byte(rcode & 0xF)      // RA=0, Z=0
	for i := 4; i < 12; i++ {
		b[i] = 0
	}
	s.metrics.observe(proto, 0, rcode, start)
	return b
}

// respond builds and packs the response to a parsed query.
func (s *Server) respond(w *worker, req *dns.Msg, proto int, src netip.Addr) []byte {
	start := s.now()
	w.now = start
	resp := &w.resp
	resp.MsgHdr = dns.MsgHdr{
		Id: req.Id, Response: true, Opcode: req.Opcode, RecursionDesired: req.RecursionDesired,
	}
	resp.Compress = false
	// Echo the question only when there is exactly one: a FORMERR echoing
	// many could outgrow the client's UDP size, and Truncate keeps them all.
	resp.Question = nil
	if len(req.Question) == 1 {
		resp.Question = req.Question
	}
	resp.Answer, resp.Ns, resp.Extra = nil, nil, nil
	var qtype uint16
	if len(req.Question) > 0 {
		qtype = req.Question[0].Qtype
	}

	rcode, opt := s.decide(w, req, proto, src)
	resp.Rcode = rcode
	resp.Answer, resp.Ns, resp.Extra = w.res.Answer, w.res.Ns, w.res.Extra
	resp.Authoritative = w.res.Authoritative && (rcode == dns.RcodeSuccess || rcode == dns.RcodeNameError)

	// Response rate limiting, UDP only (over TCP the source is real),
	// before packing: a dropped response costs no packing. A client
	// presenting a valid server cookie is not spoofed: it is exempt.
	if proto == protoUDP && s.rrl != nil && !w.cookieValid {
		var qname string
		if len(req.Question) > 0 {
			qname = req.Question[0].Name
		}
		cls, name := rrlClass(rcode, w, qname)
		switch act := s.rrl.check(cls, qtype, src, name, start); act {
		case rrlDrop:
			s.metrics.rrlActions[act].Inc()
			return nil
		case rrlLogOnly:
			s.metrics.rrlActions[act].Inc()
		case rrlSlip:
			s.metrics.rrlActions[act].Inc()
			// TC=1, question and OPT kept, no records: a real resolver
			// retries over TCP, a reflection gains nothing.
			resp.Answer, resp.Ns, resp.Extra = nil, nil, nil
			resp.Truncated = true
		}
	}

	limit := dns.MaxMsgSize
	if proto == protoUDP {
		limit = dns.MinMsgSize
		if opt != nil {
			limit = min(max(int(opt.UDPSize()), dns.MinMsgSize), s.udpSize)
		}
	}
	// echo is the size of the ECS and COOKIE options appended after
	// packing.
	echo := 0
	if opt != nil {
		// resp.Rcode keeps all 12 bits: PackBuffer writes the low 4 in the
		// header and the high 8 in the OPT (and would zero them there if
		// resp.Rcode held only the low bits).
		resp.Extra = append(resp.Extra, s.responseOPT(w, opt, rcode))
		if w.hasECS {
			echo = w.ecs.echoLen()
		}
		echo += w.cookieEchoLen()
	} else {
		w.hasECS, w.sendCookie = false, false
	}
	out, err := resp.PackBuffer(w.buf)
	if err == nil && len(out)+echo > limit {
		// Too large for the client's UDP buffer: RFC 1035 §4.2.1 and RFC
		// 6891 §7 ask for TC=1 and the client retries over TCP.
		resp.Truncate(limit - echo)
		s.metrics.truncated.Inc()
		out, err = resp.PackBuffer(w.buf)
		if err == nil && len(out)+echo > limit {
			// Truncate never goes below 512 bytes; with a 512-byte EDNS
			// buffer and ECS, send the header, question and OPT alone.
			resp.Answer, resp.Ns, resp.Extra = nil, nil, resp.Extra[len(resp.Extra)-1:]
			resp.Truncated = true
			out, err = resp.PackBuffer(w.buf)
		}
	}
	if err != nil {
		s.log.Debug().Err(err).Msg("pack failed")
		resp.Answer, resp.Ns, resp.Extra = nil, nil, nil
		resp.Rcode = dns.RcodeServerFailure
		rcode = dns.RcodeServerFailure
		echo = 0
		if out, err = resp.PackBuffer(w.buf); err != nil {
			return nil
		}
	}
	if echo > 0 {
		rdlen := w.optRdlen
		if w.hasECS {
			out = w.ecs.appendEcho(out, &rdlen, w.res.Scope)
		}
		if w.sendCookie {
			out = appendOption(out, &rdlen, dns.EDNS0COOKIE, w.cookieOut[:])
		}
	}
	if s.sampler != nil && w.res.Zone != "" {
		// Only resolvers asking about our zones: the rest are scanners.
		w.samples.add(s.sampler, src, start)
	}
	s.metrics.observe(proto, qtype, rcode, start)
	if w.res.Reason != routing.ReasonNone {
		w.countAnswer(s.metrics)
	}
	return out
}

// decide fills w.res and returns the rcode (possibly extended) and the
// client's OPT record, if it sent one. It clears w.hasECS when the
// response must not echo ECS.
func (s *Server) decide(w *worker, req *dns.Msg, proto int, src netip.Addr) (int, *dns.OPT) {
	w.res.Reset()
	w.sendCookie, w.cookieValid = false, false
	if req.Opcode != dns.OpcodeQuery {
		return dns.RcodeNotImplemented, nil
	}
	opt, bad := findOPT(req)
	if bad {
		return dns.RcodeFormatError, nil
	}
	if len(req.Question) != 1 || len(req.Answer) > 0 || len(req.Ns) > 0 {
		return dns.RcodeFormatError, opt
	}
	if opt != nil && opt.Version() != 0 {
		w.hasECS = false             // options of an unknown version are not ours to read
		return dns.RcodeBadVers, opt // RFC 6891 §6.1.3
	}
	if s.cookies != nil {
		if w.badCookie {
			w.hasECS = false
			s.metrics.cookies[cookieMalformed].Inc()
			return dns.RcodeFormatError, opt // RFC 7873 §5.2.2
		}
		if w.hasCookie {
			s.checkCookie(w, src, uint32(w.now.Unix()))
		}
	}
	if w.badECS {
		w.hasECS = false
		return dns.RcodeFormatError, opt // RFC 7871 §7.1.1
	}
	q := req.Question[0]
	switch q.Qclass {
	case dns.ClassINET:
	case dns.ClassCHAOS:
		return s.chaos(w, q), opt
	default:
		return dns.RcodeRefused, opt
	}
	switch q.Qtype {
	case dns.TypeAXFR, dns.TypeIXFR:
		// Zone transfers are not served: secondaries are other gtm nodes
		// sharing the store.
		return dns.RcodeRefused, opt
	case dns.TypeOPT:
		return dns.RcodeFormatError, opt
	}
	snap := s.source.Snapshot()
	if snap == nil {
		return dns.RcodeServerFailure, opt
	}
	w.q = routing.Query{Name: q.Name, Type: q.Qtype, Client: src, Rand: rand.Uint64()}
	if w.hasECS {
		s.clientFromECS(&w.q, &w.ecs)
	}
	snap.Lookup(&w.q, &w.res)
	return w.res.Rcode, opt
}

// clientFromECS makes the ECS network the client (RFC 7871 §7.1.1),
// honouring at most the configured source prefix lengths. An ECS /0 (or
// FAMILY 0) asks that the client stay unknown: the resolver's address is
// then used, with scope 0. The resolver's address is the only one the
// sampler ever records; an ECS address is never measured.
func (s *Server) clientFromECS(q *routing.Query, e *ecs) {
	q.ECS = true
	if !e.addr.IsValid() || e.source == 0 {
		return
	}
	bits := min(int(e.source), s.ecsMax4)
	if e.addr.Is6() {
		bits = min(int(e.source), s.ecsMax6)
	}
	if bits == 0 {
		return
	}
	p, _ := e.addr.Prefix(bits)
	q.Client, q.SourceBits = p.Addr(), uint8(bits)
}

// findOPT returns the query's OPT record; bad is true for a malformed
// EDNS0 section (RFC 6891 §6.1.1: more than one OPT, or not at the root).
func findOPT(req *dns.Msg) (opt *dns.OPT, bad bool) {
	for _, rr := range req.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			if opt != nil || o.Hdr.Name != "." {
				return nil, true
			}
			opt = o
		}
	}
	for _, sec := range [][]dns.RR{req.Answer, req.Ns} {
		for _, rr := range sec {
			if rr.Header().Rrtype == dns.TypeOPT {
				return nil, true
			}
		}
	}
	return opt, false
}

// responseOPT is our OPT record: our UDP size, the DO bit copied (RFC 3225
// §3), NSID when asked (RFC 5001), extended rcode bits.
func (s *Server) responseOPT(w *worker, req *dns.OPT, rcode int) *dns.OPT {
	o := &w.opt
	o.Hdr = dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: uint16(s.udpSize)}
	o.Option = o.Option[:0]
	w.optRdlen = 0
	o.SetDo(req.Do())
	if rcode > 0xF {
		o.SetExtendedRcode(uint16(rcode))
	}
	for _, e := range req.Option {
		if e.Option() == dns.EDNS0NSID && s.nsid != nil {
			o.Option = append(o.Option, s.nsid)
			w.optRdlen += 4 + len(s.nsid.Nsid)/2 // hex in the struct, bytes on the wire
		}
	}
	return o
}

// chaos answers CHAOS-class TXT queries that identify the server.
func (s *Server) chaos(w *worker, q dns.Question) int {
	if q.Qtype != dns.TypeTXT {
		return dns.RcodeRefused
	}
	var txt string
	switch strings.ToLower(q.Name) {
	case "id.server.", "hostname.bind.":
		txt = s.nodeID
	case "version.bind.", "version.server.":
		if s.version == "" {
			return dns.RcodeRefused
		}
		txt = s.version
	default:
		return dns.RcodeRefused
	}
	w.res.Authoritative = true
	w.res.Answer = append(w.res.Answer, &dns.TXT{
		Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassCHAOS},
		Txt: []string{txt},
	})
	return dns.RcodeSuccess
}
