package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/kratix-community/statestore-webhook/internal/server"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// unreachableSlack is what the target allows above the probe budget.
const unreachableSlack = 100 * time.Millisecond

// measureUnreachable is the time to a denial for a store whose endpoint accepts
// connections and never answers, against the webhook's --probe-timeout. Every store has
// its own path, so no two requests share a probe: one at a time, then several at once.
func measureUnreachable(ctx context.Context, b *benchEnv, o options, r *Report) error {
	s := r.Section(fmt.Sprintf("Unreachable endpoint: time to a denial for a black-holed endpoint (budget: --probe-timeout=%s)", probeBudget),
		"webhook", "budget")
	web := newEndpoint("webhook", b.Webhook.URL(server.ValidatePath), b.TLS, 64)
	want := testkit.Denied("(reason: Timeout)")
	var n int
	mk := func(int) (reviewTemplate, error) {
		n++
		return newReviewTemplate(admissionv1.Create,
			accessKeyStore("bench-unreachable", b.BlackHole.Endpoint, bucket, fmt.Sprintf("unreachable-%d", n), benchSecret), benchUser)
	}
	seq := sequential(ctx, web, o.unreachableSeq, mk, want)
	r.CheckRuns("unreachable endpoint, one at a time", seq)

	at := NewRun("webhook")
	var wg sync.WaitGroup
	tmpls := make([]reviewTemplate, o.unreachableConc)
	for i := range tmpls {
		t, err := mk(i)
		if err != nil {
			return err
		}
		tmpls[i] = t
	}
	for _, t := range tmpls {
		wg.Go(func() { at.Record(web.review(ctx, t, want)) })
	}
	wg.Wait()
	r.CheckRuns("unreachable endpoint, at once", at)

	limit := probeBudget + unreachableSlack
	for _, row := range []struct {
		what string
		run  *Run
	}{
		{fmt.Sprintf("%d one at a time, max", o.unreachableSeq), seq},
		{fmt.Sprintf("%d at once, max", o.unreachableConc), at},
	} {
		worst := row.run.Percentile(100)
		var met *bool
		if row.run.OK() > 0 {
			met = atMost(float64(worst), float64(limit))
		}
		s.Add(Row{Figure: row.what, Ours: fmtDur(worst), Base: fmtDur(probeBudget), Ratio: ratio(float64(worst), float64(probeBudget)),
			Target: "<= budget+100ms", Met: met})
	}
	s.Note("fastest denial: %s one at a time, %s at once", fmtDur(seq.Percentile(0)), fmtDur(at.Percentile(0)))
	return nil
}
