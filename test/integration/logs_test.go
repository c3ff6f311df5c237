package integration

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kratix-community/statestore-webhook/internal/server"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
	"github.com/kratix-community/statestore-webhook/internal/text"
)

// TestLogsCarryNoEchoedCredentials names, through the API server, an endpoint that
// answers every request but a HEAD with an S3 error whose message echoes the probe's Authorization
// header, as a hostile or careless endpoint can. The webhook logs the failed probe with
// the endpoint's error; the log must show that something was taken out, and not the
// access key ID in its credential.
func TestLogsCarryNoEchoedCredentials(t *testing.T) {
	logWebhookOnFailure(t)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			return // the bucket exists: the probe goes on to requests whose errors have a body
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidArgument</Code><Message>you sent Authorization: %s</Message><RequestId>1</RequestId></Error>`,
			html.EscapeString(r.Header.Get("Authorization")))
	}))
	t.Cleanup(echo.Close)
	mark := env.Webhook.Output.Len()

	store := hostileStore("logs-echo", echo.Listener.Addr().String())
	if err := k8sClient.Create(context.Background(), store, client.DryRunAll); err == nil {
		t.Fatal("a store whose endpoint answers every request with an error was admitted")
	}
	logged := env.Webhook.Output.SinceOnceContains(t.Context(), mark, "Authorization: "+text.Redacted, 10*time.Second)
	if !strings.Contains(logged, "Authorization: "+text.Redacted) {
		t.Errorf("the webhook's log does not show the echoed Authorization header redacted:\n%s", logged)
	}
	if strings.Contains(logged, "Credential="+writerAccessKey) {
		t.Errorf("the webhook's log carries the access key ID the endpoint echoed:\n%s", logged)
	}
}

// TestLogsAreBoundedWhateverTheRequest posts a forged review, as anyone holding a client
// certificate (or anyone at all, without client authentication) can, naming a store
// with a 3 MiB name whose probe fails, so that the webhook logs the name. Every line
// must stay small, and still show the name's start.
func TestLogsAreBoundedWhateverTheRequest(t *testing.T) {
	logWebhookOnFailure(t)
	name := strings.Repeat("n", 3<<20)
	store := hostileStore(name, fixtures.ClosedEndpoint)
	body, err := testkit.Review{
		UID:       "forged-huge-name",
		Operation: admissionv1.Create,
		User:      authenticationv1.UserInfo{Username: "kubernetes-admin", Groups: []string{"system:masters"}},
		Object:    testkit.StoreJSON(store),
	}.JSON()
	if err != nil {
		t.Fatal(err)
	}
	mark := env.Webhook.Output.Len()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: webhookTLS(t)}}
	resp, err := c.Post(env.Webhook.URL(server.ValidatePath), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()

	logged := env.Webhook.Output.SinceOnceContains(t.Context(), mark, strings.Repeat("n", 100), 10*time.Second)
	if !strings.Contains(logged, strings.Repeat("n", 100)) {
		t.Fatalf("the webhook did not log the forged name at all:\n%.2000s", logged)
	}
	// A line holds a handful of values, each cut to text.MaxLogValue.
	const maxLine = 16 * text.MaxLogValue
	for line := range strings.Lines(logged) {
		if len(line) > maxLine {
			t.Errorf("a log line is %d bytes, more than %d: %.300s...", len(line), maxLine, line)
		}
	}
}
