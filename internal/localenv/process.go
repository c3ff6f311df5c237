package localenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// LogBuffer collects a process's output so a caller can search it while the process
// runs. It is safe for concurrent use.
type LogBuffer struct{ testkit.Buffer }

// excerpt returns the first and the last n bytes, for error messages: how a process
// started and how it ended.
func (b *LogBuffer) excerpt(n int) string {
	s := b.String()
	if len(s) > 2*n {
		s = s[:n] + "\n[...]\n" + s[len(s)-n:]
	}
	return s
}

// bestEffortWriter drops write errors so a failing tee never stops the capture.
type bestEffortWriter struct{ w io.Writer }

func (b bestEffortWriter) Write(p []byte) (int, error) {
	_, _ = b.w.Write(p)
	return len(p), nil
}

// process is a child started in its own process group, killed when this process dies.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *LogBuffer
	done chan struct{}
	err  error // from Wait; read only after done is closed
}

// startProcess starts path with args and env (appended to nothing: pass os.Environ()
// to inherit), capturing stdout and stderr into one LogBuffer and copying them to tee
// when it is not nil.
func startProcess(name, path string, args, env []string, tee io.Writer) (*process, error) {
	p := &process{name: name, out: &LogBuffer{}, done: make(chan struct{})}
	var w io.Writer = p.out
	if tee != nil {
		w = io.MultiWriter(p.out, bestEffortWriter{tee})
	}
	p.cmd = exec.Command(path, args...)
	p.cmd.Env = env
	p.cmd.Stdout = w
	p.cmd.Stderr = w
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s (%s): %w", name, path, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended, and how.
func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// exitCode is the process's exit status, or -1 when it was killed by a signal or
// has not ended.
func (p *process) exitCode() int {
	if done, _ := p.exited(); !done {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// signal sends sig to the process itself (not its group).
func (p *process) signal(sig syscall.Signal) error {
	if done, _ := p.exited(); done {
		return nil
	}
	return p.cmd.Process.Signal(sig)
}

// wait waits until the process ends or timeout passes.
func (p *process) wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("%s did not exit within %s", p.name, timeout)
	}
}

// stop sends SIGTERM to the process group, and SIGKILL when the group has not ended
// after grace. It reports only a failure to end the process, not its exit status.
func (p *process) stop(grace time.Duration) error {
	if done, _ := p.exited(); done {
		return nil
	}
	pgid := -p.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	if p.wait(grace) == nil {
		return nil
	}
	if err := syscall.Kill(pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing %s: %w", p.name, err)
	}
	return p.wait(5 * time.Second)
}

// describeExit explains an unexpected exit, with the end of the process's output.
func (p *process) describeExit() string {
	_, err := p.exited()
	return fmt.Sprintf("%s exited (%v); its output:\n%s", p.name, err, p.out.excerpt(2000))
}

// poll calls check every interval until it returns true, an error, or ctx ends; on
// timeout it returns the last reason check gave.
func poll(parent context.Context, timeout, interval time.Duration, check func(ctx context.Context) (done bool, reason string, err error)) error {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	reason := "not checked yet"
	for {
		done, r, err := check(ctx)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if r != "" {
			reason = r
		}
		select {
		case <-ctx.Done():
			if parent.Err() != nil {
				return fmt.Errorf("%w while waiting: %s", parent.Err(), reason)
			}
			return fmt.Errorf("gave up after %s: %s", timeout, reason)
		case <-time.After(interval):
		}
	}
}

// progress writes timestamped lines about what the environment is doing.
type progress struct{ w io.Writer }

func (p progress) printf(format string, args ...any) {
	if p.w == nil {
		return
	}
	fmt.Fprintf(p.w, "[localenv %s] %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// inheritEnv returns os.Environ() without the variables whose names start with one of
// dropPrefixes, followed by extra.
func inheritEnv(dropPrefixes []string, extra ...string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return slices.ContainsFunc(dropPrefixes, func(p string) bool { return strings.HasPrefix(kv, p) })
	})
	return append(env, extra...)
}
