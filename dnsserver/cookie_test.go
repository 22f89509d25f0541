package dnsserver

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestSipHashVectors checks sipHash24 against the reference
// implementation's vectors: key 00..0f, message 00..n-1.
func TestSipHashVectors(t *testing.T) {
	var key [16]byte
	for i := range key {
		key[i] = byte(i)
	}
	k := sipKey(key[:])
	msg := make([]byte, 64)
	for i := range msg {
		msg[i] = byte(i)
	}
	for _, v := range []struct {
		n    int
		want string // the output, little-endian, as the reference prints it
	}{
		{0, "310e0edd47db6f72"},
		{1, "fd67dc93c539f874"},
		{8, "6224939a79f5f593"},
		{15, "e545be4961ca29a1"},
		{63, "724506eb4c328a95"},
	} {
		var got [8]byte
		binary.LittleEndian.PutUint64(got[:], sipHash24(k[0], k[1], msg[:v.n]))
		if hex.EncodeToString(got[:]) != v.want {
			t.Errorf("SipHash-2-4 of %d bytes = %x, want %s", v.n, got, v.want)
		}
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func cookieServer(t testing.TB, cur, prev string) *Server {
	t.Helper()
	var p []byte
	if prev != "" {
		p = mustHex(t, prev)
	}
	cs, err := NewCookieSecrets(mustHex(t, cur), p)
	if err != nil {
		t.Fatal(err)
	}
	s := benchServer(t)
	s.cookies = cs
	return s
}

// cookieVerdict runs checkCookie on a cookie option's data as a query
// from ip at now would, and returns the verdict and the response cookie.
func cookieVerdict(t *testing.T, s *Server, cookie string, ip string, now uint32) (valid bool, reply string) {
	t.Helper()
	w := newWorker()
	if !w.parseCookie(mustHex(t, cookie)) {
		t.Fatalf("cookie %s refused as malformed", cookie)
	}
	s.checkCookie(w, netip.MustParseAddr(ip), now)
	if !w.sendCookie {
		t.Fatal("no cookie to send")
	}
	return w.cookieValid, hex.EncodeToString(w.cookieOut[:])
}

// TestCookieRFC9018Vectors runs RFC 9018 Appendix A through checkCookie:
// the cookies made, and the ones accepted, byte for byte.
func TestCookieRFC9018Vectors(t *testing.T) {
	const secret = "e5e973e5a6b2a43f48e7dc849e37bfcf"
	s := cookieServer(t, secret, "")
	// A.1: a client cookie alone gets a fresh server cookie.
	valid, reply := cookieVerdict(t, s, "2464c4abcf10c957", "198.51.100.100", 1559731985)
	if valid || reply != "2464c4abcf10c957010000005cf79f111f8130c3eee29480" {
		t.Errorf("A.1: valid=%v reply %s", valid, reply)
	}
	// A.2: 40 minutes later the cookie is valid, and renewed.
	valid, reply = cookieVerdict(t, s, "2464c4abcf10c957010000005cf79f111f8130c3eee29480", "198.51.100.100", 1559734385)
	if !valid || reply != "2464c4abcf10c957010000005cf7a871d4a564a1442aca77" {
		t.Errorf("A.2: valid=%v reply %s", valid, reply)
	}
	// A.3: the cookie the client sends has reserved octets set, which the
	// hash covers; the example replies 1h52m after the cookie was made,
	// beyond the hour we accept: verify it when it was young, and check
	// the reply made at the RFC's time.
	valid, _ = cookieVerdict(t, s, "fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", "203.0.113.203", 0x5cf78f71+60)
	if !valid {
		t.Errorf("A.3: the cookie with reserved octets set is not accepted")
	}
	valid, reply = cookieVerdict(t, s, "fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", "203.0.113.203", 1559734700)
	if valid || reply != "fc93fc62807ddb86010000005cf7a9acf73a7810aca2381e" {
		t.Errorf("A.3: valid=%v (want false: too old) reply %s", valid, reply)
	}
	// The same cookie from another address is not ours.
	if valid, _ = cookieVerdict(t, s, "fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", "203.0.113.204", 0x5cf78f71+60); valid {
		t.Errorf("A.3 cookie accepted from another address")
	}
	// A.4: IPv6, after the secret rolled over: the old secret's cookie is
	// accepted as the previous secret, and renewed with the new one.
	s6 := cookieServer(t, "445536bcd2513298075a5d379663c962", "dd3bdf9344b678b185a6f5cb60fca715")
	valid, reply = cookieVerdict(t, s6, "22681ab97d52c298010000005cf7c57926556bd0934c72f8", "2001:db8:220:1:59de:d0f4:8769:82b8", 1559741961)
	if !valid || reply != "22681ab97d52c298010000005cf7c609a6bb79d16625507a" {
		t.Errorf("A.4: valid=%v reply %s", valid, reply)
	}
	// Without the previous secret, the old cookie is invalid.
	s6new := cookieServer(t, "445536bcd2513298075a5d379663c962", "")
	if valid, _ = cookieVerdict(t, s6new, "22681ab97d52c298010000005cf7c57926556bd0934c72f8", "2001:db8:220:1:59de:d0f4:8769:82b8", 1559741961); valid {
		t.Errorf("A.4 cookie accepted without the previous secret")
	}
}

// TestCookieTimestamps: a server cookie is accepted up to an hour old and
// five minutes ahead; it is echoed unchanged up to half an hour old and
// renewed after.
func TestCookieTimestamps(t *testing.T) {
	s := cookieServer(t, "e5e973e5a6b2a43f48e7dc849e37bfcf", "")
	const ip = "192.0.2.1"
	const client = "0102030405060708"
	now := uint32(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix())
	for _, c := range []struct {
		age          int64
		valid, reuse bool
	}{
		{0, true, true},
		{1800, true, true},
		{1801, true, false},
		{3600, true, false},
		{3601, false, false},
		{-300, true, true},
		{-301, false, false},
		{-1 << 20, false, false},
	} {
		made := uint32(int64(now) - c.age)
		_, first := cookieVerdict(t, s, client, ip, made)
		valid, reply := cookieVerdict(t, s, first, ip, now)
		if valid != c.valid || (reply == first) != c.reuse {
			t.Errorf("cookie %ds old: valid=%v reused=%v, want %v, %v", c.age, valid, reply == first, c.valid, c.reuse)
		}
		if !c.reuse && reply[16:] == first[16:] {
			t.Errorf("cookie %ds old: not renewed", c.age)
		}
	}
}

func TestCookieLengths(t *testing.T) {
	w := newWorker()
	for n := 0; n <= 48; n++ {
		want := n == 8 || (n >= 16 && n <= 40)
		if got := w.parseCookie(make([]byte, n)); got != want {
			t.Errorf("a cookie of %d octets: accepted=%v, want %v", n, got, want)
		}
	}
}

// cookieQuery is an EDNS query carrying a COOKIE option of hex data.
func cookieQuery(t testing.TB, name, data string) *dns.Msg {
	m := ednsQuery(name, dns.TypeA, 1232)
	opt := m.IsEdns0()
	opt.Option = append(opt.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: data})
	return m
}

// replyCookie is the COOKIE option of a response, or "".
func replyCookie(r *dns.Msg) string {
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if c, ok := o.(*dns.EDNS0_COOKIE); ok {
				return c.Cookie
			}
		}
	}
	return ""
}

// TestCookieOverTheWire: a server with cookies answers a client cookie
// with a fresh server cookie, accepts it back, FORMERRs a malformed one,
// with ECS and NSID beside it, over UDP and TCP.
func TestCookieOverTheWire(t *testing.T) {
	cs, err := NewCookieSecrets(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, options{cfg: Config{Cookies: cs, NSID: "n1"}})
	for _, proto := range protos {
		q := cookieQuery(t, "mail.example.com.", "0102030405060708")
		q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID},
			&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: netip.MustParseAddr("198.51.100.0").AsSlice()})
		r := ts.exchange(t, proto, q)
		c := replyCookie(r)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || len(c) != 48 || c[:16] != "0102030405060708" || c[16:24] != "01000000" {
			t.Fatalf("%s: client cookie: rcode %d, cookie %q\n%v", proto, r.Rcode, c, r)
		}
		var nsid, ecs bool
		for _, o := range r.IsEdns0().Option {
			nsid = nsid || o.Option() == dns.EDNS0NSID
			ecs = ecs || o.Option() == dns.EDNS0SUBNET
		}
		if !nsid || !ecs {
			t.Errorf("%s: NSID %v, ECS %v echoed beside the cookie", proto, nsid, ecs)
		}
		before := counterValue(t, ts.reg, "gtm_dns_cookies_total", map[string]string{"result": "valid"})
		r = ts.exchange(t, proto, cookieQuery(t, "mail.example.com.", c))
		if got := replyCookie(r); r.Rcode != dns.RcodeSuccess || got != c {
			t.Errorf("%s: our cookie back: rcode %d, cookie %q, want %q echoed", proto, r.Rcode, got, c)
		}
		if after := counterValue(t, ts.reg, "gtm_dns_cookies_total", map[string]string{"result": "valid"}); after != before+1 {
			t.Errorf("%s: valid cookies %v -> %v", proto, before, after)
		}
		bad := c[:len(c)-2] + "00"
		if bad == c {
			bad = c[:len(c)-2] + "01"
		}
		r = ts.exchange(t, proto, cookieQuery(t, "mail.example.com.", bad))
		if got := replyCookie(r); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || len(got) != 48 || got == bad {
			t.Errorf("%s: tampered cookie: rcode %d, cookie %q: want an answer and a fresh cookie", proto, r.Rcode, got)
		}
		r = ts.exchange(t, proto, cookieQuery(t, "mail.example.com.", "01020304050607080910"))
		if r.Rcode != dns.RcodeFormatError || replyCookie(r) != "" {
			t.Errorf("%s: 10-octet cookie: rcode %d cookie %q, want FORMERR without one", proto, r.Rcode, replyCookie(r))
		}
	}
	if n := counterValue(t, ts.reg, "gtm_dns_cookies_total", map[string]string{"result": "malformed"}); n != 2 {
		t.Errorf("malformed cookies counted %v, want 2", n)
	}
}

// BenchmarkCheckCookie is the cost of verifying a server cookie and
// echoing it (one SipHash-2-4), and of making a fresh one for a client
// cookie alone (one SipHash-2-4).
func BenchmarkCheckCookie(b *testing.B) {
	s := cookieServer(b, "e5e973e5a6b2a43f48e7dc849e37bfcf", "")
	src := netip.MustParseAddr("198.51.100.100")
	now := uint32(time.Now().Unix())
	w := newWorker()
	w.parseCookie(mustHex(b, "2464c4abcf10c957"))
	s.checkCookie(w, src, now)
	valid := append([]byte(nil), w.cookieOut[:]...)
	for name, c := range map[string][]byte{"client-only": valid[:8], "valid": valid} {
		b.Run(name, func(b *testing.B) {
			w := newWorker()
			w.parseCookie(c)
			b.ReportAllocs()
			for b.Loop() {
				s.checkCookie(w, src, now)
			}
		})
	}
}
