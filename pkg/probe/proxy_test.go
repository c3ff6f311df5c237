package probe

import (
	"context"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// routingProxy is an HTTP proxy, CONNECT included, that sends every request to
// upstream whatever host it names, and remembers the hosts named.
type routingProxy struct {
	upstream string

	mu    sync.Mutex
	asked []string // "CONNECT host:port" or "GET host:port"
}

func (p *routingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.asked = append(p.asked, r.Method+" "+r.Host)
	p.mu.Unlock()
	if r.Method != http.MethodConnect {
		out := r.Clone(r.Context())
		out.RequestURI, out.URL.Scheme, out.URL.Host = "", "http", p.upstream
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		return
	}
	upstream, err := net.Dial("tcp", p.upstream)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer upstream.Close()
	w.WriteHeader(http.StatusOK)
	client, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer client.Close()
	go func() { _, _ = io.Copy(upstream, rw); upstream.Close() }()
	_, _ = io.Copy(client, upstream)
}

func (p *routingProxy) hosts() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.asked...)
}

// startProxy serves a routingProxy to upstream and returns it with a Proxy function
// that sends every request through it.
func startProxy(t *testing.T, upstream string) (*routingProxy, func(*http.Request) (*url.URL, error)) {
	t.Helper()
	p := &routingProxy{upstream: upstream}
	srv := startHandler(t, p.ServeHTTP)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return p, http.ProxyURL(u)
}

func TestS3ProberThroughAProxy(t *testing.T) {
	t.Run("over TLS the probe tunnels to the endpoint with CONNECT", func(t *testing.T) {
		fake := newFakeS3(nil)
		srv := fake.start(t, true)
		bundle := filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("SSL_CERT_FILE", bundle)
		endpoint := srv.Listener.Addr().String()
		proxy, proxyFunc := startProxy(t, endpoint)
		target := testTarget(endpoint)
		target.Insecure = false

		err := mustProber(t, S3Options{Proxy: proxyFunc}).Probe(context.Background(), target)

		checkFailure(t, err, nil)
		if got := proxy.hosts(); len(got) == 0 || got[0] != "CONNECT "+endpoint {
			t.Errorf("the proxy was asked %q, want a CONNECT to %s", got, endpoint)
		}
		if got := len(fake.seen()); got != 4 {
			t.Errorf("the endpoint got %q, want the probe's 4 requests", fake.seen())
		}
	})

	t.Run("the proxy's own address is not refused by the guard", func(t *testing.T) {
		// The proxy and the fake S3 listen on loopback, which this guard denies; the
		// endpoint the store names is an address the guard admits, and only the proxy
		// knows the way there.
		srv := newFakeS3(nil).start(t, false)
		proxy, proxyFunc := startProxy(t, srv.Listener.Addr().String())
		guard := mustGuard(t, []string{"127.0.0.0/8", "::1/128"}, nil)

		err := mustProber(t, S3Options{Proxy: proxyFunc, Guard: guard}).Probe(context.Background(), testTarget("198.51.100.7:9000"))

		checkFailure(t, err, nil)
		if got := proxy.hosts(); len(got) != 4 || got[0] != "GET 198.51.100.7:9000" {
			t.Errorf("the proxy was asked %q, want the probe's 4 requests for 198.51.100.7:9000", got)
		}
	})

	refused := map[string]struct {
		endpoint string
		want     *Failure
	}{
		"a name that resolves to a denied address is refused before the proxy is asked": {
			endpoint: "localhost:9000",
			want: &Failure{Reason: ReasonEndpointForbidden,
				Message: `endpoint "localhost" is refused: it resolves to 127.0.0.1, denied range 127.0.0.0/8`},
		},
		"the metadata address is refused before the proxy is asked": {
			endpoint: "169.254.169.254:80",
			want: &Failure{Reason: ReasonEndpointForbidden,
				Message: `endpoint "169.254.169.254" is refused: link-local address 169.254.0.0/16 (cloud metadata)`},
		},
		"a name the webhook cannot resolve is refused: the guard cannot check it": {
			endpoint: "kratix.invalid:9000",
			want: &Failure{Reason: ReasonNameNotResolved,
				Message: `host "kratix.invalid" of endpoint "kratix.invalid:9000" could not be resolved; check endpoint and the cluster's DNS`},
		},
	}
	for name, tc := range refused {
		t.Run(name, func(t *testing.T) {
			proxy, proxyFunc := startProxy(t, closedPort(t))
			guard := mustGuard(t, []string{"127.0.0.0/8", "::1/128"}, nil)

			err := mustProber(t, S3Options{Proxy: proxyFunc, Guard: guard}).Probe(context.Background(), testTarget(tc.endpoint))

			checkFailure(t, err, tc.want)
			if got := proxy.hosts(); len(got) != 0 {
				t.Errorf("the proxy was asked %q, want nothing", got)
			}
		})
	}
}
