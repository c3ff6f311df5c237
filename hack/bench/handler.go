package main

import (
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/kratix-community/bucketstatestore-webhook/internal/server"
	"github.com/kratix-community/bucketstatestore-webhook/internal/testkit"
)

// handlerTargetConcurrency is where the issue sets the handler targets.
const handlerTargetConcurrency = 32

// measureHandler is the handler overhead: AdmissionReviews for a valid accessKey store
// whose probe is cached, sent over HTTPS to the webhook binary and to the bare webhook,
// at each concurrency, closed loop. The webhook does what it does in production for
// that store: a SubjectAccessReview and a Secret read against the real API server, then
// a cache hit. Repetitions interleave the sides, starting with each in turn.
func measureHandler(ctx context.Context, b *benchEnv, o options, r *Report) error {
	s := r.Section(fmt.Sprintf("Handler overhead: HTTPS AdmissionReview, valid accessKey store, probe cached (closed loop, %d reps x %s after %s warm-up)",
		o.reps, o.window, o.warmup), "webhook", "bare webhook")
	web := newEndpoint("webhook", b.Webhook.URL(server.ValidatePath), b.TLS, 256)
	bare := newEndpoint("bare webhook", b.Bare.URL(server.ValidatePath), b.TLS, 256)

	valid, err := newReviewTemplate(admissionv1.Create, accessKeyStore("bench-handler", b.MinIO.Endpoint, bucket, "handler", benchSecret), benchUser)
	if err != nil {
		return err
	}
	if err := checkVerdicts(ctx, b, web, valid); err != nil {
		r.Fail("handler overhead: %v", err)
		return nil
	}
	before, err := scrape(ctx, b.Webhook)
	if err != nil {
		return err
	}

	type pairs struct{ p50, p99, rps Pairs }
	byConc := make([]pairs, len(o.concurrency))
	profiler := &webhookProfiler{dir: o.webhookPprof}
	for rep := range o.reps {
		for i, c := range o.concurrency {
			runs := interleave(rep, func() *Run {
				wait := func() string { return "" }
				if rep == 0 && c == handlerTargetConcurrency {
					wait = profiler.capture(ctx, b.Webhook.MetricsAddr, fmt.Sprintf("webhook-c%d", c), o.warmup, o.window)
				}
				run := closedLoop(ctx, web, valid, testkit.Admitted, c, o.warmup, o.window)
				if note := wait(); note != "" {
					s.Note("%s", note)
				}
				return run
			}, func() *Run {
				return closedLoop(ctx, bare, valid, testkit.Admitted, c, o.warmup, o.window)
			})
			w, base := runs[0], runs[1]
			r.CheckRuns(fmt.Sprintf("handler overhead, concurrency %d, rep %d", c, rep+1), w, base)
			byConc[i].p50.Add(latency(w.Percentile(50)), latency(base.Percentile(50)))
			byConc[i].p99.Add(latency(w.Percentile(99)), latency(base.Percentile(99)))
			byConc[i].rps.Add(w.Throughput(), base.Throughput())
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
	admissions := after.Sum("bucketstatestore_webhook_admissions_total", "webhook", "validate") -
		before.Sum("bucketstatestore_webhook_admissions_total", "webhook", "validate")
	apiCalls := after.Sum("rest_client_requests_total") - before.Sum("rest_client_requests_total")
	probes := after.Sum("bucketstatestore_webhook_probes_total") - before.Sum("bucketstatestore_webhook_probes_total")
	s.Note("the webhook made %.0f API server calls for %.0f validations (%.2f each) and %.0f probes (as the default --probe-cache-ttl of 1m lapses)",
		apiCalls, admissions, apiCalls/max(admissions, 1), probes)

	// The floor of the accessKey design: the bare webhook that reads the one Secret per
	// validation that the webhook reads on purpose (it keeps no Secret between admissions).
	floor := newEndpoint("bare webhook + Secret GET", b.BareSecret.URL(server.ValidatePath), b.TLS, 256)
	var fp99, frps Pairs
	for rep := range o.reps {
		runs := interleave(rep, func() *Run {
			return closedLoop(ctx, web, valid, testkit.Admitted, handlerTargetConcurrency, o.warmup, o.window)
		}, func() *Run {
			return closedLoop(ctx, floor, valid, testkit.Admitted, handlerTargetConcurrency, o.warmup, o.window)
		})
		r.CheckRuns(fmt.Sprintf("handler overhead against the Secret-read floor, rep %d", rep+1), runs...)
		fp99.Add(latency(runs[0].Percentile(99)), latency(runs[1].Percentile(99)))
		frps.Add(runs[0].Throughput(), runs[1].Throughput())
	}
	s.Add(Row{Figure: fmt.Sprintf("c=%d p99 vs bare + Secret GET", handlerTargetConcurrency), Ours: fmtDurF(fp99.Ours()), Base: fmtDurF(fp99.Base()), Ratio: fp99.Ratio()})
	s.Add(Row{Figure: fmt.Sprintf("c=%d req/s vs bare + Secret GET", handlerTargetConcurrency), Ours: fmtRate(frps.Ours()), Base: fmtRate(frps.Base()), Ratio: frps.Ratio()})
	s.Note("the rows against bare + Secret GET compare with the floor of the accessKey design: the bare webhook reading the same Secret once per validation through the webhook's own reader")

	// The same store with authMethod IAM needs no Secret: the webhook's own work alone.
	iam, err := newReviewTemplate(admissionv1.Create, iamStore("bench-handler-iam", b.MinIO.Endpoint, bucket, "handler"), benchUser)
	if err != nil {
		return err
	}
	if _, err := web.review(ctx, iam, testkit.Admitted); err != nil {
		r.Fail("handler overhead, IAM store: the webhook does not admit it: %v", err)
		return nil
	}
	var p99, rps Pairs
	c := handlerTargetConcurrency
	for rep := range o.reps {
		runs := interleave(rep, func() *Run {
			wait := func() string { return "" }
			if rep == 0 {
				wait = profiler.capture(ctx, b.Webhook.MetricsAddr, fmt.Sprintf("webhook-c%d-iam", c), o.warmup, o.window)
			}
			run := closedLoop(ctx, web, iam, testkit.Admitted, c, o.warmup, o.window)
			if note := wait(); note != "" {
				s.Note("%s", note)
			}
			return run
		}, func() *Run {
			return closedLoop(ctx, bare, iam, testkit.Admitted, c, o.warmup, o.window)
		})
		r.CheckRuns(fmt.Sprintf("handler overhead, IAM store, rep %d", rep+1), runs...)
		p99.Add(latency(runs[0].Percentile(99)), latency(runs[1].Percentile(99)))
		rps.Add(runs[0].Throughput(), runs[1].Throughput())
	}
	s.Add(Row{Figure: fmt.Sprintf("c=%d p99, IAM store (no Secret read)", c), Ours: fmtDurF(p99.Ours()), Base: fmtDurF(p99.Base()), Ratio: p99.Ratio()})
	s.Add(Row{Figure: fmt.Sprintf("c=%d req/s, IAM store (no Secret read)", c), Ours: fmtRate(rps.Ours()), Base: fmtRate(rps.Base()), Ratio: rps.Ratio()})
	s.Note("the IAM rows are a diagnostic, not a target: the same handler without the SubjectAccessReview and the Secret read")
	return nil
}

// checkVerdicts makes sure the webhook really validates before it is timed: it must deny
// a store with a scheme in its endpoint and admit the valid one (which warms the cache).
func checkVerdicts(ctx context.Context, b *benchEnv, web *endpoint, valid reviewTemplate) error {
	bad := accessKeyStore("bench-invalid", "https://"+b.MinIO.Endpoint, bucket, "handler", benchSecret)
	invalid, err := newReviewTemplate(admissionv1.Create, bad, benchUser)
	if err != nil {
		return err
	}
	if _, err := web.review(ctx, invalid, testkit.Denied("without a scheme")); err != nil {
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
