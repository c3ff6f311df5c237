package integration

import (
	"bufio"
	"context"
	"crypto/tls"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
	"github.com/kratix-community/statestore-webhook/internal/server"
)

// TestWebhookServesOnlyTheAPIServer: the suite's webhook requires the client certificate
// the API server presents through its AdmissionConfiguration. A client without one, or
// with one from another CA, is refused at the TLS handshake and no handler runs, while
// the API server's calls are answered.
func TestWebhookServesOnlyTheAPIServer(t *testing.T) {
	ctx := context.Background()
	other, err := localenv.NewCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fromOther, err := other.ClientCert(localenv.APIServerClientName)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		cert    *tls.Certificate
		wantErr string
	}{
		"a client without a certificate is refused":              {wantErr: "remote error: tls: certificate required"},
		"a client with a certificate from another CA is refused": {cert: &fromOther, wantErr: "remote error: tls: unknown certificate authority"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			before := handledRequests(t)
			c := env.CA.TLSConfig()
			if tc.cert != nil {
				c.Certificates = []tls.Certificate{*tc.cert}
			}
			err := postReview(env.Webhook.URL(""), c)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("posting a review got error %v, want one with %q", err, tc.wantErr)
			}
			if handled := handledRequests(t) - before; handled != 0 {
				t.Errorf("%d requests reached a handler, want none", handled)
			}
		})
	}

	t.Run("the API server's calls are served", func(t *testing.T) {
		before := handledRequests(t)
		store := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "platform.kratix.io/v1alpha1",
			"kind":       "BucketStateStore",
			"metadata":   map[string]any{"name": "client-auth-check"},
			"spec":       map[string]any{"bucketName": fixtures.Bucket, "endpoint": fixtures.Endpoint, "authMethod": "accessKey"},
		}}
		// Denied by the validating webhook (no secretRef) after the mutating one ran.
		err := k8sClient.Create(ctx, store, client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), `denied the request`) {
			t.Errorf("dry-run create got %v, want the webhook's denial", err)
		}
		if handled := handledRequests(t) - before; handled != 2 {
			t.Errorf("%d requests reached a handler, want 2 (mutating and validating)", handled)
		}
	})
}

// postReview posts an empty review to the validating webhook at baseURL on a new
// connection and reads the answer.
func postReview(baseURL string, c *tls.Config) error {
	conn, err := tls.Dial("tcp", strings.TrimPrefix(baseURL, "https://"), c)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	const body = `{}`
	head := "POST " + server.ValidatePath + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	if _, err := conn.Write([]byte(head + body)); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// handledRequests is the number of requests the webhook's handlers have served, by its
// controller_runtime_webhook_requests_total metric.
func handledRequests(t *testing.T) int {
	t.Helper()
	text, err := env.Webhook.Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "controller_runtime_webhook_requests_total{") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		n += int(v)
	}
	return n
}

// webhookTLS is a client configuration that trusts the webhook and presents the client
// certificate it requires.
func webhookTLS(t *testing.T) *tls.Config {
	t.Helper()
	c, err := env.Webhook.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	return c
}
