package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
)

// DefaultMaxConcurrent is how many probes may run at once when S3Options.MaxConcurrent
// is zero. Each holds at most a connection, a response of MaxResponseBytes and a few
// goroutines, so 32 of them stay within a few MiB; a GitOps burst of one store is merged
// by the Cache and takes one slot.
const DefaultMaxConcurrent = 32

// minPerEndpoint is the fewest probes one endpoint may run at once, unless the process
// may run fewer in all: enough for a burst of distinct stores at one S3 server, whose
// probes take tens of milliseconds each.
const minPerEndpoint = 4

// PerEndpointLimit is how many probes may run at once against one endpoint when the
// process may run maxConcurrent: a quarter of them, but at least minPerEndpoint (or all
// of them when there are fewer). An endpoint that holds its probes as long as it can
// (one that never answers the clean-up of the write check, say) then takes at most that
// share, and the rest stay free for every other endpoint.
func PerEndpointLimit(maxConcurrent int) int {
	if maxConcurrent <= 0 {
		maxConcurrent = DefaultMaxConcurrent
	}
	return max(maxConcurrent/4, min(maxConcurrent, minPerEndpoint))
}

// slots bounds the probes that run at once: across the process, so that what probes
// keep in memory is bounded, and against each endpoint, so that no one endpoint can take
// every slot and starve the others. A probe takes its endpoint's slot and then one of
// the process's before its first request, and gives both back when its last request,
// the clean-up of the write check included, has ended. A probe waiting for its
// endpoint's slot holds none of the process's.
type slots struct {
	all         *semaphore.Weighted
	n           int
	perEndpoint int

	mu        sync.Mutex
	endpoints map[string]*endpointSlots
}

// endpointSlots are one endpoint's slots. refs counts the probes that hold or wait for
// one, so that the entry goes when the last of them does and the map holds only
// endpoints being probed.
type endpointSlots struct {
	sem  *semaphore.Weighted
	refs int
}

func newSlots(n int) *slots {
	if n <= 0 {
		n = DefaultMaxConcurrent
	}
	return &slots{all: semaphore.NewWeighted(int64(n)), n: n, perEndpoint: PerEndpointLimit(n), endpoints: map[string]*endpointSlots{}}
}

// acquire waits for a slot of endpoint's (a limitKey) and one of the process's within
// ctx, the probe's budget. It returns the function that gives them back, or the Failure
// that ends the probe: Busy when the budget ran out while waiting.
func (s *slots) acquire(ctx context.Context, budget time.Duration, endpoint string) (release func(), err error) {
	h := s.endpoint(endpoint)
	if err := h.sem.Acquire(ctx, 1); err != nil {
		s.drop(endpoint)
		if errors.Is(context.Cause(ctx), errBudget) {
			probesBusyForEndpoint.Inc()
			return nil, &Failure{Reason: ReasonBusy, Message: fmt.Sprintf(
				"the webhook is busy: it runs at most %d probes at once against one endpoint, %q has that many running, and no slot came free within the budget of %s; apply the store again in a moment",
				s.perEndpoint, endpoint, budget), Err: err}
		}
		return nil, contextFailure(ctx, budget)
	}
	if err := s.all.Acquire(ctx, 1); err != nil {
		h.sem.Release(1)
		s.drop(endpoint)
		if errors.Is(context.Cause(ctx), errBudget) {
			return nil, &Failure{Reason: ReasonBusy, Message: fmt.Sprintf(
				"the webhook is busy: it runs at most %d probes at once and no slot came free within the budget of %s; apply the store again in a moment",
				s.n, budget), Err: err}
		}
		return nil, contextFailure(ctx, budget)
	}
	return func() {
		s.all.Release(1)
		h.sem.Release(1)
		s.drop(endpoint)
	}, nil
}

// endpoint returns endpoint's slots, counting the caller among their users.
func (s *slots) endpoint(endpoint string) *endpointSlots {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.endpoints[endpoint]
	if h == nil {
		h = &endpointSlots{sem: semaphore.NewWeighted(int64(s.perEndpoint))}
		s.endpoints[endpoint] = h
	}
	h.refs++
	return h
}

// drop is called once by each caller of endpoint when it is done with its slots.
func (s *slots) drop(endpoint string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.endpoints[endpoint]; h != nil {
		if h.refs--; h.refs == 0 {
			delete(s.endpoints, endpoint)
		}
	}
}

// limitKey is the endpoint t's probe shares slots by: host and port, the host in one
// spelling for every spelling of an address ("127.1", "2130706433" and "127.0.0.1" are
// one) and in lower case for a name, the port the probe connects to when none is written.
func limitKey(t Target) string {
	host, port, err := net.SplitHostPort(t.Endpoint)
	if err != nil {
		host, port = t.Endpoint, "443"
		if t.Insecure {
			port = "80"
		}
	}
	host = canonicalName(strings.Trim(host, "[]"))
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.Unmap().WithZone("").String()
	} else if a, _, ok := parseNumericIPv4(host); ok {
		host = a.String()
	}
	return net.JoinHostPort(host, port)
}
