package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// The second MinIO user the guarded Secret is rotated to and from.
const rotatedAccessKey, rotatedSecretKey = "bench-rotated", "bench-rotated-secret"

// measureSecretGuard is what the Secret guard costs a Secret UPDATE through the API
// server, three Secrets side by side, interleaved: a credentials Secret a store uses,
// rotated between two valid key pairs (it reaches the guard, which probes the store with
// the new values, from the cache after the first two rounds); a Secret without any
// credentials key that gets the same kind of update (the webhook's matchConditions filter it
// out); and such a Secret that the objectSelector keeps from the guard altogether (the
// baseline: no webhook considered).
func measureSecretGuard(ctx context.Context, b *benchEnv, o options, r *Report) error {
	s := r.Section(fmt.Sprintf("Secret guard: client-go UPDATE of a Secret through the API server, one at a time (%d interleaved rounds)", o.apiPairs),
		"ours", "baseline")
	if err := route(ctx, b, b.Buckets); err != nil {
		return err
	}
	if err := b.MinIO.CreateUser(ctx, rotatedAccessKey, rotatedSecretKey, "readwrite"); err != nil {
		return err
	}
	guarded := types.NamespacedName{Namespace: "default", Name: "bench-guarded-credentials"}
	keys := [2]map[string]string{
		{v1alpha1.SecretKeyAccessKeyID: accessKey, v1alpha1.SecretKeySecretAccessKey: secretKey},
		{v1alpha1.SecretKeyAccessKeyID: rotatedAccessKey, v1alpha1.SecretKeySecretAccessKey: rotatedSecretKey},
	}
	// A key none of the store kinds' credentials use: "password" is a GitStateStore's, so
	// a Secret holding it reaches the guard.
	plain := [2]map[string]string{{"token": "bench-token-1"}, {"token": "bench-token-2"}}
	if err := createBenchSecret(ctx, b, guarded.Name, "", keys[0]); err != nil {
		return err
	}
	if err := createBenchSecret(ctx, b, "bench-filtered", "", plain[0]); err != nil {
		return err
	}
	if err := createBenchSecret(ctx, b, "bench-unrouted", routeNone, plain[0]); err != nil {
		return err
	}
	store := accessKeyStore("bench-secretguard", b.MinIO.Endpoint, bucket, "secretguard", guarded)
	if err := b.KubeClient.Create(ctx, store); err != nil {
		return fmt.Errorf("creating the store that uses %s: %w", guarded, err)
	}
	// The guard learns the store from its cache: wait until a dry-run delete of the
	// Secret reaches it and finds the store (the guard's counter of warned answers grows).
	if err := waitForGuardedStore(ctx, b, guarded); err != nil {
		return err
	}

	update := func(side, name string, values [2]map[string]string, i int) func() *Run {
		return func() *Run {
			run := NewRun(side)
			secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}}
			patch := client.RawPatch(types.MergePatchType, []byte(stringData(values[i%2])))
			start := time.Now()
			err := b.KubeClient.Patch(ctx, secret, patch)
			d := time.Since(start)
			run.Record(d, err)
			run.SetElapsed(d)
			return run
		}
	}
	round := func(i int) []*Run {
		sides := []func() *Run{
			update("reaches the guard", guarded.Name, keys, i),
			update("filtered out", "bench-filtered", plain, i),
			update("no webhook", "bench-unrouted", plain, i),
		}
		runs := make([]*Run, len(sides))
		for j := range sides { // each side goes first in turn
			k := (i + j) % len(sides)
			runs[k] = sides[k]()
		}
		return runs
	}
	for i := range 4 { // warm the probe cache with both key pairs, and the connections
		r.CheckRuns("secret guard, warm-up", round(i+1)...)
	}
	before, err := scrape(ctx, b.Webhook)
	if err != nil {
		return err
	}
	var reached, filtered Pairs
	for i := range o.apiPairs {
		runs := round(i)
		r.CheckRuns(fmt.Sprintf("secret guard, round %d", i+1), runs...)
		reached.Add(latency(runs[0].Percentile(50)), latency(runs[1].Percentile(50)))
		filtered.Add(latency(runs[1].Percentile(50)), latency(runs[2].Percentile(50)))
	}
	after, err := scrape(ctx, b.Webhook)
	if err != nil {
		return err
	}
	// Only the guarded Secret's updates may reach the guard, each admitted quietly.
	calls := after.Sum("statestore_webhook_admissions_total", "webhook", "secretguard") -
		before.Sum("statestore_webhook_admissions_total", "webhook", "secretguard")
	if int(calls) != o.apiPairs {
		r.Fail("secret guard: the guard answered %.0f requests, want %d (one per update of the guarded Secret)", calls, o.apiPairs)
	}

	s.Add(Row{Figure: "median, an UPDATE that reaches the guard vs the same UPDATE filtered out", Ours: fmtDurF(reached.Ours()), Base: fmtDurF(reached.Base()), Ratio: reached.Ratio()})
	s.Add(Row{Figure: "median, an UPDATE filtered out vs no webhook considered", Ours: fmtDurF(filtered.Ours()), Base: fmtDurF(filtered.Base()), Ratio: filtered.Ratio(), Target: "<= 1.10x", Met: atMost(filtered.Ratio(), 1.1)})
	s.Note("the guarded update rotates a store's Secret between two valid key pairs, so each reaches the guard and its probe of the store is answered by the probe cache")
	s.Note("filtered out: a Secret holding none of the credentials keys the webhook's matchConditions look for, which they skip; no webhook: the same Secret kind labelled %s=%s, which the objectSelector skips", routeLabel, routeNone)
	return nil
}

// createBenchSecret creates a Secret in default with data, labelled for route when it
// is not empty.
func createBenchSecret(ctx context.Context, b *benchEnv, name, route string, data map[string]string) error {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}, StringData: data}
	if route != "" {
		secret.Labels = map[string]string{routeLabel: route}
	}
	if err := b.KubeClient.Create(ctx, secret); err != nil {
		return fmt.Errorf("creating Secret %s: %w", name, err)
	}
	return nil
}

// waitForGuardedStore waits until a dry-run delete of the Secret gets the guard's
// warning, which it gives once its cache holds a store that uses the Secret.
func waitForGuardedStore(ctx context.Context, b *benchEnv, secret types.NamespacedName) error {
	warnings := &warningCollector{}
	cfg := rest.CopyConfig(b.Kube.Config)
	cfg.WarningHandler = warnings
	c, err := newKubeClient(cfg)
	if err != nil {
		return err
	}
	var deleteErr error
	if err := testkit.Poll(ctx, 30*time.Second, func(ctx context.Context) (bool, error) {
		obj := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: secret.Namespace, Name: secret.Name}}
		if deleteErr = c.Delete(ctx, obj, client.DryRunAll); deleteErr != nil {
			return false, deleteErr
		}
		return warnings.seen.Load(), nil
	}); err != nil {
		if deleteErr != nil {
			return fmt.Errorf("dry-run delete of Secret %s: %w", secret, deleteErr)
		}
		return fmt.Errorf("the Secret guard did not find the store that uses Secret %s within 30s", secret)
	}
	return nil
}

// warningCollector notes that the API server sent a warning.
type warningCollector struct{ seen atomic.Bool }

func (w *warningCollector) HandleWarningHeader(_ int, _ string, _ string) { w.seen.Store(true) }

// stringData is a merge patch that sets data through stringData.
func stringData(data map[string]string) string {
	var b []byte
	b = append(b, `{"stringData":{`...)
	first := true
	for k, v := range data {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = fmt.Appendf(b, "%q:%q", k, v)
	}
	return string(append(b, "}}"...))
}
