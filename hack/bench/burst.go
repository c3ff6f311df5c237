package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
	"github.com/kratix-community/statestore-webhook/internal/server"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// probeDuration is the webhook's histogram of the time its probes take.
const probeDuration = "statestore_webhook_probe_duration_seconds"

// singlesPerRep is how many lone cold admissions make the "one probe" baseline of a
// repetition (their median).
const singlesPerRep = 5

// burstConns is how many connections a burst is sent on: half of what the webhook server
// keeps established (server.DefaultConnLimits.MaxConns), so that the burst never evicts
// its own connections, nor the API server's. The requests beyond it wait for a free
// connection, as they wait in the API server's client, and the wait is in their latency.
var burstConns = server.DefaultConnLimits.MaxConns / 2

// measureBurst sends burstSize identical admissions at once for a store of kind k that
// nothing has probed yet, and counts the probes that reach its server through the
// counting proxy: the cache must merge them into one. Its p99 is compared with the floor of the design
// answering the same burst (the bare webhook asking the same access reviewer and reading
// the same Secret for each admission), the two interleaved, and shown beside lone
// admissions of equally fresh stores, each making one probe, and the bare webhook's
// burst. The burstConns connections are opened beforehand (with DELETE reviews, which
// the webhook admits without any work), so the figure is about the webhook, not about
// TLS handshakes.
func measureBurst(ctx context.Context, b *benchEnv, k *storeKind, o options, r *Report) error {
	s := r.Section(fmt.Sprintf("Burst, %s: %d identical admissions at once, empty cache (%d reps)", k.name, o.burstSize, o.reps),
		"burst", "design floor")
	conns := min(o.burstSize, burstConns)
	web := newEndpoint("webhook", b.Webhook.URL(k.validatePath()), b.TLS, conns)
	floorEnd := newEndpoint("design floor", b.Floor.URL(k.validatePath()), b.TLS, conns)
	bare := newEndpoint("bare webhook", b.Bare.URL(k.validatePath()), b.TLS, conns)
	fresh := 0
	store := func() (reviewTemplate, error) {
		fresh++
		return newReviewTemplate(admissionv1.Create, k.valid("bench-burst", k.proxy.Endpoint, fmt.Sprintf("burst-%d", fresh)), benchUser)
	}
	deleteReview, err := newReviewTemplate(admissionv1.Delete, k.valid("bench-burst", k.proxy.Endpoint, "burst"), benchUser)
	if err != nil {
		return err
	}
	// open opens e's connections; fire sends it a burst of a fresh store; burstOf does both.
	open := func(e *endpoint) {
		r.CheckRuns(e.name+" burst, opening connections", burst(ctx, e, deleteReview, testkit.Admitted, o.burstSize))
	}
	fire := func(e *endpoint) *Run {
		tmpl, err := store()
		if err != nil {
			run := NewRun(e.name)
			run.Record(0, err)
			return run
		}
		return burst(ctx, e, tmpl, testkit.Admitted, o.burstSize)
	}
	burstOf := func(e *endpoint) *Run {
		open(e)
		return fire(e)
	}

	var p99, withProbe, lone Pairs
	var probeCounts []int64
	var bareP99 []float64
	var probes int64
	// inBurst is how long each burst's probe took, as the webhook measured it, and
	// probeTook the last one's, in seconds (NaN when unknown).
	var inBurst []string
	var probeTook float64
	many := func() *Run {
		before := k.proxy.Probes()
		metricsBefore, err := scrape(ctx, b.Webhook)
		run := burstOf(web)
		probes = k.proxy.Probes() - before
		metricsAfter, err2 := scrape(ctx, b.Webhook)
		took := "?"
		probeTook = math.NaN()
		if err == nil && err2 == nil {
			probeTook = histogramMeans(metricsBefore, metricsAfter, probeDuration, "")[""].seconds
			took = fmtDurF(probeTook * float64(time.Second))
		}
		inBurst = append(inBurst, took)
		return run
	}
	floor := func() *Run { return burstOf(floorEnd) }
	metricsBefore, err := scrape(ctx, b.Webhook)
	if err != nil {
		return err
	}
	for rep := range o.reps {
		runs := interleave(rep, many, floor)
		sound := r.CheckRuns(fmt.Sprintf("burst, rep %d", rep+1), runs...)
		p99.Add(latency(runs[0].Percentile(99)), latency(runs[1].Percentile(99)))
		withProbe.Add(latency(runs[0].Percentile(99)), latency(runs[1].Percentile(99))+probeTook*float64(time.Second))
		probeCounts = append(probeCounts, probes)
		if probes == 0 {
			r.Fail("burst, %s, rep %d: no probe reached %s, so the cache was not empty: nothing was measured", k.name, rep+1, k.server)
		}

		// Lone admissions of fresh stores, each making one probe, and the bare webhook
		// answering the same burst: what a burst costs beside a single admission.
		before := k.proxy.Probes()
		single := sequential(ctx, web, singlesPerRep, func(int) (reviewTemplate, error) { return store() }, testkit.Admitted)
		if got := k.proxy.Probes() - before; got != singlesPerRep {
			r.Fail("burst, %s: %d lone admissions of fresh stores made %d probes, want one each", k.name, singlesPerRep, got)
		}
		bareRun := burstOf(bare)
		r.CheckRuns(fmt.Sprintf("burst, lone admissions and bare webhook, rep %d", rep+1), single, bareRun)
		lone.Add(latency(runs[0].Percentile(99)), latency(single.Percentile(50)))
		bareP99 = append(bareP99, latency(bareRun.Percentile(99)))
		if !sound && rep+1 < o.reps {
			// A webhook that failed a burst has usually not recovered for the next one:
			// more repetitions would only add minutes of timeouts.
			s.Note("repetitions %d to %d skipped: repetition %d failed", rep+2, o.reps, rep+1)
			break
		}
	}
	metricsAfter, err := scrape(ctx, b.Webhook)
	if err != nil {
		return err
	}

	allOne := len(probeCounts) > 0
	worst := int64(0)
	for _, n := range probeCounts {
		allOne = allOne && n == 1
		worst = max(worst, n)
	}
	s.Add(Row{Figure: "probes reaching " + k.server + ", per burst", Ours: fmt.Sprint(probeCounts), Base: "1", Ratio: ratio(float64(worst), 1),
		Target: "exactly 1", Met: &allOne})
	floorRow := Row{Figure: "p99", Ours: fmtDurF(p99.Ours()), Base: fmtDurF(p99.Base()), Ratio: p99.Ratio()}
	probeRow := Row{Figure: "p99 vs the floor's p99 plus the burst's probe", Ours: fmtDurF(withProbe.Ours()), Base: fmtDurF(withProbe.Base()), Ratio: withProbe.Ratio()}
	target := &floorRow
	if k.burstTargetWithProbe {
		target = &probeRow
	}
	target.Target, target.Met = "<= 1.50x", atMost(target.Ratio, 1.5)
	s.Add(floorRow)
	s.Add(probeRow)
	s.Add(Row{Figure: "p99 vs median lone admission", Ours: fmtDurF(lone.Ours()), Base: fmtDurF(lone.Base()), Ratio: lone.Ratio()})
	s.Add(Row{Figure: "p99, bare webhook's same burst", Ours: fmtDurF(median(bareP99)), Base: fmtDurF(p99.Base()), Ratio: ratio(median(bareP99), p99.Base())})
	metricProbes := metricsAfter.Sum("statestore_webhook_probes_total") - metricsBefore.Sum("statestore_webhook_probes_total")
	apiCalls := metricsAfter.Sum("rest_client_requests_total") - metricsBefore.Sum("rest_client_requests_total")
	s.Note("probes are counted by a proxy in front of %s (one write check per probe: S3's POST ?uploads, Git's receive-pack advertisement); the webhook's statestore_webhook_probes_total rose by %.0f, and it made %.0f API server calls, for %d bursts and %d lone admissions",
		k.server, metricProbes, apiCalls, len(probeCounts), len(probeCounts)*singlesPerRep)
	probeTime := histogramMeans(metricsBefore, metricsAfter, probeDuration, "")[""]
	s.Note("the webhook's probes took %s on average (%s, %.0f probes); the probe of each burst took %s", fmtDurF(probeTime.seconds*float64(time.Second)), probeDuration, probeTime.n, strings.Join(inBurst, ", "))
	s.Note("the design floor is the bare webhook asking the same access reviewer and reading the same Secret for each of the %d admissions, through the webhook's own reviewer and reader; the bare webhook admits at once", o.burstSize)
	return profileBurst(ctx, b, k, o, s, open, fire, web, floorEnd)
}

// profileBurst, with -webhook-pprof, profiles one more burst of the webhook and one of the
// floor of the design: a CPU profile of each side's process for a second from just
// before its burst, and a dump of its goroutines' stacks while the burst is in flight.
func profileBurst(ctx context.Context, b *benchEnv, k *storeKind, o options, s *Section, open func(*endpoint), fire func(*endpoint) *Run, web, floor *endpoint) error {
	p := &webhookProfiler{dir: o.webhookPprof}
	if !p.enabled() {
		return nil
	}
	// startAfter leaves the CPU profile time to start; the stacks are taken a little after
	// the burst is sent, when most admissions are waiting on something.
	const startAfter, stacksAfter = 300 * time.Millisecond, 20 * time.Millisecond
	for _, side := range []struct {
		name string
		hook *localenv.Webhook
		e    *endpoint
	}{{"burst-" + strings.ToLower(k.name) + "-webhook", b.Webhook, web}, {"burst-" + strings.ToLower(k.name) + "-floor", b.Floor, floor}} {
		open(side.e)
		base := "http://" + side.hook.MetricsAddr + "/debug/pprof/"
		wait := p.captureFrom(ctx, http.DefaultClient, base, side.name, 0, time.Second, startAfter+stacksAfter)
		time.Sleep(startAfter)
		if err := fire(side.e).Check(); err != nil {
			return fmt.Errorf("%s, profiled: %w", side.name, err)
		}
		s.Note("%s: %s", side.name, wait())
	}
	return nil
}
