package integration

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/internal/localenv"
	"github.com/kratix-community/statestore-webhook/pkg/probe"
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

// TestAnEndpointThatHoldsItsProbesCannotStarveTheOthers is issue 18's probe starvation:
// an endpoint that answers at once but never answers the abort of the write check keeps
// each probe's slot for the clean-up's 2 s. Hammered with dry-run stores through the API
// server by many clients at once (a bounded number, for a bounded time), it gets only its
// share of the slots: some of its stores are denied Busy for that endpoint, and stores at
// MinIO sent meanwhile are all admitted.
func TestAnEndpointThatHoldsItsProbesCannotStarveTheOthers(t *testing.T) {
	const (
		hammers   = 96 // three times the webhook's default --max-concurrent-probes
		perHammer = 4  // stores each sends, one after the other
		legit     = 8
	)
	logWebhookOnFailure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h, err := localenv.StartHoldingAbort()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Stop() })

	var wg sync.WaitGroup
	hostile := make([][]error, hammers)
	for w := range hammers {
		hostile[w] = make([]error, perHammer)
		wg.Go(func() {
			for i := range perHammer {
				s := hostileStore(fmt.Sprintf("holding-%d-%d", w, i), h.Endpoint)
				s.Spec.Path = fmt.Sprintf("holding/%d/%d", w, i) // distinct probes, none merged or cached
				hostile[w][i] = k8sClient.Create(ctx, s, client.DryRunAll)
			}
		})
	}
	// The endpoint holds its share of aborts: from here on it keeps every slot it may.
	for range probe.PerEndpointLimit(probe.DefaultMaxConcurrent) {
		select {
		case <-h.Held():
		case <-ctx.Done():
			t.Fatalf("the holding endpoint never got its share of probes: %v", ctx.Err())
		}
	}
	admitted := make([]error, legit)
	var legitWG sync.WaitGroup
	for i := range legit {
		s := hostileStore(fmt.Sprintf("beside-holding-%d", i), fixtures.Endpoint)
		s.Spec.Path = fmt.Sprintf("beside-holding/%d", i)
		s.Spec.Insecure = new(bool)
		legitWG.Go(func() { admitted[i] = k8sClient.Create(ctx, s, client.DryRunAll) })
	}
	legitWG.Wait()
	wg.Wait()

	for i, err := range admitted {
		if err != nil {
			t.Errorf("store %d at MinIO while the endpoint held its probes: %v", i, err)
		}
	}
	counts := map[string]int{}
	for _, errs := range hostile {
		for _, err := range errs {
			switch {
			case err == nil:
				counts["admitted"]++
			case apierrors.IsInvalid(err) && containsAll(err.Error(), []string{"against one endpoint", `"` + h.Endpoint + `" has that many running`, "(reason: Busy)"}):
				counts["Busy for its endpoint"]++
			case apierrors.IsInvalid(err) && strings.Contains(err.Error(), "(reason: Timeout)"):
				counts["Timeout"]++ // a slot that came free just before its budget ran out
			default:
				counts["other"]++
				t.Errorf("a store at the holding endpoint: %v", err)
			}
		}
	}
	if counts["Busy for its endpoint"] == 0 {
		t.Errorf("the holding endpoint's stores ended %v, want some denied Busy for their endpoint", counts)
	}
	t.Logf("the holding endpoint's %d stores ended %v", hammers*perHammer, counts)
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
