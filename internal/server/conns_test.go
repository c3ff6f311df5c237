package server

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// attacker is a loopback address other than the one the legitimate client (the API
// server, in the suites) connects from: Linux routes all of 127.0.0.0/8 to lo.
var attacker = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}

// startServer starts the webhook server as NewManager builds it, with limits, serving
// "ok" at /, and returns its address and a client configuration that trusts it.
func startServer(t *testing.T, limits ConnLimits) (string, *tls.Config) {
	t.Helper()
	dir := t.TempDir()
	ca, err := testkit.NewCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteServingCert(dir, "tls.crt", "tls.key"); err != nil {
		t.Fatal(err)
	}
	port, err := testkit.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := newWebhookServer(Options{Host: "127.0.0.1", Port: port, CertDir: dir, ConnLimits: limits},
		[]func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}, logr.Discard())
	s.Register("/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the server stopped with %v", err)
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	// Waiting on the checker, not by connecting, which would count a failed handshake.
	if err := testkit.Poll(context.Background(), 10*time.Second, func(context.Context) (bool, error) {
		return s.StartedChecker()(nil) == nil, nil
	}); err != nil {
		t.Fatalf("the server does not listen: %v", err)
	}
	config := ca.TLSConfig()
	config.ServerName = "127.0.0.1"
	return addr, config
}

// get makes one request on a new connection and checks the answer.
func get(t *testing.T, addr string, config *tls.Config) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: config, DisableKeepAlives: true}}
	resp, err := client.Get("https://" + addr + "/")
	if err != nil {
		t.Fatalf("the legitimate client was not served: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Fatalf("got HTTP %d %q, want 200 ok", resp.StatusCode, body)
	}
}

// dialFrom opens n connections to addr from the attacker's address; tlsConfig nil means
// raw sockets that never start a handshake.
func dialFrom(t *testing.T, addr string, n int, tlsConfig *tls.Config) []net.Conn {
	t.Helper()
	d := &net.Dialer{LocalAddr: attacker}
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	for range n {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dialing from %s: %v", attacker.IP, err)
		}
		if tlsConfig != nil {
			tc := tls.Client(c, tlsConfig)
			if err := tc.Handshake(); err != nil {
				t.Fatalf("the attacker's handshake failed: %v", err)
			}
			c = tc
		}
		conns = append(conns, c)
	}
	return conns
}

func counted(reason string) float64 { return testutil.ToFloat64(connsClosed.WithLabelValues(reason)) }

// countedSince waits until reason's count has grown by at least want since before (the
// server counts a connection just after closing it) and returns by how much it grew.
func countedSince(t *testing.T, reason string, before, want float64) float64 {
	t.Helper()
	_ = testkit.Poll(context.Background(), 10*time.Second, func(context.Context) (bool, error) {
		return counted(reason)-before >= want, nil
	})
	return counted(reason) - before
}

func TestSocketsThatNeverHandshakeDoNotKeepOtherClientsOut(t *testing.T) {
	// The handshake timeout is far off: only the cap can make room.
	addr, config := startServer(t, ConnLimits{MaxHandshakes: 4, HandshakeTimeout: time.Hour, MaxConns: 16, IdleTimeout: time.Hour})
	evicted := counted(ConnClosedHandshakeEvicted)
	raw := dialFrom(t, addr, 20, nil)
	// Each of the attacker's sockets past the cap evicts one of its own older ones; the
	// server closes them, so the last read on each ends.
	closed := 0
	for _, c := range raw[:16] {
		if _, err := c.Read(make([]byte, 1)); err != nil {
			closed++
		}
	}
	get(t, addr, config)
	if closed != 16 {
		t.Errorf("%d of the attacker's first 16 sockets were closed, want 16 (the cap is 4)", closed)
	}
	if got := countedSince(t, ConnClosedHandshakeEvicted, evicted, 16); got < 16 {
		t.Errorf("handshake_evicted grew by %v, want at least 16", got)
	}
}

func TestIdleConnectionsPastTheCapMakeRoomForNewOnes(t *testing.T) {
	addr, config := startServer(t, ConnLimits{MaxHandshakes: 4, HandshakeTimeout: time.Hour, MaxConns: 3, IdleTimeout: time.Hour})
	evicted := counted(ConnClosedIdleEvicted)
	idle := dialFrom(t, addr, 3, config)
	get(t, addr, config)
	// The legitimate connection took the place of the attacker's longest-idle one.
	if _, err := idle[0].Read(make([]byte, 1)); err == nil {
		t.Error("the attacker's oldest idle connection is still open")
	}
	if got := countedSince(t, ConnClosedIdleEvicted, evicted, 1); got != 1 {
		t.Errorf("idle_evicted grew by %v, want 1", got)
	}
}

func TestAHandshakeThatDoesNotFinishIsClosedAtTheTimeout(t *testing.T) {
	addr, config := startServer(t, ConnLimits{MaxHandshakes: 4, HandshakeTimeout: 50 * time.Millisecond, MaxConns: 4, IdleTimeout: time.Hour})
	timedOut := counted(ConnClosedHandshakeTimeout)
	raw := dialFrom(t, addr, 1, nil)
	if _, err := raw[0].Read(make([]byte, 1)); err == nil {
		t.Fatal("the server sent something to a client that never started its handshake")
	}
	if got := countedSince(t, ConnClosedHandshakeTimeout, timedOut, 1); got != 1 {
		t.Errorf("handshake_timeout grew by %v, want 1", got)
	}
	get(t, addr, config)
}

func TestAFailedHandshakeIsCounted(t *testing.T) {
	addr, config := startServer(t, DefaultConnLimits)
	failed := counted(ConnClosedHandshakeFailed)
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: nil, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if err == nil {
		_ = c.Close()
		t.Fatal("a client that does not trust the server's CA completed the handshake")
	}
	get(t, addr, config)
	if got := countedSince(t, ConnClosedHandshakeFailed, failed, 1); got != 1 {
		t.Errorf("handshake_failed grew by %v, want 1", got)
	}
}
