package probe

import (
	"context"
	"errors"
	"fmt"
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

// minPerHost is the fewest probes one endpoint host may run at once, unless the process
// may run fewer in all: enough for a burst of distinct stores at one S3 server, whose
// probes take tens of milliseconds each.
const minPerHost = 4

// PerHostLimit is how many probes may run at once against one endpoint host when the
// process may run maxConcurrent: a quarter of them, but at least minPerHost (or all of
// them when there are fewer). An endpoint that holds its probes as long as it can (one
// that never answers the clean-up of the write check, say) then takes at most that
// share, and the rest stay free for every other endpoint.
func PerHostLimit(maxConcurrent int) int {
	if maxConcurrent <= 0 {
		maxConcurrent = DefaultMaxConcurrent
	}
	return max(maxConcurrent/4, min(maxConcurrent, minPerHost))
}

// slots bounds the probes that run at once: across the process, so that what probes
// keep in memory is bounded, and against each endpoint host, so that no one endpoint
// can take every slot and starve the others. A probe takes its host's slot and then one
// of the process's before its first request, and gives both back when its last request,
// the clean-up of the write check included, has ended. A probe waiting for its host's
// slot holds none of the process's.
type slots struct {
	all     *semaphore.Weighted
	n       int
	perHost int

	mu    sync.Mutex
	hosts map[string]*hostSlots
}

// hostSlots are one endpoint host's slots. refs counts the probes that hold or wait for
// one, so that the entry goes when the last of them does and the map holds only hosts
// being probed.
type hostSlots struct {
	sem  *semaphore.Weighted
	refs int
}

func newSlots(n int) *slots {
	if n <= 0 {
		n = DefaultMaxConcurrent
	}
	return &slots{all: semaphore.NewWeighted(int64(n)), n: n, perHost: PerHostLimit(n), hosts: map[string]*hostSlots{}}
}

// acquire waits for a slot of host's and one of the process's within ctx, the probe's
// budget. It returns the function that gives them back, or the Failure that ends the
// probe: Busy when the budget ran out while waiting.
func (s *slots) acquire(ctx context.Context, budget time.Duration, host string) (release func(), err error) {
	h := s.host(host)
	if err := h.sem.Acquire(ctx, 1); err != nil {
		s.drop(host)
		if errors.Is(context.Cause(ctx), errBudget) {
			probesBusyForHost.Inc()
			return nil, &Failure{Reason: ReasonBusy, Message: fmt.Sprintf(
				"the webhook is busy: it runs at most %d probes at once against one endpoint host, %q has that many running, and no slot came free within the budget of %s; apply the store again in a moment",
				s.perHost, host, budget), Err: err}
		}
		return nil, contextFailure(ctx, budget)
	}
	if err := s.all.Acquire(ctx, 1); err != nil {
		h.sem.Release(1)
		s.drop(host)
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
		s.drop(host)
	}, nil
}

// host returns host's slots, counting the caller among their users.
func (s *slots) host(host string) *hostSlots {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hosts[host]
	if h == nil {
		h = &hostSlots{sem: semaphore.NewWeighted(int64(s.perHost))}
		s.hosts[host] = h
	}
	h.refs++
	return h
}

// drop is called once by each caller of host when it is done with the host's slots.
func (s *slots) drop(host string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.hosts[host]; h != nil {
		if h.refs--; h.refs == 0 {
			delete(s.hosts, host)
		}
	}
}

// limitHost is the host an endpoint's probes share slots by: the host without its port,
// since ports cost nothing to multiply, in one spelling for every spelling of an address
// ("127.1", "2130706433" and "127.0.0.1" are one host) and in lower case for a name.
func limitHost(endpoint string) string {
	host := canonicalName(strings.Trim(endpointHost(endpoint), "[]"))
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().WithZone("").String()
	}
	if a, _, ok := parseNumericIPv4(host); ok {
		return a.String()
	}
	return host
}
