package testkit

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// Suite is the environment a test package starts once in TestMain and all its tests
// share: real processes that must not outlive the test binary, even when the run is
// interrupted.
//
//	func TestMain(m *testing.M) {
//		os.Exit(testkit.Suite{Name: "integration environment", Start: start, Stop: stop}.Run(m.Run))
//	}
type Suite struct {
	// Name is what the messages call the environment.
	Name string
	// Start brings the environment up. ^C or SIGTERM cancels ctx; on an error Start
	// must have stopped whatever it started.
	Start func(ctx context.Context) error
	// Stop ends the environment. Run calls it once: after the tests, or at ^C or
	// SIGTERM during them.
	Stop func() error
	// Output receives what Run reports; nil means os.Stderr.
	Output io.Writer

	// exit ends the process after a signal; nil means os.Exit. Tests replace it.
	exit func(code int)
}

// Run starts the environment, calls tests (m.Run, with any set-up before it and checks
// after it), stops the environment and returns the exit code for os.Exit. ^C or SIGTERM
// during the tests stops the environment and exits 1 at once.
func (s Suite) Run(tests func() int) int {
	out, exit := s.Output, s.exit
	if out == nil {
		out = os.Stderr
	}
	if exit == nil {
		exit = os.Exit
	}
	// ^C during the bring-up cancels it, and Start cleans up after itself.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	began := time.Now()
	err := s.Start(ctx)
	cancel()
	if err != nil {
		fmt.Fprintf(out, "FAIL: the %s did not come up:\n%v\n", s.Name, err)
		return 1
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			if err := s.Stop(); err != nil {
				fmt.Fprintf(out, "stopping the %s: %v\n", s.Name, err)
			}
		})
	}
	defer stop()
	// ^C during the tests stops everything before exiting.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case sig := <-signals:
			fmt.Fprintf(out, "%v: stopping the %s\n", sig, s.Name)
			stop()
			exit(1)
		case <-done:
		}
	}()
	fmt.Fprintf(out, "%s ready in %s\n", s.Name, time.Since(began).Round(time.Millisecond))
	return tests()
}
