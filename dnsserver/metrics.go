package dnsserver

import (
	"strconv"
	"time"

	"github.com/gtm-project/gtm/routing"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Metric labels are bounded: a fixed list of query types (others are
// "other") and rcodes, so a scan of random types cannot blow up series.
var metricQtypes = []uint16{
	dns.TypeA, dns.TypeAAAA, dns.TypeCNAME, dns.TypeMX, dns.TypeNS, dns.TypeSOA,
	dns.TypeTXT, dns.TypeSRV, dns.TypePTR, dns.TypeCAA, dns.TypeHTTPS, dns.TypeSVCB,
	dns.TypeANY, dns.TypeDS, dns.TypeDNSKEY, dns.TypeAXFR, dns.TypeIXFR,
}

var metricRcodes = []int{
	dns.RcodeSuccess, dns.RcodeFormatError, dns.RcodeServerFailure, dns.RcodeNameError,
	dns.RcodeNotImplemented, dns.RcodeRefused, dns.RcodeBadVers,
}

const (
	protoUDP = iota
	protoTCP
	nProto
)

var protoNames = [nProto]string{"udp", "tcp"}

// Metrics are the DNS server's Prometheus series. Counters are resolved to
// plain prometheus.Counter values at start, so a query costs an atomic add,
// not a label lookup.
type Metrics struct {
	queries   [nProto][]prometheus.Counter // [proto][qtypeIdx*nRcode+rcodeIdx]
	duration  [nProto]prometheus.Observer
	qtypeIdx  [512]uint8 // for types < 512; index len(metricQtypes) is "other"
	truncated prometheus.Counter
	dropped   *prometheus.CounterVec
	panics    prometheus.Counter
	// serviceAnswers counts answers of traffic-managed names by service,
	// group (region or priority) and reason; every label comes from the
	// configuration or routing.Reason, so the series are bounded.
	serviceAnswers *prometheus.CounterVec
	// rrlActions counts limited responses by action ([rrlPass] is unused).
	rrlActions   [nRRLActions]prometheus.Counter
	rrlEvictions prometheus.Counter
	cookies      [nCookieResults]prometheus.Counter
	// TCP connection limits: open connections, connections ended or
	// refused by reason (closeReasons), accept errors retried.
	tcpConns     prometheus.Gauge
	tcpClosed    map[string]prometheus.Counter
	acceptErrors prometheus.Counter
}

// NewMetrics registers the DNS metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{}
	queries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gtm", Subsystem: "dns", Name: "queries_total",
		Help: "DNS queries answered, by query type, response code and protocol.",
	}, []string{"qtype", "rcode", "proto"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "gtm", Subsystem: "dns", Name: "response_seconds",
		Help:    "Time from a query read to its response written.",
		Buckets: []float64{5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 0.025},
	}, []string{"proto"})
	m.truncated = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "gtm", Subsystem: "dns", Name: "truncated_total",
		Help: "UDP responses truncated (TC=1) because they exceeded the client's UDP size.",
	})
	m.dropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gtm", Subsystem: "dns", Name: "dropped_total",
		Help: "Packets dropped without an answer, by reason.",
	}, []string{"reason"})
	m.panics = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "gtm", Subsystem: "dns", Name: "panics_total",
		Help: "Queries that hit a bug and were answered SERVFAIL.",
	})
	m.serviceAnswers = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gtm", Subsystem: "dns", Name: "service_answers_total",
		Help: "Answers of traffic-managed names, by service, chosen group (region or priority) and reason (latency, distance, rule, order, single, priority, failover, weighted, fail_open).",
	}, []string{"service", "group", "reason"})
	m.tcpConns = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "gtm", Subsystem: "dns", Name: "tcp_connections",
		Help: "Open DNS TCP connections, all listeners together.",
	})
	tcpClosed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gtm", Subsystem: "dns", Name: "tcp_closed_total",
		Help: "DNS TCP connections closed or refused, by reason (idle, slow, evicted, per_client, cap, client, write, shutdown).",
	}, []string{"reason"})
	m.acceptErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "gtm", Subsystem: "dns", Name: "tcp_accept_errors_total",
		Help: "DNS TCP accept errors (EMFILE and the like), each retried after a backoff.",
	})
	m.tcpClosed = map[string]prometheus.Counter{}
	for _, r := range closeReasons {
		m.tcpClosed[r] = tcpClosed.WithLabelValues(r)
	}
	rrlActions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gtm", Subsystem: "dns", Name: "rrl_actions_total",
		Help: "UDP responses over the response rate limit (dns.rrl), by action: slip (sent truncated), drop, or log_only (dns.rrl.log_only: answered, would have been limited).",
	}, []string{"action"})
	m.rrlEvictions = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "gtm", Subsystem: "dns", Name: "rrl_table_evictions_total",
		Help: "Response rate limiting buckets taken over by another client network or name while still in use (dns.rrl.table_size too small, or a random-source flood).",
	})
	cookies := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gtm", Subsystem: "dns", Name: "cookies_total",
		Help: "Queries with a DNS cookie, by result: client_only, valid (a server cookie of ours), invalid (a server cookie not ours, expired, or of a retired secret: answered with a fresh one) or malformed (FORMERR).",
	}, []string{"result"})
	for a := rrlSlip; a < nRRLActions; a++ {
		m.rrlActions[a] = rrlActions.WithLabelValues(rrlActionNames[a])
	}
	for r := range nCookieResults {
		m.cookies[r] = cookies.WithLabelValues(cookieResultNames[r])
	}
	if reg != nil {
		reg.MustRegister(queries, duration, m.truncated, m.dropped, m.panics, m.serviceAnswers,
			rrlActions, m.rrlEvictions, cookies, m.tcpConns, tcpClosed, m.acceptErrors)
	}
	for i := range m.qtypeIdx {
		m.qtypeIdx[i] = uint8(len(metricQtypes))
	}
	for i, t := range metricQtypes {
		if t < 512 {
			m.qtypeIdx[t] = uint8(i)
		}
	}
	for p := range nProto {
		m.duration[p] = duration.WithLabelValues(protoNames[p])
		m.queries[p] = make([]prometheus.Counter, (len(metricQtypes)+1)*(len(metricRcodes)+1))
		for ti := 0; ti <= len(metricQtypes); ti++ {
			tname := "other"
			if ti < len(metricQtypes) {
				tname = dns.TypeToString[metricQtypes[ti]]
			}
			for ri := 0; ri <= len(metricRcodes); ri++ {
				rname := "other"
				if ri < len(metricRcodes) {
					rname = rcodeLabel(metricRcodes[ri])
				}
				m.queries[p][ti*(len(metricRcodes)+1)+ri] = queries.WithLabelValues(tname, rname, protoNames[p])
			}
		}
	}
	for _, r := range []string{"short", "response", "oversize"} {
		m.dropped.WithLabelValues(r)
	}
	return m
}

func (m *Metrics) observe(proto int, qtype uint16, rcode int, start time.Time) {
	ti := len(metricQtypes)
	if qtype < 512 {
		ti = int(m.qtypeIdx[qtype])
	}
	ri := len(metricRcodes)
	for i, r := range metricRcodes {
		if r == rcode {
			ri = i
			break
		}
	}
	m.queries[proto][ti*(len(metricRcodes)+1)+ri].Inc()
	m.duration[proto].Observe(time.Since(start).Seconds())
}

// rcodeLabel names an rcode for metrics, tests and logs. miekg/dns calls
// 16 BADSIG (its TSIG meaning); answering queries, we only send BADVERS.
func rcodeLabel(rc int) string {
	if rc == dns.RcodeBadVers {
		return "BADVERS"
	}
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return strconv.Itoa(rc)
}

// answerKey identifies one service answer series.
type answerKey struct {
	service, group string
	reason         routing.Reason
}

// countAnswer counts the service answer in w.res.
func (w *worker) countAnswer(m *Metrics) {
	k := answerKey{w.res.Service, w.res.Group, w.res.Reason}
	c, ok := w.answers[k]
	if !ok {
		if w.answers == nil {
			w.answers = map[answerKey]prometheus.Counter{}
		}
		c = m.serviceAnswers.WithLabelValues(k.service, k.group, k.reason.String())
		w.answers[k] = c
	}
	c.Inc()
}
