package integration

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// TestLifecycle covers what happens to a stored store after its creation.
func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	newStore := func(t *testing.T, secret string) *v1alpha1.BucketStateStore {
		t.Helper()
		s := &v1alpha1.BucketStateStore{
			ObjectMeta: metav1.ObjectMeta{Name: storeName(t.Name())},
			Spec: v1alpha1.BucketStateStoreSpec{
				BucketName: fixtures.Bucket,
				Endpoint:   fixtures.Endpoint,
				StateStoreCoreFields: v1alpha1.StateStoreCoreFields{
					SecretRef: &corev1.SecretReference{Name: secret},
				},
			},
		}
		if err := k8sClient.Create(ctx, s); err != nil {
			t.Fatalf("creating a working store: %v", err)
		}
		t.Cleanup(func() { _ = k8sClient.Delete(ctx, s) })
		return s
	}

	t.Run("a store that would now be denied can still be deleted", func(t *testing.T) {
		logWebhookOnFailure(t)
		const secret = "lifecycle-credentials"
		if err := createSecret(ctx, secret, credentials(writerAccessKey, writerSecretKey)); err != nil {
			t.Fatal(err)
		}
		s := newStore(t, secret)
		// Without its Secret the store would be denied on CREATE or UPDATE.
		if err := k8sClient.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secret, Namespace: "default"}}); err != nil {
			t.Fatal(err)
		}
		res := kubectl(t, "", "delete", "bucketstatestore", s.Name)
		if res.Exit != 0 || !strings.Contains(res.Stdout, "deleted") {
			t.Errorf("kubectl delete exited %d: %s%s", res.Exit, res.Stdout, res.Stderr)
		}
		if got := storedVersion(t, "bucketstatestore", s.Name); got != "" {
			t.Errorf("the store is still stored after kubectl delete (resourceVersion %s)", got)
		}
	})

	t.Run("a changed Secret is not answered from the probe cache", func(t *testing.T) {
		logWebhookOnFailure(t)
		const secret = "rotated-credentials"
		if err := createSecret(ctx, secret, credentials(writerAccessKey, writerSecretKey)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = k8sClient.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secret, Namespace: "default"}})
		})
		f := fixtures
		f.Name = storeName(t.Name())
		doc := render(t, store(`
  bucketName: {{.Bucket}}
  endpoint: {{.Endpoint}}
  secretRef:
    name: `+secret+`
`), f)
		if res := kubectl(t, doc, "apply", "--dry-run=server", "-f", "-"); res.Exit != 0 {
			t.Fatalf("with the right key: kubectl apply --dry-run=server exited %d: %s", res.Exit, res.Stderr)
		}
		var s corev1.Secret
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: secret, Namespace: "default"}, &s); err != nil {
			t.Fatal(err)
		}
		s.Data[v1alpha1.SecretKeySecretAccessKey] = []byte(wrongSecretKey)
		if err := k8sClient.Update(ctx, &s); err != nil {
			t.Fatal(err)
		}
		res := kubectl(t, doc, "apply", "--dry-run=server", "-f", "-")
		if want := "(reason: SignatureDoesNotMatch)"; res.Exit != 1 || !strings.Contains(res.Stderr, want) {
			t.Errorf("after the Secret changed: kubectl apply --dry-run=server exited %d with %q, want 1 with %q", res.Exit, res.Stderr, want)
		}
	})

	t.Run("a status update does not reach the webhooks", func(t *testing.T) {
		logWebhookOnFailure(t)
		s := newStore(t, fixtures.Secret)
		before := webhookRequests(t)
		s.Status.Status = "Ready"
		s.Status.ObservedGeneration = s.Generation
		s.Status.Conditions = []metav1.Condition{{
			Type: "Ready", Status: metav1.ConditionTrue, Reason: "StateStoreReady",
			Message: "written by the test", LastTransitionTime: metav1.Now(),
		}}
		if err := k8sClient.Status().Update(ctx, s); err != nil {
			t.Fatalf("updating the status: %v", err)
		}
		if after := webhookRequests(t); after != before {
			t.Errorf("the webhooks served %d requests during a status update, want none", after-before)
		}
		// A spec update right after does reach them, so the counter can move.
		s.Spec.Path = "destinations/"
		if err := k8sClient.Update(ctx, s); err != nil {
			t.Fatalf("updating the spec: %v", err)
		}
		// The server counts a request once its answer is written, a moment after the
		// API server may have read it.
		var after int
		_ = testkit.Poll(ctx, 5*time.Second, func(context.Context) (bool, error) {
			after = webhookRequests(t)
			return after >= before+2, nil
		})
		if after != before+2 {
			t.Errorf("the webhooks served %d requests during a spec update, want 2 (mutate and validate)", after-before)
		}
	})
}

var webhookRequestsLine = regexp.MustCompile(`(?m)^controller_runtime_webhook_requests_total\{[^}]*\} (\d+)$`)

// webhookRequests returns how many admission requests the webhook server has served,
// from its metrics.
func webhookRequests(t *testing.T) int {
	t.Helper()
	text, err := env.Webhook.Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, m := range webhookRequestsLine.FindAllStringSubmatch(text, -1) {
		n, err := strconv.Atoi(m[1])
		if err != nil {
			t.Fatalf("metrics line %q: %v", m[0], err)
		}
		total += n
	}
	if total == 0 {
		t.Fatalf("the webhook's metrics show no controller_runtime_webhook_requests_total; they are:\n%s", text)
	}
	return total
}
