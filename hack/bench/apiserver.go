package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/internal/localenv"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// routeLabel says which webhooks the API server calls for a store: the registered
// configurations get objectSelectors on it, so every side of the figure runs against the
// same API server, CRD and registrations, interleaved, and differs only in what the API
// server calls. No label: the webhook; "bare": the bare webhook, registered the same way;
// "none": no webhook at all.
const routeLabel = "bench.kratix-community.io/webhooks"

const (
	routeBare = "bare"
	routeNone = "none"
)

// measureAPIServer is what the webhooks add to a server-side dry-run create, the request
// Flux and `kubectl apply --dry-run=server` make: the same store with the webhooks called
// (defaulting, then validation with an access review, a Secret read and a cached probe)
// and with none called. The bare webhook registered in their place is the floor: what
// calling any two webhooks costs.
func measureAPIServer(ctx context.Context, b *benchEnv, o options, r *Report) error {
	s := r.Section(fmt.Sprintf("Through the API server: client-go dry-run create, one at a time, probe cached (%d interleaved rounds)", o.apiPairs),
		"webhooks called", "no webhook")
	if err := route(ctx, b); err != nil {
		return err
	}
	withWebhooks := func() *Run { return dryRunCreate(ctx, b, "webhooks called", "", true) }
	withBare := func() *Run { return dryRunCreate(ctx, b, "bare webhooks called", routeBare, false) }
	without := func() *Run { return dryRunCreate(ctx, b, "no webhook", routeNone, false) }
	for range 3 { // warm the probe cache, the connections and the API server's caches
		r.CheckRuns("through the API server, warm-up", withWebhooks(), withBare(), without())
	}
	webBefore, err := scrape(ctx, b.Webhook)
	if err != nil {
		return err
	}
	bareBefore, err := scrape(ctx, b.Bare)
	if err != nil {
		return err
	}
	var lat, floor Pairs
	var ours, base []*Run
	sides := []func() *Run{withWebhooks, withBare, without}
	for i := range o.apiPairs {
		runs := make([]*Run, len(sides))
		for j := range sides { // each side goes first in turn
			k := (i + j) % len(sides)
			runs[k] = sides[k]()
		}
		r.CheckRuns(fmt.Sprintf("through the API server, round %d", i+1), runs...)
		lat.Add(latency(runs[0].Percentile(50)), latency(runs[2].Percentile(50)))
		floor.Add(latency(runs[1].Percentile(50)), latency(runs[2].Percentile(50)))
		ours, base = append(ours, runs[0]), append(base, runs[2])
	}
	webAfter, err := scrape(ctx, b.Webhook)
	if err != nil {
		return err
	}
	bareAfter, err := scrape(ctx, b.Bare)
	if err != nil {
		return err
	}
	// Each create must have reached exactly the webhooks of its side. The objects
	// returned say whether the defaulting webhook ran; the counters confirm the rest.
	for _, hook := range []string{"mutate", "validate"} {
		n := webAfter.Sum("statestore_webhook_admissions_total", "webhook", hook, "result", "allowed") -
			webBefore.Sum("statestore_webhook_admissions_total", "webhook", hook, "result", "allowed")
		if int(n) != o.apiPairs {
			r.Fail("through the API server: the %s webhook admitted %.0f requests, want %d (one per create routed to it)", hook, n, o.apiPairs)
		}
	}
	bareCalls := bareAfter.Sum("controller_runtime_webhook_requests_total", "code", "200") -
		bareBefore.Sum("controller_runtime_webhook_requests_total", "code", "200")
	if int(bareCalls) != 2*o.apiPairs {
		r.Fail("through the API server: the bare webhook answered %.0f requests, want %d (two per create routed to it)", bareCalls, 2*o.apiPairs)
	}

	s.Add(Row{Figure: "median", Ours: fmtDurF(lat.Ours()), Base: fmtDurF(lat.Base()), Ratio: lat.Ratio(), Target: "<= 1.30x", Met: atMost(lat.Ratio(), 1.3)})
	p90o, p90b := pooledPercentile(ours, 90), pooledPercentile(base, 90)
	s.Add(Row{Figure: "p90", Ours: fmtDur(p90o), Base: fmtDur(p90b), Ratio: ratio(float64(p90o), float64(p90b))})
	s.Add(Row{Figure: "median, bare webhooks called instead", Ours: fmtDurF(floor.Ours()), Base: fmtDurF(floor.Base()), Ratio: floor.Ratio()})
	s.Note("the bare-webhook row is the floor: the API server calling two webhooks that admit at once, registered like ours")
	s.Note("the stores are routed by objectSelectors on the label %s added to the registered configurations", routeLabel)
	return nil
}

// apiStore is the store as a user applies it: no defaults filled in, so the defaulting
// webhook has something to do, and a path of its own in the probe cache. A route sends it
// to other webhooks, or none.
func apiStore(b *benchEnv, route string) *v1alpha1.BucketStateStore {
	s := accessKeyStore("bench-apiserver", b.MinIO.Endpoint, bucket, "apiserver", benchSecret)
	s.Spec.Insecure = nil
	s.Spec.AuthMethod = ""
	s.Spec.SecretRef.Namespace = ""
	if route != "" {
		s.Name += "-" + route
		s.Labels = map[string]string{routeLabel: route}
	}
	return s
}

// dryRunCreate times one dry-run create and checks from the object returned whether the
// defaulting webhook ran, as it must when the store is routed to it and only then.
func dryRunCreate(ctx context.Context, b *benchEnv, side, route string, wantDefaulted bool) *Run {
	run := NewRun(side)
	obj := apiStore(b, route)
	start := time.Now()
	err := b.KubeClient.Create(ctx, obj, client.DryRunAll)
	d := time.Since(start)
	if defaulted := obj.Spec.Insecure != nil; err == nil && defaulted != wantDefaulted {
		err = fmt.Errorf("%w: the defaulting webhook ran: %t, want %t", testkit.ErrWrongVerdict, defaulted, wantDefaulted)
	}
	run.Record(d, err)
	run.SetElapsed(d)
	return run
}

// route registers the bare webhook like ours, for stores labelled "bare", keeps ours for
// stores without the label, and waits until the API server routes invalid stores so: ours
// denies, the bare webhook and no webhook admit.
func route(ctx context.Context, b *benchEnv) error {
	selector := func(op metav1.LabelSelectorOperator, values ...string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: routeLabel, Operator: op, Values: values}}}
	}
	setSelectors(b.Configurations, selector(metav1.LabelSelectorOpNotIn, routeBare, routeNone))
	if err := b.Configurations.Apply(ctx, b.Env.Client); err != nil {
		return err
	}
	bare, err := localenv.ReadWebhookConfigurations(filepath.Join(b.Root, localenv.MutatingWebhookFile), filepath.Join(b.Root, localenv.ValidatingWebhookFile))
	if err != nil {
		return err
	}
	if err := bare.PointAt(b.Bare.URL, b.CA.CertPEM); err != nil {
		return err
	}
	for i := range bare.Mutating {
		bare.Mutating[i].Name = "bench-bare-" + bare.Mutating[i].Name
	}
	for i := range bare.Validating {
		bare.Validating[i].Name = "bench-bare-" + bare.Validating[i].Name
	}
	setSelectors(bare, selector(metav1.LabelSelectorOpIn, routeBare))
	if err := bare.Apply(ctx, b.Env.Client); err != nil {
		return err
	}

	invalid := func(route string) error {
		obj := apiStore(b, route)
		obj.Spec.Endpoint = "https://" + b.MinIO.Endpoint
		return b.KubeClient.Create(ctx, obj, client.DryRunAll)
	}
	var ours, viaBare, none error
	if err := testkit.Poll(ctx, 30*time.Second, func(context.Context) (bool, error) {
		ours, viaBare, none = invalid(""), invalid(routeBare), invalid(routeNone)
		return ours != nil && strings.Contains(ours.Error(), "without a scheme") && viaBare == nil && none == nil, nil
	}); err != nil {
		return fmt.Errorf("the API server did not route stores by %s within 30s: ours: %v; bare: %v; none: %v", routeLabel, ours, viaBare, none)
	}
	return nil
}

func setSelectors(cfgs *localenv.WebhookConfigurations, sel *metav1.LabelSelector) {
	for i := range cfgs.Mutating {
		for j := range cfgs.Mutating[i].Webhooks {
			cfgs.Mutating[i].Webhooks[j].ObjectSelector = sel
		}
	}
	for i := range cfgs.Validating {
		for j := range cfgs.Validating[i].Webhooks {
			cfgs.Validating[i].Webhooks[j].ObjectSelector = sel
		}
	}
}
