package testkit

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// PollInterval is how often Poll asks.
const PollInterval = 50 * time.Millisecond

// Poll calls cond every PollInterval, at once first, until it reports done, returns an
// error, or timeout passes or ctx ends; it is the one polling loop of the tests.
// A condition that wants its last state in the failure keeps it and adds it to the
// error Poll returns.
func Poll(ctx context.Context, timeout time.Duration, cond func(ctx context.Context) (done bool, err error)) error {
	return wait.PollUntilContextTimeout(ctx, PollInterval, timeout, true, cond)
}
