package main

import (
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/kratix-community/statestore-webhook/internal/server"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// singlesPerRep is how many lone cold admissions make the "one probe" baseline of a
// repetition (their median).
const singlesPerRep = 5

// measureBurst sends burstSize identical admissions at once for a store nothing has
// probed yet, and counts the probes that reach MinIO through the counting proxy: the
// cache must merge them into one. Its p99 is compared with lone admissions of equally
// fresh stores, each making one probe. The connections are opened beforehand (with
// DELETE reviews, which the webhook admits without any work), so the figure is about
// the webhook, not about a thousand TLS handshakes.
func measureBurst(ctx context.Context, b *benchEnv, o options, r *Report) error {
	s := r.Section(fmt.Sprintf("Burst: %d identical admissions at once, empty cache (%d reps)", o.burstSize, o.reps),
		"burst", "one probe")
	web := newEndpoint("webhook", b.Webhook.URL(server.ValidatePath), b.TLS, o.burstSize+16)
	bare := newEndpoint("bare webhook", b.Bare.URL(server.ValidatePath), b.TLS, o.burstSize+16)
	fresh := 0
	store := func() (reviewTemplate, error) {
		fresh++
		return newReviewTemplate(admissionv1.Create, accessKeyStore("bench-burst", b.S3Proxy.Endpoint, bucket, fmt.Sprintf("burst-%d", fresh), benchSecret), benchUser)
	}
	deleteReview, err := newReviewTemplate(admissionv1.Delete, accessKeyStore("bench-burst", b.S3Proxy.Endpoint, bucket, "burst", benchSecret), benchUser)
	if err != nil {
		return err
	}

	var p99 Pairs
	var probeCounts []int64
	var bareP99 []float64
	single := func() *Run {
		before := b.S3Proxy.Uploads()
		run := sequential(ctx, web, singlesPerRep, func(int) (reviewTemplate, error) { return store() }, testkit.Admitted)
		if got := b.S3Proxy.Uploads() - before; got != singlesPerRep {
			r.Fail("burst: %d lone admissions of fresh stores made %d probes, want one each", singlesPerRep, got)
		}
		return run
	}
	var probes int64
	many := func() *Run {
		r.CheckRuns("burst, opening connections", burst(ctx, web, deleteReview, testkit.Admitted, o.burstSize))
		tmpl, err := store()
		if err != nil {
			run := NewRun("burst")
			run.Record(0, err)
			return run
		}
		before := b.S3Proxy.Uploads()
		run := burst(ctx, web, tmpl, testkit.Admitted, o.burstSize)
		probes = b.S3Proxy.Uploads() - before
		return run
	}
	metricsBefore, err := scrape(ctx, b.Webhook)
	if err != nil {
		return err
	}
	for rep := range o.reps {
		runs := interleave(rep, many, single)
		sound := r.CheckRuns(fmt.Sprintf("burst, rep %d", rep+1), runs...)
		p99.Add(latency(runs[0].Percentile(99)), latency(runs[1].Percentile(50)))
		probeCounts = append(probeCounts, probes)
		if probes == 0 {
			r.Fail("burst, rep %d: no probe reached MinIO, so the cache was not empty: nothing was measured", rep+1)
		}

		// The floor: the bare webhook answering the same burst.
		r.CheckRuns("burst floor, opening connections", burst(ctx, bare, deleteReview, testkit.Admitted, o.burstSize))
		tmpl, err := store()
		if err != nil {
			return err
		}
		floor := burst(ctx, bare, tmpl, testkit.Admitted, o.burstSize)
		r.CheckRuns(fmt.Sprintf("burst floor, rep %d", rep+1), floor)
		bareP99 = append(bareP99, latency(floor.Percentile(99)))
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
	s.Add(Row{Figure: "probes reaching MinIO, per burst", Ours: fmt.Sprint(probeCounts), Base: "1", Ratio: ratio(float64(worst), 1),
		Target: "exactly 1", Met: &allOne})
	s.Add(Row{Figure: "p99 (burst) vs median lone admission", Ours: fmtDurF(p99.Ours()), Base: fmtDurF(p99.Base()), Ratio: p99.Ratio(),
		Target: "<= 1.50x", Met: atMost(p99.Ratio(), 1.5)})
	s.Add(Row{Figure: "bare webhook, same burst, p99", Ours: fmtDurF(median(bareP99)), Base: fmtDurF(p99.Base()), Ratio: ratio(median(bareP99), p99.Base())})
	metricProbes := metricsAfter.Sum("statestore_webhook_probes_total") - metricsBefore.Sum("statestore_webhook_probes_total")
	s.Note("probes are counted by a proxy in front of MinIO (one POST ?uploads per probe); the webhook's statestore_webhook_probes_total rose by %.0f for %d bursts and %d lone admissions",
		metricProbes, o.reps, o.reps*singlesPerRep)
	s.Note("the bare-webhook row is the floor: answering %d requests at once with no work at all, against the same lone-admission baseline", o.burstSize)
	return nil
}
