package probe

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestPerEndpointLimit(t *testing.T) {
	tests := map[string]struct{ all, want int }{
		"the default process-wide limit gives an endpoint a quarter": {all: 0, want: DefaultMaxConcurrent / 4},
		"a large limit gives an endpoint a quarter":                  {all: 64, want: 16},
		"an endpoint gets at least four slots":                       {all: 8, want: 4},
		"an endpoint gets every slot when there are four or fewer":   {all: 3, want: 3},
		"one slot is one slot":                                       {all: 1, want: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := PerEndpointLimit(tc.all); got != tc.want {
				t.Errorf("PerEndpointLimit(%d) = %d, want %d", tc.all, got, tc.want)
			}
		})
	}
}

func TestLimitKey(t *testing.T) {
	tests := map[string]struct {
		endpoint string
		insecure bool
		want     string
	}{
		"an address and port are the endpoint":            {endpoint: "127.0.0.1:9000", want: "127.0.0.1:9000"},
		"a short numeric spelling is the address":         {endpoint: "127.1:9000", want: "127.0.0.1:9000"},
		"a decimal spelling is the address":               {endpoint: "2130706433:9000", want: "127.0.0.1:9000"},
		"a hexadecimal spelling is the address":           {endpoint: "0x7f000001:9000", want: "127.0.0.1:9000"},
		"an IPv4-mapped IPv6 address is the IPv4 address": {endpoint: "[::ffff:127.0.0.1]:9000", want: "127.0.0.1:9000"},
		"an IPv6 address keeps its brackets":              {endpoint: "[2001:DB8::1]:9000", want: "[2001:db8::1]:9000"},
		"a name is lowercased without its final dot":      {endpoint: "S3.Example.COM.:9000", want: "s3.example.com:9000"},
		"without a port HTTPS's is the endpoint's":        {endpoint: "s3.example.com", want: "s3.example.com:443"},
		"without a port plain HTTP's is the endpoint's":   {endpoint: "s3.example.com", insecure: true, want: "s3.example.com:80"},
		"the same host on another port is another server": {endpoint: "127.0.0.1:9001", want: "127.0.0.1:9001"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			target := Target{Endpoint: tc.endpoint, Insecure: tc.insecure}
			if got := limitKey(target); got != tc.want {
				t.Errorf("limitKey(%q) = %q, want %q", tc.endpoint, got, tc.want)
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

func TestSlotsGiveEachEndpointOnlyItsShare(t *testing.T) {
	const budget = 20 * time.Millisecond
	s := newSlots(8) // four an endpoint
	var releases []func()
	take := func(endpoint string) error {
		release, err := s.acquire(budgetCtx(t, budget), budget, endpoint)
		if err == nil {
			releases = append(releases, release)
		}
		return err
	}
	for i := range 4 {
		if err := take("hostile.example:443"); err != nil {
			t.Fatalf("slot %d of the hostile endpoint: %v", i, err)
		}
	}
	busy := testutil.ToFloat64(probesBusyForEndpoint)

	checkFailure(t, take("hostile.example:443"), &Failure{Reason: ReasonBusy, Message: `the webhook is busy: it runs at most 4 probes ` +
		`at once against one endpoint, "hostile.example:443" has that many running, and no slot came free within the budget of 20ms; ` +
		`apply the store again in a moment`})
	if got := testutil.ToFloat64(probesBusyForEndpoint) - busy; got != 1 {
		t.Errorf("probes_busy_for_endpoint_total grew by %v, want 1", got)
	}
	for i := range 4 {
		if err := take(fmt.Sprintf("s3-%d.example:443", i)); err != nil {
			t.Errorf("another endpoint beside the hostile one: %v", err)
		}
	}
	checkFailure(t, take("s3-4.example:443"), &Failure{Reason: ReasonBusy, Message: "the webhook is busy: it runs at most 8 probes at once " +
		"and no slot came free within the budget of 20ms; apply the store again in a moment"})

	for _, release := range releases {
		release()
	}
	if len(s.endpoints) != 0 {
		t.Errorf("after every slot came back the limiter still tracks %d endpoints", len(s.endpoints))
	}
}

func TestSlotsHandAFreedSlotToAProbeWaitingForIt(t *testing.T) {
	s := newSlots(1)
	release, err := s.acquire(budgetCtx(t, time.Minute), time.Minute, "s3.example:443")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		release, err := s.acquire(budgetCtx(t, time.Minute), time.Minute, "s3.example:443")
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
	checkFailure(t, err, withEndpoint(&Failure{Reason: ReasonBusy, Message: `the webhook is busy: it runs at most 1 probes at once against one endpoint, ` +
		`"ENDPOINT" has that many running, and no slot came free within the budget of 1s; apply the store again in a moment`}, first.Endpoint))
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
// every probe's slot as long as it may. Eight probes of it at once get only its four
// slots, and a store at another endpoint is still probed.
func TestS3ProberKeepsAnEndpointToItsShareOfTheSlots(t *testing.T) {
	const budget = 2 * time.Second
	gate := make(chan struct{})
	hostile := newFakeS3(map[string]s3Answer{"abort": {gate: gate}})
	hostileSrv := hostile.start(t, false)
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
