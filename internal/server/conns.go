package server

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// ConnLimits bound the webhook server's connections, so that a flood of them cannot take
// its memory past the pod's limit. A connection is first a handshake (accepted, TLS not
// yet done), then established. Without a bound, 3,000 idle TLS connections took the
// webhook past 128 MiB, and so did 6,000 sockets that never started a handshake.
type ConnLimits struct {
	// MaxHandshakes bounds the connections still in their TLS handshake. A new one beyond
	// it evicts the oldest handshake of the client address that holds the most, so that a
	// flood of sockets that never handshake, from one address, evicts only its own.
	MaxHandshakes int
	// HandshakeTimeout bounds a handshake; a client that has not finished it by then is
	// closed.
	HandshakeTimeout time.Duration
	// MaxConns bounds the established connections. A new one beyond it evicts the
	// longest-idle connection of the client address that holds the most connections; when
	// every connection is in the middle of a request, the new one is closed.
	MaxConns int
	// IdleTimeout closes an established connection that has waited this long for its
	// next request. The API server keeps its connections to the webhook for 90s.
	IdleTimeout time.Duration
}

// DefaultConnLimits fit the shipped 128Mi memory limit with room for the probes: an
// established idle connection costs about 36 KiB, a handshake in flight a little more.
var DefaultConnLimits = ConnLimits{
	MaxHandshakes:    128,
	HandshakeTimeout: 5 * time.Second,
	MaxConns:         256,
	IdleTimeout:      90 * time.Second,
}

// connLimiter is a listener that does the TLS handshake itself, within the limits, and
// gives the HTTP server only connections whose handshake succeeded. The server reports
// each connection's state to connState, which tells idle connections from busy ones.
type connLimiter struct {
	inner  net.Listener
	config *tls.Config
	limits ConnLimits
	log    *connLog
	ready  chan net.Conn
	ctx    context.Context // done when the listener is closed
	cancel context.CancelFunc

	mu          sync.Mutex
	handshakes  map[*handshake]struct{}
	established map[net.Conn]*conn // by the *tls.Conn the server has
}

// handshake is a connection in its TLS handshake.
type handshake struct {
	raw     net.Conn
	client  string // the client's address, without the port
	started time.Time
	evicted bool
}

// conn is an established connection.
type conn struct {
	raw       net.Conn
	client    string
	busy      bool // in the middle of a request
	idleSince time.Time
}

func newConnLimiter(inner net.Listener, config *tls.Config, limits ConnLimits, log *connLog) *connLimiter {
	ctx, cancel := context.WithCancel(context.Background())
	l := &connLimiter{
		inner: inner, config: config, limits: limits, log: log,
		ready: make(chan net.Conn), ctx: ctx, cancel: cancel,
		handshakes: map[*handshake]struct{}{}, established: map[net.Conn]*conn{},
	}
	go l.acceptLoop()
	return l
}

// Accept returns the next connection whose TLS handshake succeeded.
func (l *connLimiter) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.ctx.Done():
		return nil, net.ErrClosed
	}
}

// Close stops accepting and closes the connections still in their handshake; the
// established ones are the HTTP server's to close.
func (l *connLimiter) Close() error {
	l.cancel()
	err := l.inner.Close()
	l.mu.Lock()
	for h := range l.handshakes {
		_ = h.raw.Close()
	}
	l.mu.Unlock()
	l.log.stop()
	return err
}

func (l *connLimiter) Addr() net.Addr { return l.inner.Addr() }

func (l *connLimiter) acceptLoop() {
	var delay time.Duration
	for {
		raw, err := l.inner.Accept()
		if err != nil {
			if l.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors or the like: wait as net/http does, and go on.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			time.Sleep(delay)
			continue
		}
		delay = 0
		h := &handshake{raw: raw, client: clientOf(raw), started: time.Now()}
		l.mu.Lock()
		if len(l.handshakes) >= l.limits.MaxHandshakes {
			l.evictHandshake()
		}
		l.handshakes[h] = struct{}{}
		connsGauge.WithLabelValues(ConnStateHandshake).Set(float64(len(l.handshakes)))
		l.mu.Unlock()
		go l.handshake(h)
	}
}

// evictHandshake closes the oldest handshake of the client with the most; l.mu is held.
func (l *connLimiter) evictHandshake() {
	counts := map[string]int{}
	for h := range l.handshakes {
		counts[h.client]++
	}
	var victim *handshake
	for h := range l.handshakes {
		if victim == nil || counts[h.client] > counts[victim.client] ||
			counts[h.client] == counts[victim.client] && h.started.Before(victim.started) {
			victim = h
		}
	}
	if victim != nil {
		victim.evicted = true
		delete(l.handshakes, victim)
		_ = victim.raw.Close()
	}
}

// handshake runs h's TLS handshake within the timeout and hands the connection to the
// server if it succeeds.
func (l *connLimiter) handshake(h *handshake) {
	ctx, cancel := context.WithTimeout(l.ctx, l.limits.HandshakeTimeout)
	defer cancel()
	_ = h.raw.SetDeadline(time.Now().Add(l.limits.HandshakeTimeout))
	tc := tls.Server(h.raw, l.config)
	err := tc.HandshakeContext(ctx)
	l.mu.Lock()
	delete(l.handshakes, h)
	connsGauge.WithLabelValues(ConnStateHandshake).Set(float64(len(l.handshakes)))
	evicted := h.evicted
	l.mu.Unlock()
	if err != nil {
		_ = h.raw.Close()
		switch {
		case l.ctx.Err() != nil:
		case evicted:
			l.closed(ConnClosedHandshakeEvicted, h.client, nil)
		case ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded):
			l.closed(ConnClosedHandshakeTimeout, h.client, nil)
		default:
			l.closed(ConnClosedHandshakeFailed, h.client, err)
		}
		return
	}
	_ = h.raw.SetDeadline(time.Time{})
	if !l.establish(tc, h) {
		_ = tc.Close()
		l.closed(ConnClosedFull, h.client, nil)
		return
	}
	select {
	case l.ready <- tc:
	case <-l.ctx.Done():
		l.forget(tc)
		_ = tc.Close()
	}
}

// establish counts tc as established, evicting an idle connection if the limit is
// reached; it reports false when every connection is busy.
func (l *connLimiter) establish(tc net.Conn, h *handshake) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.established) >= l.limits.MaxConns {
		victim := l.idleVictim()
		if victim == nil {
			return false
		}
		c := l.established[victim]
		delete(l.established, victim)
		_ = c.raw.Close()
		defer l.closed(ConnClosedIdleEvicted, c.client, nil)
	}
	l.established[tc] = &conn{raw: h.raw, client: h.client, idleSince: time.Now()}
	connsGauge.WithLabelValues(ConnStateEstablished).Set(float64(len(l.established)))
	return true
}

// idleVictim returns the longest-idle connection of the client with the most
// connections that has an idle one; l.mu is held.
func (l *connLimiter) idleVictim() net.Conn {
	counts := map[string]int{}
	for _, c := range l.established {
		counts[c.client]++
	}
	var victim net.Conn
	var v *conn
	for k, c := range l.established {
		if c.busy {
			continue
		}
		if v == nil || counts[c.client] > counts[v.client] ||
			counts[c.client] == counts[v.client] && c.idleSince.Before(v.idleSince) {
			victim, v = k, c
		}
	}
	return victim
}

// connState follows the server's connections: busy while a request is read or answered,
// idle between requests, gone when closed.
func (l *connLimiter) connState(nc net.Conn, state http.ConnState) {
	switch state {
	case http.StateActive, http.StateIdle:
		l.mu.Lock()
		if c, ok := l.established[nc]; ok {
			c.busy = state == http.StateActive
			if !c.busy {
				c.idleSince = time.Now()
			}
		}
		l.mu.Unlock()
	case http.StateClosed, http.StateHijacked:
		l.forget(nc)
	}
}

func (l *connLimiter) forget(nc net.Conn) {
	l.mu.Lock()
	delete(l.established, nc)
	connsGauge.WithLabelValues(ConnStateEstablished).Set(float64(len(l.established)))
	l.mu.Unlock()
}

// closed counts and logs a connection the webhook closed before or instead of serving it.
func (l *connLimiter) closed(reason, client string, err error) {
	connsClosed.WithLabelValues(reason).Inc()
	l.log.record(reason, client, err)
}

// clientOf is the address of c's client without its port.
func clientOf(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}
