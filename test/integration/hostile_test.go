package integration

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kratix-community/bucketstatestore-webhook/api/v1alpha1"
	"github.com/kratix-community/bucketstatestore-webhook/internal/localenv"
)

// TestHostileEndpointsCannotExhaustTheWebhook sends many stores at once through the API
// server, each naming its own local endpoint that streams an endless answer to one of
// the probe's requests. Every one is denied as ResponseTooLarge, which the probe can only
// say before its budget runs out (after it, the reason would be Timeout); a valid store
// is admitted meanwhile; and the webhook process lives on.
func TestHostileEndpointsCannotExhaustTheWebhook(t *testing.T) {
	const stores = 24
	logWebhookOnFailure(t)
	ctx := context.Background()
	pid := env.Webhook.PID()
	kinds := localenv.HostileKinds()

	var wg sync.WaitGroup
	denials := make([]error, stores)
	endpoints := make([]string, stores)
	for i := range stores {
		kind := kinds[i%len(kinds)]
		h, err := localenv.StartHostile(kind)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = h.Stop() })
		endpoints[i] = h.Endpoint
		s := hostileStore(fmt.Sprintf("hostile-%d", i), endpoints[i])
		wg.Go(func() { denials[i] = k8sClient.Create(ctx, s) })
	}
	valid := hostileStore("hostile-flood-valid", fixtures.Endpoint)
	valid.Spec.Path = "hostile-flood"
	valid.Spec.Insecure = new(bool)
	if err := k8sClient.Create(ctx, valid); err != nil {
		t.Errorf("a valid store during the flood: %v", err)
	} else {
		t.Cleanup(func() { _ = k8sClient.Delete(ctx, valid) })
	}
	wg.Wait()

	for i, err := range denials {
		kind := kinds[i%len(kinds)]
		want := []string{`spec.endpoint: Invalid value: "` + endpoints[i] + `"`, "answered with more than 64 KiB", "(reason: ResponseTooLarge)"}
		if !apierrors.IsInvalid(err) || !containsAll(err.Error(), want) {
			t.Errorf("store %d (%s): got %v, want a 422 with %q", i, kind, err, want)
		}
	}
	if got := env.Webhook.PID(); got != pid {
		t.Errorf("the webhook's PID is %d, want %d: it was restarted", got, pid)
	}
	if exited, code := env.Webhook.Exited(); exited {
		t.Fatalf("the webhook exited with code %d during the flood", code)
	}
	if code, err := env.Webhook.Health(ctx, "/healthz"); err != nil || code != http.StatusOK {
		t.Errorf("/healthz after the flood: %d, %v; want 200", code, err)
	}
	t.Logf("webhook RSS after %d hostile stores at once: %d KiB (make bench's flood figure measures the peak)", stores, residentKiB(t, pid))
}

func hostileStore(name, endpoint string) *v1alpha1.BucketStateStore {
	insecure := true
	return &v1alpha1.BucketStateStore{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.BucketStateStoreSpec{
			BucketName: fixtures.Bucket,
			Endpoint:   endpoint,
			Insecure:   &insecure,
			StateStoreCoreFields: v1alpha1.StateStoreCoreFields{
				SecretRef: &corev1.SecretReference{Name: fixtures.Secret, Namespace: "default"},
			},
		},
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
