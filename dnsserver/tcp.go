package dnsserver

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"time"
)

// tcpWriteTimeout bounds writing one response: a client that stops
// reading must not hold a connection goroutine for long.
const tcpWriteTimeout = 5 * time.Second

// Accept errors back off as net/http's server does: 5 ms doubling to 1 s.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// Our own TCP loop (RFC 7766 framing: a two-byte length, then the
// message) instead of miekg/dns's server: the answer path then sees the
// raw query over TCP as over UDP, which RFC 7871's ECS checks need, and
// both transports share serve (and its allocation budget) exactly.

// serveTCPListener accepts connections until the listener is closed. An
// accept error (EMFILE when out of file descriptors, ENOBUFS, ...) is
// never fatal: it is counted, logged once per burst and retried after a
// backoff, while UDP goes on answering.
func (s *Server) serveTCPListener(l net.Listener, lim *tcpLimiter) error {
	var delay time.Duration
	var burst int
	var burstStart time.Time
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.closing.Load() {
				return nil
			}
			s.metrics.acceptErrors.Inc()
			if burst == 0 {
				burstStart = time.Now()
			}
			burst++
			if ok, n := s.acceptLog.allow(time.Now()); ok {
				s.log.Error().Err(err).Str("addr", l.Addr().String()).Int("errors_since_last_line", n).
					Msg("dns tcp accept failed; retrying with backoff (UDP is unaffected)")
			}
			delay = min(max(2*delay, acceptBackoffMin), acceptBackoffMax)
			time.Sleep(delay)
			continue
		}
		if burst > 0 {
			s.log.Info().Str("addr", l.Addr().String()).Int("errors", burst).Dur("lasted", time.Since(burstStart)).
				Msg("dns tcp accept recovered")
			burst, delay = 0, 0
		}
		var src netip.Addr
		if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			src = ta.AddrPort().Addr().Unmap()
		}
		tc, reason := lim.admit(c, src)
		if tc == nil {
			s.noteRefused(reason, src)
			c.Close()
			continue
		}
		if !s.trackConn(c, true) {
			lim.release(tc)
			c.Close()
			return nil
		}
		s.connWG.Add(1)
		go func() {
			defer s.connWG.Done()
			defer s.trackConn(c, false)
			defer c.Close()
			defer lim.release(tc)
			if reason := s.serveTCPConn(lim, tc, src); reason != closeEvicted {
				s.metrics.tcpClosed[reason].Inc() // eviction is counted by the evicter
			}
		}()
	}
}

// trackConn adds or removes a connection from the set shutdown closes.
// Adding fails once the server is closing.
func (s *Server) trackConn(c net.Conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.conns, c)
		return true
	}
	if s.closing.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// serveTCPConn answers the queries of one connection in order until the
// client closes it, goes idle, or the server shuts down, and returns why
// it ended. Responses (QR=1) and packets shorter than a header are dropped
// without an answer, as miekg/dns's server did.
//
// The read deadline is set twice per query, never per byte: once when the
// connection goes idle (the idle timeout), and again when the first byte
// of a query arrives, bounding the time the whole message may take, so a
// client sending one byte a second is closed after the timeout.
func (s *Server) serveTCPConn(lim *tcpLimiter, tc *tcpConn, src netip.Addr) string {
	c := tc.c
	var lenBuf [2]byte
	var msg []byte
	for {
		now := time.Now()
		if !tc.idleSince.CompareAndSwap(0, now.UnixNano()) {
			return closeEvicted
		}
		if err := c.SetReadDeadline(now.Add(lim.idleTimeout())); err != nil {
			return closeClient
		}
		// Shutdown sets closing before it expires every read deadline: a
		// deadline set after that must not outlive it.
		if s.closing.Load() {
			return closeShutdown
		}
		got, err := c.Read(lenBuf[:])
		if got == 0 {
			return s.readEnd(tc, err, closeIdle)
		}
		if v := tc.idleSince.Load(); v == evictedMark || !tc.idleSince.CompareAndSwap(v, 0) {
			return closeEvicted // closed to make room just as the query came
		}
		if err := c.SetReadDeadline(time.Now().Add(lim.idleTimeout())); err != nil {
			return closeClient
		}
		if got == 1 {
			if _, err := io.ReadFull(c, lenBuf[1:]); err != nil {
				return s.readEnd(tc, err, closeSlow)
			}
		}
		n := int(binary.BigEndian.Uint16(lenBuf[:]))
		if cap(msg) < n {
			msg = make([]byte, n)
		}
		msg = msg[:n]
		if _, err := io.ReadFull(c, msg); err != nil {
			return s.readEnd(tc, err, closeSlow)
		}
		if n < 12 || msg[2]&0x80 != 0 {
			continue
		}
		w := s.workers.Get().(*worker)
		out := s.serveSafe(w, msg, protoTCP, src)
		err = nil
		if out != nil {
			err = writeFramed(c, w, out)
		}
		s.workers.Put(w)
		if err != nil {
			return closeWrite
		}
	}
}

// readEnd names why a read ended a connection: eviction, shutdown, the
// timeout (onTimeout: idle or slow), or the client.
func (s *Server) readEnd(tc *tcpConn, err error, onTimeout string) string {
	switch {
	case tc.idleSince.Load() == evictedMark:
		return closeEvicted
	case s.closing.Load():
		return closeShutdown
	case errors.Is(err, os.ErrDeadlineExceeded):
		return onTimeout
	}
	return closeClient
}

// writeFramed writes out, which lies at the start of w.buf, with its
// length in the two bytes the worker keeps before w.buf: one write, no
// copy.
func writeFramed(c net.Conn, w *worker, out []byte) error {
	if len(out) > 0xFFFF {
		return errors.New("response too large for TCP")
	}
	frame := w.frame[:2+len(out)]
	if &frame[2] != &out[0] {
		copy(frame[2:], out) // not expected: responses are packed into w.buf
	}
	binary.BigEndian.PutUint16(frame, uint16(len(out)))
	if err := c.SetWriteDeadline(time.Now().Add(tcpWriteTimeout)); err != nil {
		return err
	}
	_, err := c.Write(frame)
	return err
}

// shutdownTCP closes the listeners, wakes idle connections so they end,
// lets connections finish the query in hand until ctx ends, then closes
// whatever is left.
func (s *Server) shutdownTCP(ctx context.Context) {
	s.mu.Lock()
	s.closing.Store(true)
	for _, l := range s.tcp {
		l.Close()
	}
	past := time.Unix(1, 0)
	for c := range s.conns {
		_ = c.SetReadDeadline(past)
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.connWG.Wait()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	<-done
}
