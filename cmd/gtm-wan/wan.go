package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Device is one site's end of the WAN: a TUN device in production, a
// SOCK_SEQPACKET socket in tests. Each Read returns one IPv4 packet and
// each Write delivers one.
type Device = io.ReadWriteCloser

// queueLen bounds the packets in flight on one link; a full queue drops,
// as a router's would. At the delays used here (tens of ms) it is far
// above what a test sends.
const queueLen = 4096

// site is a Site with its device and index in the link matrix.
type site struct {
	Site
	idx int
	dev Device
}

// WAN forwards IPv4 packets between sites by destination address, each
// after its link's one-way delay, and drops the packets of cut links.
// Build it with NewWAN; Run forwards until its context ends.
type WAN struct {
	log    zerolog.Logger
	sites  []*site
	byName map[string]*site
	places map[string][]*site
	route  map[netip.Addr]*site // destination → site; fixed after NewWAN
	links  [][]*link            // [from][to]; nil on the diagonal

	nonIPv4 atomic.Uint64 // packets that were not IPv4 (IPv6 neighbour chatter)
	unknown atomic.Uint64 // IPv4 packets to an address no site holds
}

// link is one direction of a site pair: a FIFO of packets each stamped
// with the time it may leave. The delay is read when a packet enters, so
// a FIFO is also time-ordered while the delay is constant; after a change
// to a shorter delay, new packets wait behind older ones instead of
// overtaking them (links do not reorder).
type link struct {
	from, to *site
	delay    atomic.Int64 // nanoseconds
	cut      atomic.Bool
	q        chan packet

	sent, droppedCut, droppedFull, writeErrs atomic.Uint64
}

type packet struct {
	b   []byte
	due time.Time
}

// NewWAN joins the sites of cfg, devs[i] being sites[i]'s device, with the
// delays of cfg. It starts nothing.
func NewWAN(cfg *Config, devs []Device, log zerolog.Logger) (*WAN, error) {
	if len(devs) != len(cfg.Sites) {
		return nil, fmt.Errorf("gtm-wan: %d devices for %d sites", len(devs), len(cfg.Sites))
	}
	w := &WAN{log: log, byName: map[string]*site{}, places: map[string][]*site{}, route: map[netip.Addr]*site{}}
	for i, s := range cfg.Sites {
		st := &site{Site: s, idx: i, dev: devs[i]}
		w.sites = append(w.sites, st)
		w.byName[s.Name] = st
		w.places[s.Place] = append(w.places[s.Place], st)
		for _, a := range s.addrs {
			w.route[a] = st
		}
	}
	w.links = make([][]*link, len(w.sites))
	for i, a := range w.sites {
		w.links[i] = make([]*link, len(w.sites))
		for j, b := range w.sites {
			if i == j {
				continue
			}
			l := &link{from: a, to: b, q: make(chan packet, queueLen)}
			ms := *cfg.DefaultMS
			if a.Place == b.Place {
				ms = *cfg.IntraMS
			}
			l.delay.Store(msToDur(ms))
			w.links[i][j] = l
		}
	}
	for i, d := range cfg.Delays {
		as, err := w.Resolve(d.A, nil)
		if err != nil {
			return nil, fmt.Errorf("delays[%d]: %w", i, err)
		}
		bs, err := w.Resolve(d.B, nil)
		if err != nil {
			return nil, fmt.Errorf("delays[%d]: %w", i, err)
		}
		w.SetDelay(as, bs, msToDur(d.MS))
	}
	return w, nil
}

func msToDur(ms float64) int64 { return int64(ms * float64(time.Millisecond)) }

// Resolve turns a comma-separated list of names into sites: a site's name
// is that site, a place's name every site of the place, and "*" every site
// not in exclude (so "cut a=X b=*" isolates X).
func (w *WAN) Resolve(names string, exclude []*site) ([]*site, error) {
	var out []*site
	for n := range strings.SplitSeq(names, ",") {
		n = strings.TrimSpace(n)
		switch {
		case n == "*":
			for _, s := range w.sites {
				if !slices.Contains(exclude, s) {
					out = append(out, s)
				}
			}
		case w.byName[n] != nil:
			out = append(out, w.byName[n])
		case w.places[n] != nil:
			out = append(out, w.places[n]...)
		default:
			return nil, fmt.Errorf("%q is neither a site nor a place", n)
		}
	}
	slices.SortFunc(out, func(a, b *site) int { return a.idx - b.idx })
	return slices.Compact(out), nil
}

// pairs calls f for both directions of every pair of a site of as and a
// different site of bs, each direction once.
func (w *WAN) pairs(as, bs []*site, f func(*link)) int {
	seen := map[*link]bool{}
	for _, a := range as {
		for _, b := range bs {
			if a == b {
				continue
			}
			for _, l := range []*link{w.links[a.idx][b.idx], w.links[b.idx][a.idx]} {
				if !seen[l] {
					seen[l] = true
					f(l)
				}
			}
		}
	}
	return len(seen)
}

// Cut drops (cut true) or passes again (false) all traffic between the
// sites of as and those of bs, both directions; packets already on a cut
// link are lost, like those on a wire that is pulled. It returns the
// number of links (directions) changed.
func (w *WAN) Cut(as, bs []*site, cut bool) int {
	return w.pairs(as, bs, func(l *link) { l.cut.Store(cut) })
}

// RestoreAll passes traffic on every link again.
func (w *WAN) RestoreAll() {
	for _, row := range w.links {
		for _, l := range row {
			if l != nil {
				l.cut.Store(false)
			}
		}
	}
}

// SetDelay sets the one-way delay between the sites of as and bs, both
// directions, for packets entering from now on.
func (w *WAN) SetDelay(as, bs []*site, d int64) int {
	return w.pairs(as, bs, func(l *link) { l.delay.Store(d) })
}

// Run forwards packets until ctx ends. It owns the devices: it closes them
// on the way out (which also ends the blocked reads).
func (w *WAN) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(w.sites))
	for _, s := range w.sites {
		wg.Go(func() {
			if err := w.read(ctx, s); err != nil {
				errc <- err
				cancel()
			}
		})
		for _, l := range w.links[s.idx] {
			if l != nil {
				wg.Go(func() { w.send(ctx, l) })
			}
		}
	}
	<-ctx.Done()
	for _, s := range w.sites {
		_ = s.dev.Close()
	}
	wg.Wait()
	close(errc)
	return <-errc // nil unless a device failed
}

// read takes packets from s's device and queues each on the link to the
// site holding its destination.
func (w *WAN) read(ctx context.Context, s *site) error {
	buf := make([]byte, 1<<16)
	for {
		n, err := s.dev.Read(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("gtm-wan: reading site %s: %w", s.Name, err)
		}
		dst, ok := ipv4Dst(buf[:n])
		if !ok {
			w.nonIPv4.Add(1)
			continue
		}
		to := w.route[dst]
		if to == nil || to == s {
			w.unknown.Add(1)
			continue
		}
		l := w.links[s.idx][to.idx]
		if l.cut.Load() {
			l.droppedCut.Add(1)
			continue
		}
		p := packet{b: bytes.Clone(buf[:n]), due: time.Now().Add(time.Duration(l.delay.Load()))}
		select {
		case l.q <- p:
		default:
			l.droppedFull.Add(1)
		}
	}
}

// send delivers l's packets when they are due.
func (w *WAN) send(ctx context.Context, l *link) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		var p packet
		select {
		case <-ctx.Done():
			return
		case p = <-l.q:
		}
		if d := time.Until(p.due); d > 0 {
			t.Reset(d)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		if l.cut.Load() {
			l.droppedCut.Add(1)
			continue
		}
		if _, err := l.to.dev.Write(p.b); err != nil {
			if ctx.Err() != nil {
				return
			}
			// A write fails when the receiving namespace's stack refuses
			// the packet; count it, as a lost packet, and go on.
			if l.writeErrs.Add(1) == 1 {
				w.log.Warn().Err(err).Str("from", l.from.Name).Str("to", l.to.Name).Msg("delivering a packet failed")
			}
			continue
		}
		l.sent.Add(1)
	}
}

// ipv4Dst is the destination of an IPv4 packet; ok is false for anything
// else (IPv6, truncated).
func ipv4Dst(b []byte) (netip.Addr, bool) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(b[16:20])), true
}

// LinkStats are one direction's counters.
type LinkStats struct {
	From        string  `json:"from"`
	To          string  `json:"to"`
	DelayMS     float64 `json:"delay_ms"`
	Cut         bool    `json:"cut"`
	Sent        uint64  `json:"sent"`
	DroppedCut  uint64  `json:"dropped_cut"`
	DroppedFull uint64  `json:"dropped_full"`
	WriteErrors uint64  `json:"write_errors"`
}

// Stats are the WAN's counters.
type Stats struct {
	NonIPv4 uint64      `json:"non_ipv4"`
	Unknown uint64      `json:"unknown_destination"`
	Links   []LinkStats `json:"links"`
}

// Stats returns the counters of every link.
func (w *WAN) Stats() Stats {
	st := Stats{NonIPv4: w.nonIPv4.Load(), Unknown: w.unknown.Load()}
	for _, row := range w.links {
		for _, l := range row {
			if l == nil {
				continue
			}
			st.Links = append(st.Links, LinkStats{
				From: l.from.Name, To: l.to.Name, DelayMS: float64(l.delay.Load()) / float64(time.Millisecond),
				Cut: l.cut.Load(), Sent: l.sent.Load(), DroppedCut: l.droppedCut.Load(),
				DroppedFull: l.droppedFull.Load(), WriteErrors: l.writeErrs.Load(),
			})
		}
	}
	return st
}
