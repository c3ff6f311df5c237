package main

import (
	"context"
	"fmt"
	"strings"
	"sync"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/utils/ptr"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
	"github.com/kratix-community/statestore-webhook/internal/server"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// measureFlood is the peak RSS (VmHWM) of each webhook process, started afresh, while
// it is sent rounds of stores at once, each store naming its own local endpoint that
// streams an endless answer to the probe (localenv.HostileAnswers). The webhook must
// deny every one as ResponseTooLarge; the bare webhook, which probes nothing, admits
// them and gives the floor of answering that many requests.
func measureFlood(ctx context.Context, b *benchEnv, o options, r *Report) error {
	s := r.Section(fmt.Sprintf("Hostile flood: peak RSS while %d rounds of %d stores at once name endpoints that stream endless answers (processes started afresh)",
		o.floodRounds, o.floodStores), "webhook", "bare webhook")
	webPID, barePID, err := b.restartWebhooks(ctx)
	if err != nil {
		return err
	}
	kinds := localenv.HostileKinds()
	tmpls := make([]reviewTemplate, o.floodStores)
	for i := range tmpls {
		h, err := localenv.StartHostile(kinds[i%len(kinds)])
		if err != nil {
			return err
		}
		defer func() { _ = h.Stop() }()
		store := accessKeyStore(fmt.Sprintf("bench-flood-%d", i), h.Endpoint, bucket, "flood", benchSecret)
		store.Spec.Insecure = ptr.To(true)
		if tmpls[i], err = newReviewTemplate(admissionv1.Create, store, benchUser); err != nil {
			return err
		}
	}
	web := newEndpoint("webhook", b.Webhook.URL(server.ValidatePath), b.TLS, o.floodStores)
	bare := newEndpoint("bare webhook", b.Bare.URL(server.ValidatePath), b.TLS, o.floodStores)

	flood := func(e *endpoint, pid int, want testkit.Verdict) (*Run, float64, float64, error) {
		idle, err := testkit.ProcStatusKiB(pid, "VmRSS")
		if err != nil {
			return nil, 0, 0, err
		}
		run := NewRun(e.name)
		for range o.floodRounds {
			var wg sync.WaitGroup
			for _, t := range tmpls {
				wg.Go(func() { run.Record(e.review(ctx, t, want)) })
			}
			wg.Wait()
		}
		peak, err := testkit.ProcStatusKiB(pid, "VmHWM")
		return run, float64(idle) / 1024, float64(peak) / 1024, err
	}
	webRun, webIdle, webPeak, err := flood(web, webPID, testkit.Denied("(reason: ResponseTooLarge)"))
	if err != nil {
		return err
	}
	bareRun, bareIdle, barePeak, err := flood(bare, barePID, testkit.Admitted)
	if err != nil {
		return err
	}
	r.CheckRuns("hostile flood", webRun, bareRun)
	if exited, code := b.Webhook.Exited(); exited {
		r.Fail("the webhook exited (code %d) during the hostile flood", code)
	}

	s.Add(Row{Figure: "peak RSS (VmHWM)", Ours: fmtMiB(webPeak), Base: fmtMiB(barePeak), Ratio: ratio(webPeak, barePeak),
		Target: fmt.Sprintf("<= %d MiB", memoryTargetMiB), Met: atMostIfAnswered(webPeak, memoryTargetMiB, webRun)})
	s.Add(Row{Figure: "RSS before the flood", Ours: fmtMiB(webIdle), Base: fmtMiB(bareIdle), Ratio: ratio(webIdle, bareIdle)})
	s.Add(Row{Figure: "p99 answer", Ours: fmtDur(webRun.Percentile(99)), Base: fmtDur(bareRun.Percentile(99)), Ratio: ratio(float64(webRun.Percentile(99)), float64(bareRun.Percentile(99)))})
	s.Note("the webhook denies each store as ResponseTooLarge (checked); %d kinds of endless answer: %s", len(kinds), strings.Join(kinds, "; "))
	s.Note("each side gets %d connections, one per store of a round", o.floodStores)
	return measureConnFlood(ctx, b, o, r)
}
