package integration

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
	"github.com/kratix-community/statestore-webhook/pkg/admission"
)

// TestProbeViaProxy runs the webhook with --probe-via-proxy, HTTPS_PROXY and HTTP_PROXY
// naming a proxy that alone knows the way to MinIO, and loopback denied to the guard.
// A store whose endpoint only the proxy can reach is admitted through it, although the
// proxy itself listens on a denied address; a store that the environment's NO_PROXY
// rules send direct (loopback) is still refused by the guard.
func TestProbeViaProxy(t *testing.T) {
	const viaProxy = "198.51.100.7:9000" // TEST-NET-2: reachable only through the proxy
	ctx := context.Background()
	proxy, err := localenv.StartRoutingProxy(fixtures.InsecureEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Stop() })
	retiredWebhookOutput.record(env.Webhook.Output.String())
	if err := env.RestartWebhookWithEnv(ctx, []string{"HTTPS_PROXY=" + proxy.URL, "HTTP_PROXY=" + proxy.URL, "NO_PROXY="},
		append(slices.Clone(webhookArgs), "--probe-via-proxy", "--deny-cidrs=127.0.0.0/8,::1/128")...); err != nil {
		t.Fatalf("restarting the webhook with --probe-via-proxy: %v", err)
	}
	t.Cleanup(func() {
		retiredWebhookOutput.record(env.Webhook.Output.String())
		if err := env.RestartWebhook(ctx, webhookArgs...); err != nil {
			t.Fatalf("restarting the webhook for the tests after this one: %v", err)
		}
	})
	logWebhookOnFailure(t)

	runScenarios(t, map[string]scenario{
		"a store whose endpoint only the proxy reaches is admitted through it": {
			yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: ` + viaProxy + `
  insecure: true
  path: via-proxy
  secretRef:
    name: {{.Secret}}
`),
			wantStderr: []string{admission.WarningInsecure},
		},
		"a loopback endpoint is still refused by the guard": {
			yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: {{.InsecureEndpoint}}
  insecure: true
  secretRef:
    name: {{.Secret}}
`),
			wantExit:   1,
			wantStderr: []string{`spec.endpoint: Invalid value: "{{.InsecureEndpoint}}": endpoint "127.0.0.1" is refused: denied range 127.0.0.0/8`, "(reason: EndpointForbidden)"},
		},
	})
	if asked := strings.Join(proxy.Asked(), "\n"); !strings.Contains(asked, "GET "+viaProxy) {
		t.Errorf("the proxy was asked:\n%s\nwant the probe's requests for %s", asked, viaProxy)
	}
	for _, a := range proxy.Asked() {
		if !strings.HasSuffix(a, " "+viaProxy) {
			t.Errorf("the proxy was asked %q, want only requests for %s", a, viaProxy)
		}
	}
}
