package probe

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/semaphore"
)

// DefaultMaxConcurrent is how many probes may run at once when S3Options.MaxConcurrent
// is zero. Each holds at most a connection, a response of MaxResponseBytes and a few
// goroutines, so 32 of them stay within a few MiB; a GitOps burst of one store is merged
// by the Cache and takes one slot.
const DefaultMaxConcurrent = 32

// slots bounds the probes that run at once across the process. A probe takes a slot
// before its first request and gives it back when its last one, the clean-up of the
// write check included, has ended, so the bound holds for everything a probe keeps in
// memory.
type slots struct {
	sem *semaphore.Weighted
	n   int
}

func newSlots(n int) *slots {
	if n <= 0 {
		n = DefaultMaxConcurrent
	}
	return &slots{sem: semaphore.NewWeighted(int64(n)), n: n}
}

// acquire waits for a slot within ctx, the probe's budget. It returns nil with a slot
// taken, or the Failure that ends the probe: Busy when the budget ran out while waiting.
func (s *slots) acquire(ctx context.Context, budget time.Duration) error {
	if err := s.sem.Acquire(ctx, 1); err != nil {
		if errors.Is(context.Cause(ctx), errBudget) {
			return &Failure{Reason: ReasonBusy, Message: fmt.Sprintf(
				"the webhook is busy: it runs at most %d probes at once and no slot came free within the budget of %s; apply the store again in a moment",
				s.n, budget), Err: err}
		}
		return contextFailure(ctx, budget)
	}
	return nil
}

func (s *slots) release() { s.sem.Release(1) }
