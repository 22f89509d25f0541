package dnsserver

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net/netip"
	"sync/atomic"
)

// DNS cookies (RFC 7873) with the interoperable server cookie of RFC 9018:
// version 1, three reserved octets, a 32-bit timestamp and a SipHash-2-4
// of client cookie | version | reserved | timestamp | client address,
// keyed with a secret every node of a deployment shares, so a cookie one
// node hands out is valid at every other.
const (
	cookieClientLen = 8
	cookieServerLen = 16 // RFC 9018 version 1
	cookieMaxLen    = cookieClientLen + 32
	// cookieMaxAge and cookieMaxAhead bound a server cookie's timestamp
	// (RFC 9018 §4.3: one hour old, five minutes in the future);
	// cookieRefresh is the age after which a valid cookie is replaced by
	// a fresh one in the response (half an hour, §4.3).
	cookieMaxAge   = 3600
	cookieMaxAhead = 300
	cookieRefresh  = 1800
	// CookieSecretLen is the length of a server secret (128 bits).
	CookieSecretLen = 16
)

// Cookie verdicts, the values of gtm_dns_cookies_total{result}.
const (
	cookieClientOnly = iota
	cookieValid
	cookieInvalid
	cookieMalformed
	nCookieResults
)

var cookieResultNames = [nCookieResults]string{"client_only", "valid", "invalid", "malformed"}

// CookieSecrets holds the server secret cookies are made with and the
// previous one, still accepted, swapped atomically: the answer path reads
// them without a lock and never waits for whoever refreshes them.
type CookieSecrets struct {
	p atomic.Pointer[cookieKeys]
}

type cookieKeys struct {
	cur, prev [2]uint64
	hasPrev   bool
}

// NewCookieSecrets returns secrets set to cur and prev (prev may be nil),
// or to a random per-process secret when cur is nil.
func NewCookieSecrets(cur, prev []byte) (*CookieSecrets, error) {
	c := &CookieSecrets{}
	if cur == nil {
		cur = make([]byte, CookieSecretLen)
		if _, err := rand.Read(cur); err != nil {
			return nil, err
		}
	}
	return c, c.Set(cur, prev)
}

// Set replaces the secrets: new cookies are made with cur, and cookies
// made with cur or prev (nil: none) are accepted.
func (c *CookieSecrets) Set(cur, prev []byte) error {
	if len(cur) != CookieSecretLen || (prev != nil && len(prev) != CookieSecretLen) {
		return errors.New("a cookie secret is 16 bytes")
	}
	k := &cookieKeys{cur: sipKey(cur)}
	if prev != nil {
		k.prev, k.hasPrev = sipKey(prev), true
	}
	c.p.Store(k)
	return nil
}

func sipKey(b []byte) [2]uint64 {
	return [2]uint64{binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])}
}

// cookieHash is the RFC 9018 hash: SipHash-2-4 over the client cookie,
// the server cookie's first 8 octets (version, reserved, timestamp) and
// the client's address (4 octets for IPv4, 16 for IPv6).
func cookieHash(k [2]uint64, client, head []byte, ip netip.Addr) uint64 {
	var buf [cookieClientLen + 8 + 16]byte
	n := copy(buf[:], client[:cookieClientLen])
	n += copy(buf[n:], head[:8])
	if ip.Is4() {
		a := ip.As4()
		n += copy(buf[n:], a[:])
	} else {
		a := ip.As16()
		n += copy(buf[n:], a[:])
	}
	return sipHash24(k[0], k[1], buf[:n])
}

// make writes a fresh server cookie for client and ip at time now into
// out (16 octets).
func (k *cookieKeys) make(out, client []byte, ip netip.Addr, now uint32) {
	out[0], out[1], out[2], out[3] = 1, 0, 0, 0
	binary.BigEndian.PutUint32(out[4:], now)
	binary.LittleEndian.PutUint64(out[8:], cookieHash(k.cur, client, out[:8], ip))
}

// matches reports whether server (16 octets, version 1) was made for
// client and ip with the current secret (ok, current) or the previous one
// (ok, not current).
func (k *cookieKeys) matches(client, server []byte, ip netip.Addr) (ok, current bool) {
	h := binary.LittleEndian.Uint64(server[8:])
	if cookieHash(k.cur, client, server, ip) == h {
		return true, true
	}
	return k.hasPrev && cookieHash(k.prev, client, server, ip) == h, false
}

// cookieAge is how old a timestamp is at now, modulo 2^32 (RFC 9018 §4.3
// uses serial number arithmetic): negative in the future.
func cookieAge(ts, now uint32) int64 { return int64(int32(now - ts)) }

// parseCookie records the COOKIE option data b (RFC 7873 §4) in w: an
// 8-octet client cookie, optionally followed by an 8 to 32 octet server
// cookie. Any other length is malformed (§5.2.2: FORMERR).
func (w *worker) parseCookie(b []byte) bool {
	if len(b) != cookieClientLen && (len(b) < cookieClientLen+8 || len(b) > cookieMaxLen) {
		return false
	}
	w.cookieN = copy(w.cookie[:], b)
	return true
}

// checkCookie verifies the query's cookie (RFC 7873 §5.2) and prepares the
// one the response carries in w.cookieOut: the server cookie received when
// it is valid and younger than cookieRefresh, a fresh one otherwise (a
// client cookie alone, or a server cookie that is not ours, expired or
// made with a retired secret, is answered normally with a fresh cookie,
// §5.2.3, never BADCOOKIE). It sets w.cookieValid.
func (s *Server) checkCookie(w *worker, src netip.Addr, now uint32) {
	k := s.cookies.p.Load()
	client := w.cookie[:cookieClientLen]
	copy(w.cookieOut[:], client)
	result := cookieClientOnly
	fresh := true
	if w.cookieN > cookieClientLen {
		result = cookieInvalid
		server := w.cookie[cookieClientLen:w.cookieN]
		if len(server) == cookieServerLen && server[0] == 1 {
			age := cookieAge(binary.BigEndian.Uint32(server[4:]), now)
			if age >= -cookieMaxAhead && age <= cookieMaxAge {
				ok, current := k.matches(client, server, src)
				if ok {
					result = cookieValid
					w.cookieValid = true
				}
				// A cookie of the previous secret is renewed at once
				// (RFC 9018 §5, Appendix A.4).
				if ok && current && age <= cookieRefresh {
					copy(w.cookieOut[cookieClientLen:], server)
					fresh = false
				}
			}
		}
	}
	if fresh {
		k.make(w.cookieOut[cookieClientLen:], client, src, now)
	}
	w.sendCookie = true
	s.metrics.cookies[result].Inc()
}

// cookieEchoLen is the size of the COOKIE option the response carries.
func (w *worker) cookieEchoLen() int {
	if !w.sendCookie {
		return 0
	}
	return 4 + len(w.cookieOut)
}

// appendOption appends an option to a packed response whose last record
// is our OPT with *rdlen bytes of RDATA, and fixes that OPT's RDLENGTH.
func appendOption(out []byte, rdlen *int, code uint16, data []byte) []byte {
	rdlenAt := len(out) - *rdlen - 2
	var hdr [4]byte
	binary.BigEndian.PutUint16(hdr[0:], code)
	binary.BigEndian.PutUint16(hdr[2:], uint16(len(data)))
	out = append(out, hdr[:]...)
	out = append(out, data...)
	*rdlen += 4 + len(data)
	binary.BigEndian.PutUint16(out[rdlenAt:], uint16(*rdlen))
	return out
}
