package probe

import (
	"context"
	"testing"
	"time"
)

func TestS3ProberWaitsForASlotWithinItsBudget(t *testing.T) {
	// The first probe succeeds at its budget and keeps its slot while the clean-up of
	// its write check runs on: the abort is slower than the second probe's budget.
	fake := newFakeS3(map[string]s3Answer{"abort": {delay: 1800 * time.Millisecond}})
	srv := fake.start(t, false)
	prober := mustProber(t, S3Options{Timeout: 500 * time.Millisecond, MaxConcurrent: 1})
	cached := NewCache(prober, time.Minute, nil)
	first := testTarget(srv.Listener.Addr().String())
	second := first
	second.Path = "/stores/other/"

	if err := cached.Probe(context.Background(), first); err != nil {
		t.Fatalf("the first probe: want success, got %v", err)
	}
	err := cached.Probe(context.Background(), second)
	checkFailure(t, err, &Failure{Reason: ReasonBusy, Message: "the webhook is busy: it runs at most 1 probes at once " +
		"and no slot came free within the budget of 500ms; apply the store again in a moment"})
	if err := cached.Probe(context.Background(), first); err != nil {
		t.Errorf("a cache hit needs no slot: want success, got %v", err)
	}

	<-fake.aborted
	// The slot comes back when the clean-up ends; its request may still be in flight.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := cached.Probe(context.Background(), second)
		if err == nil {
			break
		}
		if ReasonOf(err) != ReasonBusy || time.Now().After(deadline) {
			t.Fatalf("after the clean-up: want success, got %v", err)
		}
	}
}

func TestS3ProberGivesUpWaitingForASlotWhenItsCallerDoes(t *testing.T) {
	fake := newFakeS3(map[string]s3Answer{"abort": {delay: 1800 * time.Millisecond}})
	srv := fake.start(t, false)
	prober := mustProber(t, S3Options{Timeout: 500 * time.Millisecond, MaxConcurrent: 1})
	target := testTarget(srv.Listener.Addr().String())
	if err := prober.Probe(context.Background(), target); err != nil {
		t.Fatalf("the first probe: want success, got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	err := prober.Probe(ctx, target)

	checkFailure(t, err, &Failure{Reason: ReasonCanceled, Message: "the probe was cancelled before it finished"})
	<-fake.aborted
}
