package main

import (
	"context"
	"fmt"
	"net/url"
	"sync"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/kratix-community/statestore-webhook/internal/server"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// shippedMemoryLimitMiB is the memory limit the shipped Deployment and chart set
// (128Mi): past it the pod is killed, and both guards fail open.
const shippedMemoryLimitMiB = 128

// measureConnFlood is the peak RSS (VmHWM) of each webhook process, started afresh,
// while a connection flood from another loopback address (testkit.StartFlood: sockets
// that never start a handshake, then TLS connections that stay idle) runs beside rounds
// of admissions of the valid store, which must all be admitted. Without the server's
// connection limits such a flood took the webhook past the shipped limit.
func measureConnFlood(ctx context.Context, b *benchEnv, o options, r *Report) error {
	s := r.Section(fmt.Sprintf("Connection flood: peak RSS while %d sockets that never handshake and %d idle TLS connections are opened beside admissions (processes started afresh)",
		o.floodRaw, o.floodIdle), "webhook", "bare webhook")
	webPID, barePID, err := b.restartWebhooks(ctx)
	if err != nil {
		return err
	}
	tmpl, err := newReviewTemplate(admissionv1.Create, accessKeyStore("bench-connflood", b.MinIO.Endpoint, bucket, "connflood", benchSecret), benchUser)
	if err != nil {
		return err
	}
	web := newEndpoint("webhook", b.Webhook.URL(server.ValidatePath), b.TLS, o.floodStores)
	bare := newEndpoint("bare webhook", b.Bare.URL(server.ValidatePath), b.TLS, o.floodStores)

	flood := func(e *endpoint, pid int) (*Run, *testkit.Flood, float64, error) {
		u, err := url.Parse(e.url)
		if err != nil {
			return nil, nil, 0, err
		}
		run := NewRun(e.name)
		done := make(chan *testkit.Flood)
		floodTLS := b.TLS.Clone()
		floodTLS.ServerName = u.Hostname()
		go func() { done <- testkit.StartFlood(ctx, u.Host, o.floodRaw, o.floodIdle, floodTLS) }()
		var f *testkit.Flood
		for f == nil {
			var wg sync.WaitGroup
			for range o.floodStores {
				wg.Go(func() { run.Record(e.review(ctx, tmpl, testkit.Admitted)) })
			}
			wg.Wait()
			select {
			case f = <-done:
			default:
			}
		}
		defer f.Close()
		// One more round with the whole flood open.
		var wg sync.WaitGroup
		for range o.floodStores {
			wg.Go(func() { run.Record(e.review(ctx, tmpl, testkit.Admitted)) })
		}
		wg.Wait()
		peak, err := testkit.ProcStatusKiB(pid, "VmHWM")
		return run, f, float64(peak) / 1024, err
	}
	webRun, webFlood, webPeak, err := flood(web, webPID)
	if err != nil {
		return err
	}
	bareRun, bareFlood, barePeak, err := flood(bare, barePID)
	if err != nil {
		return err
	}
	r.CheckRuns("connection flood", webRun, bareRun)
	if exited, code := b.Webhook.Exited(); exited {
		r.Fail("the webhook exited (code %d) during the connection flood", code)
	}
	s.Add(Row{Figure: "peak RSS (VmHWM)", Ours: fmtMiB(webPeak), Base: fmtMiB(barePeak), Ratio: ratio(webPeak, barePeak),
		Target: fmt.Sprintf("<= %d MiB (the shipped limit)", shippedMemoryLimitMiB), Met: atMostIfAnswered(webPeak, shippedMemoryLimitMiB, webRun)})
	s.Add(Row{Figure: "admissions answered (all admitted)", Ours: fmt.Sprint(webRun.OK()), Base: fmt.Sprint(bareRun.OK()), Ratio: ratio(float64(webRun.OK()), float64(bareRun.OK()))})
	s.Note("the flood comes from %s; sockets opened %d / %d, idle TLS connections established %d / %d (the rest were refused or failed)",
		testkit.FloodSource, webFlood.Raw.Load(), bareFlood.Raw.Load(), webFlood.Idle.Load(), bareFlood.Idle.Load())
	s.Note("both build their server in internal/server, so both hold at most %d handshakes and %d connections (server.DefaultConnLimits)",
		server.DefaultConnLimits.MaxHandshakes, server.DefaultConnLimits.MaxConns)
	return nil
}
