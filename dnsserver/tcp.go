package dnsserver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"
)

// tcpWriteTimeout bounds writing one response: a client that stops
// reading must not hold a connection goroutine for long.
const tcpWriteTimeout = 5 * time.Second

// Our own TCP loop (RFC 7766 framing: a two-byte length, then the
// message) instead of miekg/dns's server: the answer path then sees the
// raw query over TCP as over UDP, which RFC 7871's ECS checks need, and
// both transports share serve (and its allocation budget) exactly.

// serveTCPListener accepts connections until the listener is closed.
func (s *Server) serveTCPListener(l net.Listener) error {
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.closing.Load() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue // a transient accept failure (EMFILE and the like)
			}
			return fmt.Errorf("dns tcp %s: %w", l.Addr(), err)
		}
		if !s.trackConn(c, true) {
			c.Close()
			return nil
		}
		s.connWG.Add(1)
		go func() {
			defer s.connWG.Done()
			defer s.trackConn(c, false)
			defer c.Close()
			s.serveTCPConn(c)
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
// client closes it, goes idle, or the server shuts down. Responses (QR=1)
// and packets shorter than a header are dropped without an answer, as
// miekg/dns's server did.
func (s *Server) serveTCPConn(c net.Conn) {
	var src netip.Addr
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		src = ta.AddrPort().Addr().Unmap()
	}
	var lenBuf [2]byte
	var msg []byte
	for {
		if err := c.SetReadDeadline(time.Now().Add(s.cfg.TCPIdleTimeout)); err != nil {
			return
		}
		// Shutdown sets closing before it expires every read deadline: a
		// deadline set after that must not outlive it.
		if s.closing.Load() {
			return
		}
		if _, err := io.ReadFull(c, lenBuf[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(lenBuf[:]))
		if cap(msg) < n {
			msg = make([]byte, n)
		}
		msg = msg[:n]
		if _, err := io.ReadFull(c, msg); err != nil {
			return
		}
		if n < 12 || msg[2]&0x80 != 0 {
			continue
		}
		w := s.workers.Get().(*worker)
		out := s.serveSafe(w, msg, protoTCP, src)
		var err error
		if out != nil {
			err = writeFramed(c, w, out)
		}
		s.workers.Put(w)
		if err != nil {
			return
		}
	}
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
