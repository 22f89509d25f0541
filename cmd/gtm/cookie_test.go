package main

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gtm-project/gtm/internal/gtmtest"
	"github.com/gtm-project/gtm/internal/redistest"
	"github.com/miekg/dns"
)

// cookieConfig is serveConfig with a shared cookie secret file and RRL.
var cookieConfig = strings.Replace(serveConfig, `dns: {listen: ["127.0.0.1:0"]}`,
	`dns: {listen: ["127.0.0.1:0"], cookies: {secret_file: cookie-secret}, rrl: {rate: 1000}}`, 1)

var (
	digCookie  = regexp.MustCompile(`(?m)^; COOKIE: ([0-9a-f]+)`)
	kdigCookie = regexp.MustCompile(`(?m)^;; COOKIE: ([0-9A-F]+)`)
	digStatus  = regexp.MustCompile(`status: ([A-Z]+)`)
)

// digRun runs tool (dig or kdig) against p and returns the status, the
// cookie the server returned (lower-case hex) and the output.
func digRun(t *testing.T, tool string, p *gtmtest.Proc, args ...string) (status, cookie, out string) {
	t.Helper()
	host, port, _ := net.SplitHostPort(p.DNS)
	opts := []string{"+tries=1", "+time=2"}
	if tool == "kdig" {
		opts = []string{"+retry=0", "+timeout=2"}
	}
	args = append(append([]string{"@" + host, "-p", port, "www.example.com", "A"}, opts...), args...)
	b, err := exec.Command(tool, args...).CombinedOutput()
	out = string(b)
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
	}
	if m := digStatus.FindStringSubmatch(out); m != nil {
		status = m[1]
	}
	re := digCookie
	if tool == "kdig" {
		re = kdigCookie
	}
	if m := re.FindStringSubmatch(out); m != nil {
		cookie = strings.ToLower(m[1])
	}
	return status, cookie, out
}

// cookieCount reads gtm_dns_cookies_total{result} from p's /metrics.
func cookieCount(t *testing.T, p *gtmtest.Proc, result string) int {
	t.Helper()
	code, body, err := p.Get("/metrics")
	if err != nil || code != 200 {
		t.Fatalf("/metrics: %d %v", code, err)
	}
	re := regexp.MustCompile(`(?m)^gtm_dns_cookies_total\{result="` + result + `"\} (\d+)`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("gtm_dns_cookies_total{result=%q} not in /metrics", result)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestServeCookiesSharedSecret: two gtm nodes sharing dns.cookies.secret_file
// accept each other's server cookies, as real dig and kdig send them; a
// tampered cookie is answered normally with a fresh one; a malformed one
// gets FORMERR.
func TestServeCookiesSharedSecret(t *testing.T) {
	requireTool(t, "dig", "bind9-dnsutils")
	requireTool(t, "kdig", "knot-dnsutils")
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"gtm.yaml":         cookieConfig,
		"example.com.zone": serveZone,
		// The current secret, then the previous one.
		"cookie-secret": "e5e973e5a6b2a43f48e7dc849e37bfcf\n445536bcd2513298075a5d379663c962\n",
	})
	a := gtmtest.Start(t, filepath.Join(dir, "gtm.yaml"))
	b := gtmtest.Start(t, filepath.Join(dir, "gtm.yaml"))

	for _, tool := range []string{"dig", "kdig"} {
		t.Run(tool, func(t *testing.T) {
			status, fromA, out := digRun(t, tool, a, "+cookie")
			if status != "NOERROR" || len(fromA) != 48 || fromA[16:24] != "01000000" {
				t.Fatalf("node A, client cookie: status %s, cookie %q: want NOERROR and an RFC 9018 server cookie\n%s", status, fromA, out)
			}
			valid := cookieCount(t, b, "valid")
			status, fromB, out := digRun(t, tool, b, "+cookie="+fromA)
			if status != "NOERROR" || fromB != fromA || !strings.Contains(out, "192.0.2.80") {
				t.Errorf("node B, A's cookie: status %s, cookie %q: want an answer and A's cookie echoed\n%s", status, fromB, out)
			}
			if got := cookieCount(t, b, "valid"); got != valid+1 {
				t.Errorf("node B counted %d valid cookies, want %d", got, valid+1)
			}
			// Flip the hash's last hex digit.
			last := fromA[47]
			flip := byte('0')
			if last == '0' {
				flip = '1'
			}
			tampered := fromA[:47] + string(flip)
			invalid := cookieCount(t, b, "invalid")
			status, fresh, out := digRun(t, tool, b, "+cookie="+tampered)
			if status != "NOERROR" || !strings.Contains(out, "192.0.2.80") || len(fresh) != 48 || fresh == tampered || fresh[:16] != fromA[:16] {
				t.Errorf("node B, tampered cookie: status %s, cookie %q: want an answer with a fresh cookie\n%s", status, fresh, out)
			}
			if got := cookieCount(t, b, "invalid"); got != invalid+1 {
				t.Errorf("node B counted %d invalid cookies, want %d", got, invalid+1)
			}
			// The fresh cookie B made is valid at A.
			if status, back, out := digRun(t, tool, a, "+cookie="+fresh); status != "NOERROR" || back != fresh {
				t.Errorf("node A, B's fresh cookie: status %s, cookie %q, want it echoed\n%s", status, back, out)
			}
		})
	}
	// A node whose secret is A's previous one (not yet rolled forward):
	// its cookies are valid at A, which renews them with its current one.
	dirC := t.TempDir()
	writeFiles(t, dirC, map[string]string{
		"gtm.yaml":         cookieConfig,
		"example.com.zone": serveZone,
		"cookie-secret":    "445536bcd2513298075a5d379663c962\n",
	})
	c := gtmtest.Start(t, filepath.Join(dirC, "gtm.yaml"))
	_, fromC, _ := digRun(t, "dig", c, "+cookie")
	valid := cookieCount(t, a, "valid")
	if status, renewed, out := digRun(t, "dig", a, "+cookie="+fromC); status != "NOERROR" || len(renewed) != 48 || renewed == fromC || renewed[:16] != fromC[:16] {
		t.Errorf("node A, a cookie of its previous secret: status %s, cookie %q: want an answer and a renewed cookie\n%s", status, renewed, out)
	}
	if got := cookieCount(t, a, "valid"); got != valid+1 {
		t.Errorf("node A counted %d valid cookies, want %d: the previous secret is not accepted", got, valid+1)
	}

	// A 10-octet cookie (client cookie plus 2): FORMERR (RFC 7873 §5.2.2).
	// kdig refuses to send one, so dig alone.
	malformed := cookieCount(t, a, "malformed")
	if status, _, out := digRun(t, "dig", a, "+cookie=0102030405060708090a"); status != "FORMERR" {
		t.Errorf("malformed cookie: status %s, want FORMERR\n%s", status, out)
	}
	if got := cookieCount(t, a, "malformed"); got != malformed+1 {
		t.Errorf("malformed cookies counted %d, want %d", got, malformed+1)
	}
}

// cookieExchange sends a query with a COOKIE option of hex data to p over
// UDP and returns the rcode and the cookie in the response.
func cookieExchange(t *testing.T, p *gtmtest.Proc, data string) (int, string) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("www.example.com.", dns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: data})
	r, _, err := (&dns.Client{Timeout: 3 * time.Second}).Exchange(m, p.DNS)
	if err != nil {
		t.Fatalf("query %s: %v", p.DNS, err)
	}
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if c, ok := o.(*dns.EDNS0_COOKIE); ok {
				return r.Rcode, c.Cookie
			}
		}
	}
	return r.Rcode, ""
}

// TestCookieSecretInRedis: with no secret_file and the redis backend, two
// nodes share the secret the store keeps: a server cookie from one is
// valid at the other.
func TestCookieSecretInRedis(t *testing.T) {
	r := redistest.Start(t)
	w := newWorld(t, fmt.Sprintf("{addrs: [%q]}", r.Addr), "eu", "us")
	eu, us := w.nodes["eu"], w.nodes["us"]
	// The store's secret is read in the background, right after start.
	eu.WaitLog(10*time.Second, "dns cookies: new shared secret in use")
	us.WaitLog(10*time.Second, "dns cookies: new shared secret in use")
	rc, fromEU := cookieExchange(t, eu, "0102030405060708")
	if rc != dns.RcodeSuccess || len(fromEU) != 48 {
		t.Fatalf("eu: rcode %d cookie %q", rc, fromEU)
	}
	valid := cookieCount(t, us, "valid")
	if rc, back := cookieExchange(t, us, fromEU); rc != dns.RcodeSuccess || back != fromEU {
		t.Errorf("us, eu's cookie: rcode %d cookie %q, want it echoed as valid", rc, back)
	}
	if got := cookieCount(t, us, "valid"); got != valid+1 {
		t.Errorf("us counted %d valid cookies, want %d", got, valid+1)
	}
}
