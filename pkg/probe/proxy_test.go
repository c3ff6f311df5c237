package probe

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
)

// startProxy starts a localenv.RoutingProxy to upstream until the test ends and returns
// it with a Proxy function that sends every request through it.
func startProxy(t *testing.T, upstream string) (*localenv.RoutingProxy, func(*http.Request) (*url.URL, error)) {
	t.Helper()
	p, err := localenv.StartRoutingProxy(upstream)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop() })
	u, err := url.Parse(p.URL)
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
		if got := proxy.Asked(); len(got) == 0 || got[0] != "CONNECT "+endpoint {
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
		if got := proxy.Asked(); len(got) != 4 || got[0] != "GET 198.51.100.7:9000" {
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
		"the kubelet's port is refused before the proxy is asked": {
			endpoint: "localhost:10250",
			want: &Failure{Reason: ReasonEndpointForbidden,
				Message: `endpoint "localhost" is refused: port 10250 belongs to the cluster's control plane (kubelet)`},
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
			if got := proxy.Asked(); len(got) != 0 {
				t.Errorf("the proxy was asked %q, want nothing", got)
			}
		})
	}
}

// TestS3ProberThroughAProxyRefusesTheAPIServer checks the port-aware rules where only
// the proxy would connect: a name that resolves to the API server's address is refused
// at the API server's port, before the proxy is asked.
func TestS3ProberThroughAProxyRefusesTheAPIServer(t *testing.T) {
	proxy, proxyFunc := startProxy(t, closedPort(t))
	guard := mustGuardWith(t, nil, nil, []string{"127.0.0.1:6443", "[::1]:6443"}, false)

	err := mustProber(t, S3Options{Proxy: proxyFunc, Guard: guard}).Probe(context.Background(), testTarget("localhost:6443"))

	var f *Failure
	if !errors.As(err, &f) || f.Reason != ReasonEndpointForbidden ||
		!strings.HasPrefix(f.Message, `endpoint "localhost" is refused: it resolves to `) ||
		!strings.HasSuffix(f.Message, `:6443 belongs to the cluster's control plane`) {
		t.Errorf("got %v, want the API server refused as what localhost resolves to", err)
	}
	if got := proxy.Asked(); len(got) != 0 {
		t.Errorf("the proxy was asked %q, want nothing", got)
	}
}

// TestS3ProberThroughAProxyRefusesShorthandAddresses: the guard reads "127.1" as
// 127.0.0.1, but the proxy resolves it itself, perhaps as glibc does, to its own
// loopback, and NO_PROXY's "127.0.0.1" never matched it. Through a proxy, only the usual
// spelling of an address is sent; the guard's default rules (loopback allowed) apply.
func TestS3ProberThroughAProxyRefusesShorthandAddresses(t *testing.T) {
	tests := map[string]struct{ endpoint, means string }{
		"two parts are refused":                         {endpoint: "127.1:9000", means: "127.0.0.1"},
		"one decimal part is refused":                   {endpoint: "2130706433:9000", means: "127.0.0.1"},
		"one hexadecimal part is refused":               {endpoint: "0x7f000001:9000", means: "127.0.0.1"},
		"octal parts are refused":                       {endpoint: "0177.0.0.1:9000", means: "127.0.0.1"},
		"a leading zero is refused":                     {endpoint: "010.0.0.1:9000", means: "8.0.0.1"},
		"a shorthand public address is refused as well": {endpoint: "3325256705:9000", means: "198.51.100.1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			proxy, proxyFunc := startProxy(t, closedPort(t))
			host, _, _ := strings.Cut(tc.endpoint, ":")

			err := mustProber(t, S3Options{Proxy: proxyFunc}).Probe(context.Background(), testTarget(tc.endpoint))

			checkFailure(t, err, &Failure{Reason: ReasonEndpointForbidden,
				Message: `endpoint "` + host + `" is refused: it means ` + tc.means + ", " + shorthandViaProxy})
			if got := proxy.Asked(); len(got) != 0 {
				t.Errorf("the proxy was asked %q, want nothing", got)
			}
		})
	}
}
