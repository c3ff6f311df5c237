package integration

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kratix-community/statestore-webhook/internal/server"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// The connection flood: sockets that never start a handshake, then TLS connections that
// finish one (with the API server's own client certificate, the worst case; without
// client authentication anyone can) and stay idle. Both are more than the webhook's
// default limits hold, and bounded so the test stays short on loopback.
const (
	floodRaw  = 2000
	floodIdle = 600
)

// TestConnectionFloodBesideAdmissions floods the suite's webhook from another loopback
// address while stores are created (dry run) through the API server, and checks that
// every verdict is right, that the webhook held no more connections than its limits, and
// that it logged the connections it closed summarised, not one line each.
func TestConnectionFloodBesideAdmissions(t *testing.T) {
	logWebhookOnFailure(t)
	ctx := context.Background()
	pid := env.Webhook.PID()
	mark := env.Webhook.Output.Len()
	before := webhookMetrics(t)
	u, err := url.Parse(env.Webhook.URL("/"))
	if err != nil {
		t.Fatal(err)
	}
	tlsConfig, err := env.Webhook.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	tlsConfig.ServerName = u.Hostname()

	began := time.Now()
	done := make(chan *testkit.Flood, 1)
	go func() { done <- testkit.StartFlood(ctx, u.Host, floodRaw, floodIdle, tlsConfig) }()
	var flood *testkit.Flood
	rounds := 0
	for ; flood == nil || rounds < 3; rounds++ {
		valid := hostileStore(fmt.Sprintf("flood-valid-%d", rounds), fixtures.Endpoint)
		valid.Spec.Insecure = new(bool)
		valid.Spec.Path = "flood"
		if err := k8sClient.Create(ctx, valid, client.DryRunAll); err != nil {
			t.Errorf("round %d: a valid store during the flood: %v", rounds, err)
		}
		missing := hostileStore(fmt.Sprintf("flood-missing-%d", rounds), fixtures.Endpoint)
		missing.Spec.Insecure = new(bool)
		missing.Spec.BucketName = fixtures.MissingBucket
		if err := k8sClient.Create(ctx, missing, client.DryRunAll); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "(reason: BucketNotFound)") {
			t.Errorf("round %d: a store naming a missing bucket during the flood: got %v, want a 422 with reason BucketNotFound", rounds, err)
		}
		if flood == nil {
			select {
			case flood = <-done:
			default:
			}
		}
	}
	defer flood.Close()
	after := webhookMetrics(t)
	t.Logf("%d rounds beside a flood of %d sockets and %d idle TLS connections (%d failed, the first with %v)", rounds, flood.Raw.Load(), flood.Idle.Load(), flood.Failed.Load(), flood.FirstErr())

	if got := env.Webhook.PID(); got != pid {
		t.Errorf("the webhook's PID is %d, want %d: it was restarted", got, pid)
	}
	limits := server.DefaultConnLimits
	if n := after.Sum("statestore_webhook_connections", "state", server.ConnStateEstablished); n > float64(limits.MaxConns) {
		t.Errorf("the webhook holds %v established connections, more than its limit of %d", n, limits.MaxConns)
	}
	if n := after.Sum("statestore_webhook_connections", "state", server.ConnStateHandshake); n > float64(limits.MaxHandshakes) {
		t.Errorf("the webhook holds %v connections in their handshake, more than its limit of %d", n, limits.MaxHandshakes)
	}
	closed := func(reason string) float64 {
		return after.Sum("statestore_webhook_connections_closed_total", "reason", reason) -
			before.Sum("statestore_webhook_connections_closed_total", "reason", reason)
	}
	// Past the limits, the flood's connections made room for each other.
	if n := closed(server.ConnClosedHandshakeEvicted); n == 0 {
		t.Errorf("handshake_evicted did not grow: %d sockets that never handshake were not evicted past --max-handshakes=%d", floodRaw, limits.MaxHandshakes)
	}
	if flood.Idle.Load() <= int64(limits.MaxConns) {
		t.Errorf("only %d of the flood's %d TLS connections were established (first error: %v), too few to test --max-connections=%d", flood.Idle.Load(), floodIdle, flood.FirstErr(), limits.MaxConns)
	}
	if n := closed(server.ConnClosedIdleEvicted); n == 0 {
		t.Errorf("idle_evicted did not grow: %d idle connections were not evicted past --max-connections=%d", flood.Idle.Load(), limits.MaxConns)
	}
	// Thousands of closed connections, and the log says so in one line at once and then
	// at most one a ConnLogInterval, not a line each.
	most := 2 + int(time.Since(began)/server.ConnLogInterval)
	lines := strings.Count(env.Webhook.Output.Since(mark), "closed connections before serving them")
	if lines < 1 || lines > most {
		t.Errorf("the webhook logged %d lines about closed connections, want 1 to %d", lines, most)
	}
}

// webhookMetrics reads the suite's webhook's /metrics.
func webhookMetrics(t *testing.T) testkit.Metrics {
	t.Helper()
	text, err := env.Webhook.Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m, err := testkit.ParseMetrics(text)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
