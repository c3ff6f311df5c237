package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/kratix-community/statestore-webhook/internal/server"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// apiServerName is the name the tests' API server client certificate carries.
const apiServerName = "kube-apiserver"

// TestServerRequiresClientCertificates is not parallel: it counts the requests that reach
// a handler in the process-wide metrics registry, which other tests' webhooks share.
func TestServerRequiresClientCertificates(t *testing.T) {
	trusted, other := newTestCA(t), newTestCA(t)
	apiServer := clientCert(t, trusted, apiServerName)
	w := startWebhookAs(t, &apiServer, "--client-ca-file="+trusted.CertFile, "--client-cert-names=kube-other,"+apiServerName)

	tests := map[string]struct {
		cert    *tls.Certificate
		wantErr string // empty: served
	}{
		"a client without a certificate is refused at the handshake": {
			wantErr: "remote error: tls: certificate required",
		},
		"a client with a certificate from another CA is refused at the handshake": {
			cert: ptr(clientCert(t, other, apiServerName)), wantErr: "remote error: tls: unknown certificate authority",
		},
		"a client whose certificate carries none of the names is refused at the handshake": {
			cert: ptr(clientCert(t, trusted, "somebody")), wantErr: "remote error: tls: bad certificate",
		},
		"the API server's certificate is served": {cert: &apiServer},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			before := handledRequests(t)
			status, err := postAs(w, tc.cert, storeReview(t))
			handled := handledRequests(t) - before
			if tc.wantErr == "" {
				if err != nil || status != 200 || handled != 1 {
					t.Fatalf("got HTTP %d, error %v and %v handled requests; want HTTP 200, no error, 1 handled request", status, err, handled)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got HTTP %d and error %v, want an error with %q", status, err, tc.wantErr)
			}
			if handled != 0 {
				t.Fatalf("%v requests reached a handler, want none", handled)
			}
		})
	}

	t.Run("a rotated CA file is picked up", func(t *testing.T) {
		writeFile(t, trusted.CertFile, string(other.CertPEM))
		fromOther := clientCert(t, other, apiServerName)
		var status int
		var postErr error
		if err := testkit.Poll(context.Background(), 20*time.Second, func(context.Context) (bool, error) {
			status, postErr = postAs(w, &fromOther, storeReview(t))
			return postErr == nil && status == 200, nil
		}); err != nil {
			t.Fatalf("a certificate from the new CA is still refused 20s after the rotation: HTTP %d, %v", status, postErr)
		}
		if _, err := postAs(w, &apiServer, storeReview(t)); err == nil || !strings.Contains(err.Error(), "remote error: tls: unknown certificate authority") {
			t.Fatalf("a certificate from the old CA got %v after the rotation, want it refused at the handshake", err)
		}
	})

	t.Run("an invalid CA file keeps the CAs read before", func(t *testing.T) {
		writeFile(t, trusted.CertFile, "not a certificate")
		time.Sleep(2 * server.ClientCACheckInterval)
		fromOther := clientCert(t, other, apiServerName)
		if status, err := postAs(w, &fromOther, storeReview(t)); err != nil || status != 200 {
			t.Fatalf("got HTTP %d, %v; want the CA read before to stay in use", status, err)
		}
	})
}

func TestServerWarnsWithoutClientAuthentication(t *testing.T) {
	t.Parallel()
	const warning = "client authentication is off (no --client-ca-file): anyone who can reach the webhook port can send admission reviews as any user"
	w := startWebhook(t)
	if n := strings.Count(w.logs.String(), warning); n != 1 {
		t.Fatalf("the warning %q is logged %d times, want once:\n%s", warning, n, w.logs.String())
	}
	ca := newTestCA(t)
	cert := clientCert(t, ca, apiServerName)
	w = startWebhookAs(t, &cert, "--client-ca-file="+ca.CertFile, "--client-cert-names="+apiServerName)
	if strings.Contains(w.logs.String(), warning) {
		t.Fatalf("the warning is logged although --client-ca-file is set:\n%s", w.logs.String())
	}
}

// postAs posts body to the validating webhook as a client with cert (none if nil) on a
// new connection and returns the HTTP status.
func postAs(w *testWebhook, cert *tls.Certificate, body []byte) (int, error) {
	c := w.tlsConfig()
	c.Certificates = nil
	if cert != nil {
		c.Certificates = []tls.Certificate{*cert}
	}
	conn, err := tls.Dial("tcp", w.addr, c)
	if err != nil {
		return 0, err
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(requestHead("POST", server.ValidatePath, "application/json", len(body)) + string(body))); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// handledRequests is the number of requests the webhook server's handlers have served
// in this process, by controller-runtime's count.
func handledRequests(t *testing.T) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, f := range families {
		if f.GetName() != "controller_runtime_webhook_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			n += m.GetCounter().GetValue()
		}
	}
	return n
}

func newTestCA(t *testing.T) *testkit.CA {
	t.Helper()
	ca, err := testkit.NewCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func clientCert(t *testing.T, ca *testkit.CA, cn string) tls.Certificate {
	t.Helper()
	cert, err := ca.ClientCert(cn)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func ptr[T any](v T) *T { return &v }
