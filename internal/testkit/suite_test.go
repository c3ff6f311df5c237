package testkit

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeEnvironment records what a Suite does with it.
type fakeEnvironment struct {
	startErr error
	started  bool
	stops    int
}

func (e *fakeEnvironment) suite(out *Buffer, exit func(int)) Suite {
	return Suite{
		Name:   "test environment",
		Start:  func(context.Context) error { e.started = true; return e.startErr },
		Stop:   func() error { e.stops++; return nil },
		Output: out,
		exit:   exit,
	}
}

func TestSuiteRunsTheTestsBetweenStartAndStop(t *testing.T) {
	env, out := &fakeEnvironment{}, &Buffer{}
	code := env.suite(out, func(int) { t.Error("exit called without a signal") }).Run(func() int {
		if !env.started || env.stops != 0 {
			t.Errorf("the tests run with started=%t and %d stops, want a started environment", env.started, env.stops)
		}
		return 3
	})
	if code != 3 || env.stops != 1 {
		t.Errorf("Run() = %d with %d stops, want the tests' code 3 and one stop", code, env.stops)
	}
	if !strings.Contains(out.String(), "test environment ready in") {
		t.Errorf("output %q does not say the environment is ready", out)
	}
}

func TestSuiteFailsWithoutTestsWhenTheEnvironmentDoesNotStart(t *testing.T) {
	env, out := &fakeEnvironment{startErr: errors.New("no etcd")}, &Buffer{}
	code := env.suite(out, func(int) { t.Error("exit called without a signal") }).Run(func() int {
		t.Error("the tests ran without an environment")
		return 0
	})
	if code != 1 || env.stops != 0 {
		t.Errorf("Run() = %d with %d stops, want 1 and no stop (Start cleans up after itself)", code, env.stops)
	}
	if want := "FAIL: the test environment did not come up:\nno etcd\n"; out.String() != want {
		t.Errorf("output %q, want %q", out, want)
	}
}

func TestSuiteStopsTheEnvironmentAtSIGTERMDuringTheTests(t *testing.T) {
	env, out := &fakeEnvironment{}, &Buffer{}
	exited := make(chan int, 1)
	code := env.suite(out, func(code int) { exited <- code }).Run(func() int {
		if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case code := <-exited:
			if code != 1 || env.stops != 1 {
				t.Errorf("exit(%d) after %d stops, want exit(1) after one stop", code, env.stops)
			}
		case <-time.After(30 * time.Second):
			t.Error("SIGTERM did not end the run within 30s")
		}
		return 0
	})
	if code != 0 || env.stops != 1 {
		t.Errorf("Run() = %d with %d stops, want one stop in all", code, env.stops)
	}
	if !strings.Contains(out.String(), "terminated: stopping the test environment\n") {
		t.Errorf("output %q does not say why the environment stopped", out)
	}
}
