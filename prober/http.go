package prober

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
)

// userAgent is sent unless the check sets its own, so operators can tell
// probes from users in their access logs.
const userAgent = "gtm-prober"

// httpProbe is an http or https check prepared once per target.
type httpProbe struct {
	client  *http.Client
	url     string
	method  string
	host    string // Host header; empty: the URL's host
	header  http.Header
	ranges  [][2]int // accepted status codes, inclusive
	body    []byte   // must appear in the body when set
	maxBody int64
}

// newHTTPProbe prepares t's request and client. The client never reuses a
// connection (every probe measures a fresh connect and handshake), never
// follows redirects (a 3xx is the endpoint's answer, judged by expect, and
// following it would probe another host), and never uses a proxy from the
// environment (the probe must reach the endpoint itself).
//
// roots, when not nil, verifies the endpoint (the check's ca_file) instead
// of opts.RootCAs.
func newHTTPProbe(t *target, opts Options, roots *x509.CertPool) (*httpProbe, error) {
	ch := t.check
	scheme := "http"
	if t.kind == "https" {
		scheme = "https"
	}
	raw := scheme + "://" + t.addr + ch.Path
	if _, err := url.Parse(raw); err != nil {
		return nil, fmt.Errorf("check path %q: %w", ch.Path, err)
	}
	hp := &httpProbe{
		url:     raw,
		method:  ch.Method,
		host:    ch.Host,
		header:  http.Header{},
		body:    []byte(ch.Body),
		maxBody: opts.MaxBody,
	}
	for _, e := range ch.Expect {
		lo, hi, err := zones.ParseStatusRange(e)
		if err != nil {
			return nil, fmt.Errorf("check expect: %w", err)
		}
		hp.ranges = append(hp.ranges, [2]int{lo, hi})
	}
	hp.header.Set("User-Agent", userAgent)
	for k, v := range ch.Headers {
		if http.CanonicalHeaderKey(k) == "Host" {
			// net/http takes the Host header from Request.Host only.
			if hp.host == "" {
				hp.host = v
			}
			continue
		}
		hp.header.Set(k, v)
	}
	sni := ch.SNI
	if sni == "" && hp.host != "" {
		sni = hp.host
		if h, _, err := net.SplitHostPort(sni); err == nil {
			sni = h
		}
	}
	tr := &http.Transport{
		Proxy:       nil,
		DialContext: newDialer().DialContext,
		TLSClientConfig: &tls.Config{
			ServerName:         sni,
			InsecureSkipVerify: ch.InsecureSkipVerify, //nolint:gosec // the operator's explicit choice per check
			RootCAs:            cmp.Or(roots, opts.RootCAs),
			MinVersion:         tls.VersionTLS12,
		},
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
	}
	hp.client = &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return hp, nil
}

// probeHTTP sends one request. Success is a status within expect and, when
// the check sets body, that text within the first MaxBody bytes. Connect is
// the TCP connect time and TTFB the time from the start of the probe to the
// first response byte, both from net/http/httptrace.
func (p *Prober) probeHTTP(ctx context.Context, t *target) outcome {
	hp := t.http
	start := p.now()
	// The trace hooks run on the transport's dial goroutine, which may
	// outlive a timed-out probe: hence atomics.
	var connStart, connDone, firstByte atomic.Int64
	since := func() int64 { return int64(p.now().Sub(start)) }
	trace := &httptrace.ClientTrace{
		ConnectStart: func(string, string) { connStart.Store(since()) },
		ConnectDone: func(_, _ string, err error) {
			if err == nil {
				connDone.Store(since())
			}
		},
		GotFirstResponseByte: func() { firstByte.Store(since()) },
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), hp.method, hp.url, nil)
	if err != nil {
		return outcome{class: store.ErrOther, err: err}
	}
	req.Header = hp.header.Clone()
	req.Host = hp.host
	resp, err := hp.client.Do(req)
	connect := time.Duration(0)
	if d := connDone.Load(); d > 0 {
		connect = time.Duration(d - connStart.Load())
	}
	if err != nil {
		return outcome{connect: connect, err: err}
	}
	defer resp.Body.Close()
	o := outcome{connect: connect, ttfb: time.Duration(firstByte.Load())}

	if !hp.statusOK(resp.StatusCode) {
		o.class = store.ErrStatus
		o.err = fmt.Errorf("status %d not in expect %s", resp.StatusCode, hp.expectString())
		return o
	}
	if len(hp.body) > 0 {
		data, err := io.ReadAll(io.LimitReader(resp.Body, hp.maxBody))
		if err != nil {
			o.err = fmt.Errorf("reading body: %w", err)
			return o
		}
		if !bytes.Contains(data, hp.body) {
			o.class = store.ErrBody
			o.err = fmt.Errorf("body does not contain %q (read %d bytes)", hp.body, len(data))
			return o
		}
	}
	o.ok = true
	o.rtt = p.now().Sub(start)
	return o
}

func (hp *httpProbe) statusOK(code int) bool {
	for _, r := range hp.ranges {
		if code >= r[0] && code <= r[1] {
			return true
		}
	}
	return false
}

func (hp *httpProbe) expectString() string {
	parts := make([]string, len(hp.ranges))
	for i, r := range hp.ranges {
		if r[0] == r[1] {
			parts[i] = fmt.Sprint(r[0])
		} else {
			parts[i] = fmt.Sprintf("%d-%d", r[0], r[1])
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}
