package probe

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestPerHostLimit(t *testing.T) {
	tests := map[string]struct{ all, want int }{
		"the default process-wide limit gives a host a quarter": {all: 0, want: DefaultMaxConcurrent / 4},
		"a large limit gives a host a quarter":                  {all: 64, want: 16},
		"a host gets at least four slots":                       {all: 8, want: 4},
		"a host gets every slot when there are four or fewer":   {all: 3, want: 3},
		"one slot is one slot":                                  {all: 1, want: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := PerHostLimit(tc.all); got != tc.want {
				t.Errorf("PerHostLimit(%d) = %d, want %d", tc.all, got, tc.want)
			}
		})
	}
}

func TestLimitHost(t *testing.T) {
	tests := map[string]struct{ endpoint, want string }{
		"the port is not part of the host":                {endpoint: "127.0.0.1:9000", want: "127.0.0.1"},
		"a short numeric spelling is the address":         {endpoint: "127.1:9000", want: "127.0.0.1"},
		"a decimal spelling is the address":               {endpoint: "2130706433", want: "127.0.0.1"},
		"a hexadecimal spelling is the address":           {endpoint: "0x7f000001:80", want: "127.0.0.1"},
		"an IPv4-mapped IPv6 address is the IPv4 address": {endpoint: "[::ffff:127.0.0.1]:9000", want: "127.0.0.1"},
		"an IPv6 address loses its brackets":              {endpoint: "[2001:db8::1]:9000", want: "2001:db8::1"},
		"a name is lowercased without its final dot":      {endpoint: "S3.Example.COM.:443", want: "s3.example.com"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := limitHost(tc.endpoint); got != tc.want {
				t.Errorf("limitHost(%q) = %q, want %q", tc.endpoint, got, tc.want)
			}
		})
	}
}

// budgetCtx is a probe's context with a budget of d, which ends with errBudget as the
// prober's does.
func budgetCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeoutCause(context.Background(), d, errBudget)
	t.Cleanup(cancel)
	return ctx
}

func TestSlotsGiveEachHostOnlyItsShare(t *testing.T) {
	const budget = 20 * time.Millisecond
	s := newSlots(8) // four a host
	var releases []func()
	take := func(host string) error {
		release, err := s.acquire(budgetCtx(t, budget), budget, host)
		if err == nil {
			releases = append(releases, release)
		}
		return err
	}
	for i := range 4 {
		if err := take("hostile.example"); err != nil {
			t.Fatalf("slot %d of the hostile host: %v", i, err)
		}
	}
	busy := testutil.ToFloat64(probesBusyForHost)

	checkFailure(t, take("hostile.example"), &Failure{Reason: ReasonBusy, Message: `the webhook is busy: it runs at most 4 probes ` +
		`at once against one endpoint host, "hostile.example" has that many running, and no slot came free within the budget of 20ms; ` +
		`apply the store again in a moment`})
	if got := testutil.ToFloat64(probesBusyForHost) - busy; got != 1 {
		t.Errorf("probes_busy_for_endpoint_total grew by %v, want 1", got)
	}
	for i := range 4 {
		if err := take(fmt.Sprintf("s3-%d.example", i)); err != nil {
			t.Errorf("another host beside the hostile one: %v", err)
		}
	}
	checkFailure(t, take("s3-4.example"), &Failure{Reason: ReasonBusy, Message: "the webhook is busy: it runs at most 8 probes at once " +
		"and no slot came free within the budget of 20ms; apply the store again in a moment"})

	for _, release := range releases {
		release()
	}
	if len(s.hosts) != 0 {
		t.Errorf("after every slot came back the limiter still tracks %d hosts", len(s.hosts))
	}
}

func TestSlotsHandAFreedSlotToAProbeWaitingForIt(t *testing.T) {
	s := newSlots(1)
	release, err := s.acquire(budgetCtx(t, time.Minute), time.Minute, "s3.example")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		release, err := s.acquire(budgetCtx(t, time.Minute), time.Minute, "s3.example")
		if err == nil {
			release()
		}
		got <- err
	}()

	release()

	if err := <-got; err != nil {
		t.Errorf("the waiting probe: %v", err)
	}
}

func TestS3ProberHoldsItsSlotUntilTheCleanUpEnds(t *testing.T) {
	// The first probe succeeds at its budget and keeps its slot while the clean-up of
	// its write check is held back.
	gate := make(chan struct{})
	fake := newFakeS3(map[string]s3Answer{"abort": {gate: gate}})
	srv := fake.start(t, false)
	prober := mustProber(t, S3Options{Timeout: time.Second, MaxConcurrent: 1})
	prober.abortTimeout = time.Minute
	cached := NewCache(prober, time.Minute, nil)
	first := testTarget(srv.Listener.Addr().String())
	second := first
	second.Path = "/stores/other/"

	if err := cached.Probe(context.Background(), first); err != nil {
		t.Fatalf("the first probe: want success, got %v", err)
	}
	err := cached.Probe(context.Background(), second)
	checkFailure(t, err, &Failure{Reason: ReasonBusy, Message: `the webhook is busy: it runs at most 1 probes at once against one endpoint host, ` +
		`"127.0.0.1" has that many running, and no slot came free within the budget of 1s; apply the store again in a moment`})
	if err := cached.Probe(context.Background(), first); err != nil {
		t.Errorf("a cache hit needs no slot: want success, got %v", err)
	}

	close(gate)
	<-fake.aborted
	// The slot comes back when the clean-up ends, within the next probe's budget.
	if err := cached.Probe(context.Background(), second); err != nil {
		t.Errorf("after the clean-up: want success, got %v", err)
	}
}

func TestS3ProberGivesUpWaitingForASlotWhenItsCallerDoes(t *testing.T) {
	gate := make(chan struct{})
	fake := newFakeS3(map[string]s3Answer{"abort": {gate: gate}})
	srv := fake.start(t, false)
	t.Cleanup(func() { close(gate) })
	prober := mustProber(t, S3Options{Timeout: time.Second, MaxConcurrent: 1})
	prober.abortTimeout = time.Minute
	target := testTarget(srv.Listener.Addr().String())
	if err := prober.Probe(context.Background(), target); err != nil {
		t.Fatalf("the first probe: want success, got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	err := prober.Probe(ctx, target)

	checkFailure(t, err, &Failure{Reason: ReasonCanceled, Message: "the probe was cancelled before it finished"})
}

// TestS3ProberKeepsAnEndpointToItsShareOfTheSlots is the starvation of issue 18: an
// endpoint that answers at once but never answers the clean-up of the write check holds
// every probe's slot as long as it may. Eight probes of it at once get only their host's
// four slots, and a store at another endpoint is still probed.
func TestS3ProberKeepsAnEndpointToItsShareOfTheSlots(t *testing.T) {
	const budget = 2 * time.Second
	gate := make(chan struct{})
	hostile := newFakeS3(map[string]s3Answer{"abort": {gate: gate}})
	hostileSrv := hostile.startOn(t, "127.0.0.2", false)
	t.Cleanup(func() { close(gate) })
	other := newFakeS3(nil).start(t, false)
	prober := mustProber(t, S3Options{Timeout: budget, MaxConcurrent: 8})
	prober.abortTimeout = time.Minute

	results := make(chan error, 8)
	for i := range 8 {
		target := testTarget(hostileSrv.Listener.Addr().String())
		target.Path = fmt.Sprintf("/stores/%d/", i)
		go func() { results <- prober.Probe(context.Background(), target) }()
	}
	counts := map[Reason]int{}
	for range 8 {
		err := <-results
		counts[ReasonOf(err)]++
		if r := ReasonOf(err); r != ReasonOK && r != ReasonBusy {
			t.Errorf("a probe of the hostile endpoint: %v", err)
		}
	}
	if counts[ReasonOK] != 4 || counts[ReasonBusy] != 4 {
		t.Errorf("the hostile endpoint's probes ended %v, want 4 OK (their slots held by the clean-up) and 4 Busy", counts)
	}

	err := prober.Probe(context.Background(), testTarget(other.Listener.Addr().String()))

	checkFailure(t, err, nil)
}
