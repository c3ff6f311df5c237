package check

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Stopped is the cause of a context that SignalContext cancelled.
type Stopped struct {
	Signal syscall.Signal
}

func (s Stopped) Error() string { return fmt.Sprintf("received %s", s.Signal) }

// SignalContext returns a context that SIGINT or SIGTERM cancels with a Stopped cause,
// and the function that stops listening for them.
func SignalContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-signals:
			cancel(Stopped{Signal: s.(syscall.Signal)})
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(signals)
		cancel(context.Canceled)
	}
}

// stoppedCode is the exit code of a run that ctx stopped: 128 plus the signal's number,
// as a shell reports a command a signal ended, or ExitUsage for another cause.
func stoppedCode(ctx context.Context) int {
	var s Stopped
	if errors.As(context.Cause(ctx), &s) {
		return 128 + int(s.Signal)
	}
	return ExitUsage
}
