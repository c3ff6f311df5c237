package testkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// CommandResult is what a command printed and how it exited.
type CommandResult struct {
	Stdout, Stderr string
	Exit           int
}

// RunCommand runs name with args in dir (empty: the working directory), with stdin as its
// input ("" for none), for at most timeout. A non-zero exit is a result, not an error; a
// command that cannot start or runs out of time is an error.
func RunCommand(dir, stdin string, timeout time.Duration, name string, args ...string) (CommandResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	return Run(ctx, cmd, stdin)
}

// Run runs cmd, made with exec.CommandContext(ctx, ...), with stdin as its input, and
// returns what it printed and how it exited. A non-zero exit is a result, not an error; a
// command that cannot start, or that ctx ends, is an error.
func Run(ctx context.Context, cmd *exec.Cmd, stdin string) (CommandResult, error) {
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := CommandResult{Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr) && ctx.Err() == nil:
		res.Exit = exitErr.ExitCode()
	case err != nil:
		return res, fmt.Errorf("%s: %w\nstderr: %s", strings.Join(cmd.Args, " "), err, res.Stderr)
	}
	return res, nil
}
