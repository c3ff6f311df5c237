package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// routeLabel says which webhooks the API server calls for a store: the registered
// configurations get objectSelectors on it, so every side of the figure runs against the
// same API server, CRD and registrations, interleaved, and differs only in what the API
// server calls. No label: the webhook; "floor": the floor of the design, registered the
// same way; "bare": the bare webhook, registered the same way; "none": no webhook at all.
const routeLabel = "bench.kratix-community.io/webhooks"

const (
	routeFloor = "floor"
	routeBare  = "bare"
	routeNone  = "none"
)

// measureAPIServer is what the webhooks add to a server-side dry-run create of a store
// of kind k, the request Flux and `kubectl apply --dry-run=server` make: the same store
// with the webhooks called (defaulting, then validation with an access review, a Secret
// read and a cached probe) and with the floor of the design called instead (the bare
// webhook that answers with the same defaulting patch, asks the same access reviewer and
// reads the same Secret), the bare webhook (what calling any two webhooks costs) and no
// webhook.
func measureAPIServer(ctx context.Context, b *benchEnv, k *storeKind, o options, r *Report) error {
	s := r.Section(fmt.Sprintf("Through the API server, %s: client-go dry-run create, one at a time, probe cached (%d interleaved rounds)", k.name, o.apiPairs),
		"webhooks called", "design floor")
	if err := route(ctx, b, k); err != nil {
		return err
	}
	withWebhooks := func() *Run { return dryRunCreate(ctx, b, k, "webhooks called", "", true) }
	withFloor := func() *Run { return dryRunCreate(ctx, b, k, "design floor called", routeFloor, true) }
	withBare := func() *Run { return dryRunCreate(ctx, b, k, "bare webhooks called", routeBare, false) }
	without := func() *Run { return dryRunCreate(ctx, b, k, "no webhook", routeNone, false) }
	sides := []func() *Run{withWebhooks, withFloor, withBare, without}
	for range 3 { // warm the probe cache, the connections and the API server's caches
		warm := make([]*Run, len(sides))
		for i, side := range sides {
			warm[i] = side()
		}
		r.CheckRuns("through the API server, warm-up", warm...)
	}
	counted := []*localenv.Webhook{b.Webhook, b.Floor, b.Bare}
	before, err := scrapeAll(ctx, counted...)
	if err != nil {
		return err
	}
	apiBefore, err := apiServerMetrics(ctx, b)
	if err != nil {
		return err
	}
	var lat, none, floor, bare Pairs
	var ours, base []*Run
	for i := range o.apiPairs {
		runs := make([]*Run, len(sides))
		for j := range sides { // each side goes first in turn
			k := (i + j) % len(sides)
			runs[k] = sides[k]()
		}
		r.CheckRuns(fmt.Sprintf("through the API server, round %d", i+1), runs...)
		lat.Add(latency(runs[0].Percentile(50)), latency(runs[1].Percentile(50)))
		none.Add(latency(runs[0].Percentile(50)), latency(runs[3].Percentile(50)))
		floor.Add(latency(runs[1].Percentile(50)), latency(runs[3].Percentile(50)))
		bare.Add(latency(runs[2].Percentile(50)), latency(runs[3].Percentile(50)))
		ours, base = append(ours, runs[0]), append(base, runs[1])
	}
	after, err := scrapeAll(ctx, counted...)
	if err != nil {
		return err
	}
	apiAfter, err := apiServerMetrics(ctx, b)
	if err != nil {
		return err
	}
	// Each create must have reached exactly the webhooks of its side. The objects
	// returned say whether a defaulting webhook ran; the counters confirm the rest.
	for _, hook := range []string{"mutate", "validate"} {
		n := after[0].Sum("statestore_webhook_admissions_total", "webhook", hook, "result", "allowed") -
			before[0].Sum("statestore_webhook_admissions_total", "webhook", hook, "result", "allowed")
		if int(n) != o.apiPairs {
			r.Fail("through the API server: the %s webhook admitted %.0f requests, want %d (one per create routed to it)", hook, n, o.apiPairs)
		}
	}
	for i, name := range []string{"the floor of the design", "the bare webhook"} {
		calls := after[i+1].Sum("controller_runtime_webhook_requests_total", "code", "200") -
			before[i+1].Sum("controller_runtime_webhook_requests_total", "code", "200")
		if int(calls) != 2*o.apiPairs {
			r.Fail("through the API server: %s answered %.0f requests, want %d (two per create routed to it)", name, calls, 2*o.apiPairs)
		}
	}

	s.Add(Row{Figure: "median", Ours: fmtDurF(lat.Ours()), Base: fmtDurF(lat.Base()), Ratio: lat.Ratio(), Target: "<= 1.20x", Met: atMost(lat.Ratio(), 1.2)})
	p90o, p90b := pooledPercentile(ours, 90), pooledPercentile(base, 90)
	s.Add(Row{Figure: "p90", Ours: fmtDur(p90o), Base: fmtDur(p90b), Ratio: ratio(float64(p90o), float64(p90b))})
	s.Add(Row{Figure: "median vs no webhook", Ours: fmtDurF(none.Ours()), Base: fmtDurF(none.Base()), Ratio: none.Ratio()})
	s.Add(Row{Figure: "median, design floor vs no webhook", Ours: fmtDurF(floor.Ours()), Base: fmtDurF(floor.Base()), Ratio: floor.Ratio()})
	s.Add(Row{Figure: "median, bare webhooks vs no webhook", Ours: fmtDurF(bare.Ours()), Base: fmtDurF(bare.Base()), Ratio: bare.Ratio()})
	s.Note("the design floor is the bare webhook registered like ours that answers with the same defaulting patch, asks the same access reviewer and reads the same Secret per validation; the bare webhooks admit at once")
	s.Note("the stores are routed by objectSelectors on the label %s added to the registered configurations", routeLabel)
	s.Note("mean time of each webhook call as the API server measures it (apiserver_admission_webhook_admission_duration_seconds): %s", webhookCallTimes(apiBefore, apiAfter))
	if err := profileAPIServer(ctx, b, k, o, s, withWebhooks, withFloor); err != nil {
		return err
	}
	return nil
}

// writeDefaultingPatch asks the webhook's defaulting webhook for its patch of the figure's
// store of kind k and writes it to file, for the floor of the design to answer with: the
// floor pays the API server's cost of applying the defaults, not the webhook's of finding
// them.
func writeDefaultingPatch(ctx context.Context, b *benchEnv, k *storeKind, file string) error {
	tmpl, err := newReviewTemplate(admissionv1.Create, apiStore(k, routeFloor), benchUser)
	if err != nil {
		return err
	}
	_, body, err := newEndpoint("webhook", b.Webhook.URL(k.mutatePath()), b.TLS, 1).answer(ctx, tmpl, testkit.Admitted)
	if err != nil {
		return fmt.Errorf("asking the webhook for its defaulting patch: %w", err)
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil {
		return err
	}
	if review.Response == nil || len(review.Response.Patch) == 0 {
		return fmt.Errorf("the webhook's defaulting webhook answered the API server figure's %s with no patch", k.name)
	}
	return os.WriteFile(file, review.Response.Patch, 0o644)
}

// profileAPIServer, with -webhook-pprof, profiles the webhook and then the floor of the
// design, each beside the API server, while dry-run creates routed to it run one at a
// time for the handler's window (at least a second).
func profileAPIServer(ctx context.Context, b *benchEnv, k *storeKind, o options, s *Section, ours, floor func() *Run) error {
	p := &webhookProfiler{dir: o.webhookPprof}
	if !p.enabled() {
		return nil
	}
	window := max(o.window, time.Second)
	for _, side := range []struct {
		name string
		hook *localenv.Webhook
		run  func() *Run
	}{{"apiserver-" + strings.ToLower(k.name) + "-webhook", b.Webhook, ours}, {"apiserver-" + strings.ToLower(k.name) + "-floor", b.Floor, floor}} {
		hook := p.capture(ctx, side.hook.MetricsAddr, side.name, 0, window)
		api := p.captureAPIServer(ctx, b.Env.Kube.Config, side.name+"-kube-apiserver", 0, window)
		runs := 0
		for end := time.Now().Add(window); time.Now().Before(end); runs++ {
			if err := side.run().Check(); err != nil {
				return fmt.Errorf("%s, profiled: %w", side.name, err)
			}
		}
		s.Note("%s: %d creates; %s; %s", side.name, runs, hook(), api())
	}
	return nil
}

// apiServerMetrics reads the kube-apiserver's /metrics, as an administrator.
func apiServerMetrics(ctx context.Context, b *benchEnv) (testkit.Metrics, error) {
	client, err := rest.HTTPClientFor(b.Env.Kube.Config)
	if err != nil {
		return nil, err
	}
	var text strings.Builder
	if err := fetch(ctx, client, strings.TrimSuffix(b.Env.Kube.Config.Host, "/")+"/metrics", &text); err != nil {
		return nil, err
	}
	return testkit.ParseMetrics(text.String())
}

// webhookCallTimes says, for each webhook the API server called between two scrapes of
// its metrics, the mean time of a call.
func webhookCallTimes(before, after testkit.Metrics) string {
	means := histogramMeans(before, after, "apiserver_admission_webhook_admission_duration_seconds", "name")
	var parts []string
	for _, hook := range slices.Sorted(maps.Keys(means)) {
		parts = append(parts, fmt.Sprintf("%s %s (%.0f calls)", hook, fmtDurF(means[hook].seconds*float64(time.Second)), means[hook].n))
	}
	return strings.Join(parts, ", ")
}

// observed is the mean of a histogram's observations, in seconds, and their count.
type observed struct{ seconds, n float64 }

// histogramMeans is, for each value of label, the mean of histogram name's observations
// between two scrapes, where there were any; an empty label takes every series together,
// under "".
func histogramMeans(before, after testkit.Metrics, name, label string) map[string]observed {
	byLabel := func(m testkit.Metrics) map[string]observed { // sums, not means
		out := map[string]observed{}
		for _, series := range m[name].GetMetric() {
			value, found := "", label == ""
			for _, l := range series.GetLabel() {
				if l.GetName() == label {
					value, found = l.GetValue(), true
				}
			}
			if found {
				h, v := series.GetHistogram(), out[value]
				out[value] = observed{v.seconds + h.GetSampleSum(), v.n + float64(h.GetSampleCount())}
			}
		}
		return out
	}
	b, means := byLabel(before), map[string]observed{}
	for value, a := range byLabel(after) {
		if n := a.n - b[value].n; n > 0 {
			means[value] = observed{(a.seconds - b[value].seconds) / n, n}
		}
	}
	return means
}

// scrapeAll reads the metrics of each webhook.
func scrapeAll(ctx context.Context, hooks ...*localenv.Webhook) ([]testkit.Metrics, error) {
	all := make([]testkit.Metrics, len(hooks))
	for i, h := range hooks {
		var err error
		if all[i], err = scrape(ctx, h); err != nil {
			return nil, err
		}
	}
	return all, nil
}

// apiStore is a store of kind k as a user applies it: no defaults filled in, so the
// defaulting webhook has something to do, and a path of its own in the probe cache. A
// route sends it to other webhooks, or none.
func apiStore(k *storeKind, route string) client.Object {
	obj := k.valid("bench-apiserver", k.endpoint, "apiserver")
	k.undefault(obj)
	return withRoute(obj, route)
}

// dryRunCreate times one dry-run create of a store of kind k and checks from the object
// returned whether the defaulting webhook ran, as it must when the store is routed to
// it and only then.
func dryRunCreate(ctx context.Context, b *benchEnv, k *storeKind, side, route string, wantDefaulted bool) *Run {
	run := NewRun(side)
	obj := apiStore(k, route)
	start := time.Now()
	err := b.KubeClient.Create(ctx, obj, client.DryRunAll)
	d := time.Since(start)
	if defaulted := k.defaulted(obj); err == nil && defaulted != wantDefaulted {
		err = fmt.Errorf("%w: the defaulting webhook ran: %t, want %t", testkit.ErrWrongVerdict, defaulted, wantDefaulted)
	}
	run.Record(d, err)
	run.SetElapsed(d)
	return run
}

// route registers the floor of the design and the bare webhook like ours, for stores
// labelled "floor" and "bare", keeps ours for stores without the label, and waits until
// the API server routes invalid stores of kind k so: ours denies, the others admit.
func route(ctx context.Context, b *benchEnv, k *storeKind) error {
	selector := func(op metav1.LabelSelectorOperator, values ...string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: routeLabel, Operator: op, Values: values}}}
	}
	setSelectors(b.Configurations, selector(metav1.LabelSelectorOpNotIn, routeFloor, routeBare, routeNone))
	if err := b.Configurations.Apply(ctx, b.Env.Client); err != nil {
		return err
	}
	for _, other := range []struct {
		route string
		hook  *localenv.Webhook
	}{{routeFloor, b.Floor}, {routeBare, b.Bare}} {
		cfgs, err := localenv.ReadWebhookConfigurations(filepath.Join(b.Root, localenv.MutatingWebhookFile), filepath.Join(b.Root, localenv.ValidatingWebhookFile))
		if err != nil {
			return err
		}
		if err := cfgs.PointAt(other.hook.URL, b.CA.CertPEM); err != nil {
			return err
		}
		// Configurations and webhooks of their own names, which the API server's metrics
		// tell apart.
		for i := range cfgs.Mutating {
			cfgs.Mutating[i].Name = "bench-" + other.route + "-" + cfgs.Mutating[i].Name
			for j := range cfgs.Mutating[i].Webhooks {
				cfgs.Mutating[i].Webhooks[j].Name = other.route + "." + cfgs.Mutating[i].Webhooks[j].Name
			}
		}
		for i := range cfgs.Validating {
			cfgs.Validating[i].Name = "bench-" + other.route + "-" + cfgs.Validating[i].Name
			for j := range cfgs.Validating[i].Webhooks {
				cfgs.Validating[i].Webhooks[j].Name = other.route + "." + cfgs.Validating[i].Webhooks[j].Name
			}
		}
		setSelectors(cfgs, selector(metav1.LabelSelectorOpIn, other.route))
		if err := cfgs.Apply(ctx, b.Env.Client); err != nil {
			return err
		}
	}

	denial := ""
	invalid := func(route string) error {
		obj := apiStore(k, route)
		denial = k.breakStore(obj)
		return b.KubeClient.Create(ctx, obj, client.DryRunAll)
	}
	var ours, viaFloor, viaBare, none error
	if err := testkit.Poll(ctx, 30*time.Second, func(context.Context) (bool, error) {
		ours, viaFloor, viaBare, none = invalid(""), invalid(routeFloor), invalid(routeBare), invalid(routeNone)
		return ours != nil && strings.Contains(ours.Error(), denial) && viaFloor == nil && viaBare == nil && none == nil, nil
	}); err != nil {
		return fmt.Errorf("the API server did not route %ss by %s within 30s: ours: %v; floor: %v; bare: %v; none: %v", k.name, routeLabel, ours, viaFloor, viaBare, none)
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
