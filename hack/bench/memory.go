package main

import (
	"context"
	"fmt"
	"math"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/kratix-community/statestore-webhook/internal/server"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

const (
	// memoryTargetMiB is the target for the webhook's peak RSS: half the shipped 128Mi limit.
	memoryTargetMiB = 64
	// memoryConns is the size of each side's connection pool.
	memoryConns = 64
	// maxInFlight bounds the requests sent and not yet answered, waiting for a
	// connection included; past it the server is not keeping up.
	maxInFlight = 2048
)

// measureMemory is the peak RSS (VmHWM) of each webhook process, started afresh, while
// it is sent admissions of the valid, cached store at a fixed rate, open loop. The
// webhook runs first, then the bare webhook, each alone.
func measureMemory(ctx context.Context, b *benchEnv, o options, r *Report) error {
	s := r.Section(fmt.Sprintf("Memory: peak RSS at %.0f admissions/s for %s (open loop, processes started afresh)", o.memRate, o.memWindow),
		"webhook", "bare webhook")
	webPID, barePID, err := b.restartWebhooks(ctx)
	if err != nil {
		return err
	}
	tmpl, err := newReviewTemplate(admissionv1.Create, accessKeyStore("bench-memory", b.MinIO.Endpoint, bucket, "memory", benchSecret), benchUser)
	if err != nil {
		return err
	}
	deleteReview, err := newReviewTemplate(admissionv1.Delete, accessKeyStore("bench-memory", b.MinIO.Endpoint, bucket, "memory", benchSecret), benchUser)
	if err != nil {
		return err
	}
	// The connections are opened before the load and there are at most memoryConns of
	// them, as a client with a bounded pool keeps; otherwise a slow moment turns into a
	// storm of TLS handshakes and the figure measures connection buffers.
	web := newEndpoint("webhook", b.Webhook.URL(server.ValidatePath), b.TLS, memoryConns)
	bare := newEndpoint("bare webhook", b.Bare.URL(server.ValidatePath), b.TLS, memoryConns)

	measure := func(e *endpoint, pid int) (*Run, float64, float64, error) {
		// One admission first: it fills the webhook's probe cache.
		if _, err := e.review(ctx, tmpl, testkit.Admitted); err != nil {
			return nil, 0, 0, fmt.Errorf("%s: the first admission: %w", e.name, err)
		}
		r.CheckRuns("memory, opening connections", burst(ctx, e, deleteReview, testkit.Admitted, memoryConns))
		idle, err := testkit.ProcStatusKiB(pid, "VmRSS")
		if err != nil {
			return nil, 0, 0, err
		}
		run := openLoop(ctx, e, tmpl, testkit.Admitted, o.memRate, o.memWindow, maxInFlight)
		peak, err := testkit.ProcStatusKiB(pid, "VmHWM")
		return run, float64(idle) / 1024, float64(peak) / 1024, err
	}
	webRun, webIdle, webPeak, err := measure(web, webPID)
	if err != nil {
		return err
	}
	bareRun, bareIdle, barePeak, err := measure(bare, barePID)
	if err != nil {
		return err
	}
	r.CheckRuns("memory", webRun, bareRun)

	s.Add(Row{Figure: "peak RSS (VmHWM)", Ours: fmtMiB(webPeak), Base: fmtMiB(barePeak), Ratio: ratio(webPeak, barePeak),
		Target: fmt.Sprintf("<= %d MiB", memoryTargetMiB), Met: atMostIfAnswered(webPeak, memoryTargetMiB, webRun)})
	s.Add(Row{Figure: "RSS before the load", Ours: fmtMiB(webIdle), Base: fmtMiB(bareIdle), Ratio: ratio(webIdle, bareIdle)})
	s.Add(Row{Figure: "answered as expected", Ours: fmtRate(webRun.Throughput()), Base: fmtRate(bareRun.Throughput()), Ratio: ratio(webRun.Throughput(), bareRun.Throughput())})
	s.Add(Row{Figure: "p99", Ours: fmtDur(webRun.Percentile(99)), Base: fmtDur(bareRun.Percentile(99)), Ratio: ratio(float64(webRun.Percentile(99)), float64(bareRun.Percentile(99)))})
	s.Note("one run per side (a peak is not a median); the processes are restarted first so earlier figures do not count")
	s.Note("each side gets %d kept-alive connections, opened before the load; requests wait for a free one", memoryConns)
	return nil
}

// atMostIfAnswered is atMost, but only when the run answered anything: the memory of a
// process that served nothing says nothing.
func atMostIfAnswered(v, limit float64, run *Run) *bool {
	if run.OK() == 0 {
		return nil
	}
	return atMost(v, limit)
}

func fmtMiB(v float64) string {
	if math.IsNaN(v) || v <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB", v)
}
