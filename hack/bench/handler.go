package main

import (
	"context"
	"fmt"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// handlerTargetConcurrency is the concurrency the handler targets are set at.
const handlerTargetConcurrency = 32

// measureHandler is the handler overhead, the cached admission: AdmissionReviews for a
// valid store of kind k whose probe is cached, sent over HTTPS to the webhook binary and
// to the bare webhook, at each concurrency, closed loop. The webhook does what it does in
// production for that store: a SubjectAccessReview and a Secret read against the real
// API server, then a cache hit. Repetitions interleave the sides, starting with each in
// turn.
func measureHandler(ctx context.Context, b *benchEnv, k *storeKind, o options, r *Report) error {
	s := r.Section(fmt.Sprintf("Handler overhead: HTTPS AdmissionReview, %s, probe cached (closed loop, %d reps x %s after %s warm-up)",
		k.store, o.reps, o.window, o.warmup), "webhook", "bare webhook")
	web := newEndpoint("webhook", b.Webhook.URL(k.validatePath()), b.TLS, 256)
	bare := newEndpoint("bare webhook", b.Bare.URL(k.validatePath()), b.TLS, 256)

	valid, err := newReviewTemplate(admissionv1.Create, k.valid("bench-handler", k.endpoint, "handler"), benchUser)
	if err != nil {
		return err
	}
	if err := checkVerdicts(ctx, k, web, valid); err != nil {
		r.Fail("handler overhead: %v", err)
		return nil
	}
	before, err := scrape(ctx, b.Webhook)
	if err != nil {
		return err
	}

	h := handlerRun{ctx: ctx, o: o, r: r, s: s, profiler: &webhookProfiler{dir: o.webhookPprof}, metricsAddr: b.Webhook.MetricsAddr}
	byConc := make([]comparison, len(o.concurrency))
	for rep := range o.reps {
		for i, c := range o.concurrency {
			profile := ""
			if rep == 0 && c == handlerTargetConcurrency {
				profile = fmt.Sprintf("webhook-%s-c%d", strings.ToLower(k.name), c)
			}
			h.rep(&byConc[i], rep, fmt.Sprintf("handler overhead, concurrency %d, rep %d", c, rep+1), profile, web, bare, valid, c)
		}
	}
	for i, c := range o.concurrency {
		p := &byConc[i]
		p99, rps := Row{}, Row{}
		if c == handlerTargetConcurrency {
			p99 = Row{Target: "<= 1.20x", Met: atMost(p.p99.Ratio(), 1.2)}
			rps = Row{Target: ">= 0.85x", Met: atLeast(p.rps.Ratio(), 0.85)}
		}
		s.Add(Row{Figure: fmt.Sprintf("c=%d p50", c), Ours: fmtDurF(p.p50.Ours()), Base: fmtDurF(p.p50.Base()), Ratio: p.p50.Ratio()})
		s.Add(Row{Figure: fmt.Sprintf("c=%d p99", c), Ours: fmtDurF(p.p99.Ours()), Base: fmtDurF(p.p99.Base()), Ratio: p.p99.Ratio(), Target: p99.Target, Met: p99.Met})
		s.Add(Row{Figure: fmt.Sprintf("c=%d req/s", c), Ours: fmtRate(p.rps.Ours()), Base: fmtRate(p.rps.Base()), Ratio: p.rps.Ratio(), Target: rps.Target, Met: rps.Met})
	}

	after, err := scrape(ctx, b.Webhook)
	if err != nil {
		return err
	}
	admissions := after.Sum("statestore_webhook_admissions_total", "webhook", "validate") -
		before.Sum("statestore_webhook_admissions_total", "webhook", "validate")
	apiCalls := after.Sum("rest_client_requests_total") - before.Sum("rest_client_requests_total")
	probes := after.Sum("statestore_webhook_probes_total") - before.Sum("statestore_webhook_probes_total")
	s.Note("the webhook made %.0f API server calls for %.0f validations (%.2f each) and %.0f probes (as the default --probe-cache-ttl of 1m lapses)",
		apiCalls, admissions, apiCalls/max(admissions, 1), probes)

	// The floor of the design: the bare webhook that asks the access reviewer and reads
	// the one Secret per validation that the webhook reads on purpose (it keeps no Secret
	// between admissions).
	floor := newEndpoint("design floor", b.Floor.URL(k.validatePath()), b.TLS, 256)
	var fl comparison
	for rep := range o.reps {
		h.rep(&fl, rep, fmt.Sprintf("handler overhead against the design floor, rep %d", rep+1), "", web, floor, valid, handlerTargetConcurrency)
	}
	s.Add(Row{Figure: fmt.Sprintf("c=%d p99 vs design floor", handlerTargetConcurrency), Ours: fmtDurF(fl.p99.Ours()), Base: fmtDurF(fl.p99.Base()), Ratio: fl.p99.Ratio()})
	s.Add(Row{Figure: fmt.Sprintf("c=%d req/s vs design floor", handlerTargetConcurrency), Ours: fmtRate(fl.rps.Ours()), Base: fmtRate(fl.rps.Base()), Ratio: fl.rps.Ratio()})
	s.Note("the rows against the design floor compare with the floor of the design: the bare webhook asking the access reviewer and reading the same Secret once per validation, through the webhook's own reviewer and reader")

	if k.noSecret == nil {
		return nil
	}
	// The same store with authMethod IAM needs no Secret: the webhook's own work alone.
	iam, err := newReviewTemplate(admissionv1.Create, k.noSecret("bench-handler-iam", k.endpoint, "handler"), benchUser)
	if err != nil {
		return err
	}
	if _, err := web.review(ctx, iam, testkit.Admitted); err != nil {
		r.Fail("handler overhead, IAM store: the webhook does not admit it: %v", err)
		return nil
	}
	var ia comparison
	c := handlerTargetConcurrency
	for rep := range o.reps {
		profile := ""
		if rep == 0 {
			profile = fmt.Sprintf("webhook-%s-c%d-iam", strings.ToLower(k.name), c)
		}
		h.rep(&ia, rep, fmt.Sprintf("handler overhead, IAM store, rep %d", rep+1), profile, web, bare, iam, c)
	}
	s.Add(Row{Figure: fmt.Sprintf("c=%d p99, IAM store (no Secret read)", c), Ours: fmtDurF(ia.p99.Ours()), Base: fmtDurF(ia.p99.Base()), Ratio: ia.p99.Ratio()})
	s.Add(Row{Figure: fmt.Sprintf("c=%d req/s, IAM store (no Secret read)", c), Ours: fmtRate(ia.rps.Ours()), Base: fmtRate(ia.rps.Base()), Ratio: ia.rps.Ratio()})
	s.Note("the IAM rows are a diagnostic, not a target: the same handler without the SubjectAccessReview and the Secret read")
	return nil
}

// comparison accumulates the repetitions of one figure, ours against a baseline.
type comparison struct{ p50, p99, rps Pairs }

// handlerRun is what every repetition of the handler figure needs.
type handlerRun struct {
	ctx         context.Context
	o           options
	r           *Report
	s           *Section
	profiler    *webhookProfiler
	metricsAddr string
}

// rep runs ours and base once each at concurrency c with review, interleaved as rep
// says, checks both runs as what and adds them to cmp. When profile is set, ours is
// profiled under that name.
func (h handlerRun) rep(cmp *comparison, rep int, what, profile string, ours, base *endpoint, review reviewTemplate, c int) {
	runs := interleave(rep, func() *Run {
		wait := func() string { return "" }
		if profile != "" {
			wait = h.profiler.capture(h.ctx, h.metricsAddr, profile, h.o.warmup, h.o.window)
		}
		run := closedLoop(h.ctx, ours, review, testkit.Admitted, c, h.o.warmup, h.o.window)
		if note := wait(); note != "" {
			h.s.Note("%s", note)
		}
		return run
	}, func() *Run {
		return closedLoop(h.ctx, base, review, testkit.Admitted, c, h.o.warmup, h.o.window)
	})
	h.r.CheckRuns(what, runs...)
	cmp.p50.Add(latency(runs[0].Percentile(50)), latency(runs[1].Percentile(50)))
	cmp.p99.Add(latency(runs[0].Percentile(99)), latency(runs[1].Percentile(99)))
	cmp.rps.Add(runs[0].Throughput(), runs[1].Throughput())
}

// checkVerdicts makes sure the webhook really validates before it is timed: it must deny
// a store of kind k that breaks a static rule and admit the valid one (which warms the
// cache).
func checkVerdicts(ctx context.Context, k *storeKind, web *endpoint, valid reviewTemplate) error {
	bad := k.valid("bench-invalid", k.endpoint, "handler")
	denial := k.breakStore(bad)
	invalid, err := newReviewTemplate(admissionv1.Create, bad, benchUser)
	if err != nil {
		return err
	}
	if _, err := web.review(ctx, invalid, testkit.Denied(denial)); err != nil {
		return fmt.Errorf("an invalid store: %w", err)
	}
	if _, err := web.review(ctx, valid, testkit.Admitted); err != nil {
		return fmt.Errorf("the valid store: %w", err)
	}
	return nil
}

// interleave runs ours and base, ours first in even repetitions and base first in odd
// ones, and returns their runs in the order ours, base.
func interleave(rep int, ours, base func() *Run) []*Run {
	if rep%2 == 0 {
		o := ours()
		return []*Run{o, base()}
	}
	bs := base()
	return []*Run{ours(), bs}
}
