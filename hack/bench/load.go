package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// requestTimeout is how long the API server waits for the webhooks (the shipped
// configurations' timeoutSeconds): a slower answer is a failed admission there, so it
// is a failed request here.
const requestTimeout = 10 * time.Second

// endpoint is a webhook server the harness sends AdmissionReviews to over HTTPS.
type endpoint struct {
	name   string
	url    string
	client *http.Client
}

// newEndpoint returns an endpoint for url with its own pool of at most maxConns
// kept-alive connections, so the two sides of a comparison never share one. A request
// that finds every connection busy waits for one, and that wait is part of its latency.
func newEndpoint(name, url string, tlsConfig *tls.Config, maxConns int) *endpoint {
	tr := &http.Transport{
		TLSClientConfig:     tlsConfig.Clone(),
		MaxConnsPerHost:     maxConns,
		MaxIdleConns:        maxConns,
		MaxIdleConnsPerHost: maxConns,
		IdleConnTimeout:     2 * time.Minute,
		DisableCompression:  true,
		// The webhook offers HTTP/1.1 only, as the API server's client then uses.
		ForceAttemptHTTP2: false,
	}
	return &endpoint{name: name, url: url, client: &http.Client{Transport: tr, Timeout: requestTimeout}}
}

// review sends one AdmissionReview from tmpl and checks the verdict. The latency runs
// from sending the request to having read the whole answer.
func (e *endpoint) review(ctx context.Context, tmpl reviewTemplate, want testkit.Verdict) (time.Duration, error) {
	d, _, err := e.answer(ctx, tmpl, want)
	return d, err
}

// answer is review that also returns the answer's body.
func (e *endpoint) answer(ctx context.Context, tmpl reviewTemplate, want testkit.Verdict) (time.Duration, []byte, error) {
	uid := nextUID()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(tmpl.body(uid)))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		return 0, nil, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, nil, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, body)
	}
	return d, body, testkit.CheckReview(body, types.UID(uid), want)
}

// closedLoop keeps conc requests in flight: each worker sends the next request as soon
// as the last is answered. Requests started during warmup are not timed, those started
// in the following window are; errors count whenever they happen. Every worker sends at
// least one request, however late it gets to run.
func closedLoop(ctx context.Context, e *endpoint, tmpl reviewTemplate, want testkit.Verdict, conc int, warmup, window time.Duration) *Run {
	run := NewRun(e.name)
	measureFrom := time.Now().Add(warmup)
	stopAt := measureFrom.Add(window)
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for first := true; ; first = false {
				sent := time.Now()
				if !first && !sent.Before(stopAt) || ctx.Err() != nil {
					return
				}
				d, err := e.review(ctx, tmpl, want)
				if err != nil || !sent.Before(measureFrom) {
					run.Record(d, err)
				}
			}
		})
	}
	wg.Wait()
	run.SetElapsed(window)
	return run
}

// openLoop sends requests at rate per second for window, whether or not the earlier
// ones were answered, as independent clients would. It keeps at most maxInFlight
// requests open; a request that would exceed that is not sent and counts as an error,
// because the server is not keeping up.
func openLoop(ctx context.Context, e *endpoint, tmpl reviewTemplate, want testkit.Verdict, rate float64, window time.Duration, maxInFlight int) *Run {
	run := NewRun(e.name)
	total := int(rate * window.Seconds())
	slots := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range total {
		if ctx.Err() != nil {
			break
		}
		due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		select {
		case slots <- struct{}{}:
		default:
			run.Record(0, fmt.Errorf("not sent: %d requests already waiting for an answer", maxInFlight))
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			run.Record(e.review(ctx, tmpl, want))
		})
	}
	wg.Wait()
	run.SetElapsed(window)
	return run
}

// burst sends n requests at once: every one is ready before any is sent.
func burst(ctx context.Context, e *endpoint, tmpl reviewTemplate, want testkit.Verdict, n int) *Run {
	run := NewRun(e.name)
	start := make(chan struct{})
	var ready, wg sync.WaitGroup
	ready.Add(n)
	for range n {
		wg.Go(func() {
			ready.Done()
			<-start
			run.Record(e.review(ctx, tmpl, want))
		})
	}
	ready.Wait()
	began := time.Now()
	close(start)
	wg.Wait()
	run.SetElapsed(time.Since(began))
	return run
}

// sequential sends n requests one after the other, each made by mk.
func sequential(ctx context.Context, e *endpoint, n int, mk func(i int) (reviewTemplate, error), want testkit.Verdict) *Run {
	run := NewRun(e.name)
	began := time.Now()
	for i := range n {
		tmpl, err := mk(i)
		if err != nil {
			run.Record(0, err)
			continue
		}
		run.Record(e.review(ctx, tmpl, want))
	}
	run.SetElapsed(time.Since(began))
	return run
}
