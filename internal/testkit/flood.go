package testkit

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
)

// FloodSource is the loopback address a Flood comes from. Linux routes all of
// 127.0.0.0/8 to lo, so it reaches a server on 127.0.0.1 while the API server and the
// tests' own clients connect from 127.0.0.1: the webhook tells them apart as it tells a
// pod from the control plane.
var FloodSource = net.IPv4(127, 0, 0, 2)

// floodParallel is how many connections a Flood opens at once.
const floodParallel = 16

// Flood is a connection flood against one server: raw sockets that never start a TLS
// handshake and TLS connections that finish one and then stay idle, all held open until
// Close.
type Flood struct {
	// Raw and Idle count the sockets opened and the handshakes that succeeded; Failed
	// counts the connections that could not be opened or whose handshake failed (a
	// server with client authentication refuses every one).
	Raw, Idle, Failed atomic.Int64

	mu       sync.Mutex
	conns    []net.Conn
	firstErr error
}

// FirstErr is the first error a connection of the flood met, nil if none did.
func (f *Flood) FirstErr() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.firstErr
}

func (f *Flood) failed(err error) {
	f.Failed.Add(1)
	f.mu.Lock()
	if f.firstErr == nil {
		f.firstErr = err
	}
	f.mu.Unlock()
}

// StartFlood opens raw sockets and then idle TLS connections (config, a client
// configuration that trusts the server) to addr from FloodSource, and returns once all
// were tried or ctx ended. A connection the server closes stays counted: what is
// measured is what the flood sent.
func StartFlood(ctx context.Context, addr string, raw, idle int, config *tls.Config) *Flood {
	f := &Flood{}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: FloodSource}}
	open := func(n int, handshake bool) {
		var wg sync.WaitGroup
		next := atomic.Int64{}
		for range floodParallel {
			wg.Go(func() {
				for next.Add(1) <= int64(n) && ctx.Err() == nil {
					c, err := d.DialContext(ctx, "tcp", addr)
					if err != nil {
						f.failed(err)
						continue
					}
					f.hold(c)
					if !handshake {
						f.Raw.Add(1)
						continue
					}
					tc := tls.Client(c, config)
					if err := tc.HandshakeContext(ctx); err != nil {
						f.failed(err)
						continue
					}
					f.Idle.Add(1)
				}
			})
		}
		wg.Wait()
	}
	open(raw, false)
	open(idle, true)
	return f
}

func (f *Flood) hold(c net.Conn) {
	f.mu.Lock()
	f.conns = append(f.conns, c)
	f.mu.Unlock()
}

// Close closes every connection of the flood.
func (f *Flood) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		_ = c.Close()
	}
	f.conns = nil
}
