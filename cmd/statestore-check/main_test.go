package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// built is statestore-check, built once as the suites build it.
var built = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "statestore-check-")
	if err != nil {
		return "", err
	}
	root, err := localenv.ModuleRoot(".")
	if err != nil {
		return "", err
	}
	return localenv.BuildCommand(context.Background(), root, dir, "statestore-check")
})

func binaryPath(t *testing.T) string {
	t.Helper()
	path, err := built()
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// run runs the binary in dir; a run that blocks fails the test when the minute is out.
func run(t *testing.T, dir, stdin string, args ...string) testkit.CommandResult {
	t.Helper()
	res, err := testkit.RunCommand(dir, stdin, time.Minute, binaryPath(t), args...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestAnUnknownFlagPrintsTheErrorAndTheUsage(t *testing.T) {
	res := run(t, "", "", "--no-such-flag", "-")
	if res.Exit != 2 || !strings.HasPrefix(res.Stderr, "error: unknown flag: --no-such-flag\nUsage: statestore-check [flags] <file|directory|->...\n") || !strings.Contains(res.Stderr, "--require-stores") {
		t.Errorf("exit %d, stderr:\n%s\nwant 2, the error, then the usage with every flag", res.Exit, res.Stderr)
	}
}

const hostileStore = "apiVersion: platform.kratix.io/v1alpha1\nkind: BucketStateStore\nmetadata:\n" +
	"  name: \"x\\n::add-mask::secret\\n::error::forged\\e[31m\"\n" +
	"spec:\n  endpoint: https://s3.example.com\n  bucketName: kratix\n  authMethod: IAM\n"

// TestAGitOpsTree runs the binary on a tree with a Helm template, a kustomize JSON patch,
// a named pipe and a store with a hostile name.
func TestAGitOpsTree(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"charts/app/templates/store.yaml": "apiVersion: platform.kratix.io/v1alpha1\nkind: BucketStateStore\nmetadata:\n  name: {{ .Release.Name }}\n",
		"overlays/prod/patch.yaml":        "- op: replace\n  path: /spec/bucketName\n  value: prod\n",
		"clusters/prod/store.yaml":        hostileStore,
	} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing ever writes to it: opening it would block for good.
	if err := syscall.Mkfifo(filepath.Join(dir, "clusters", "prod", "fifo.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}

	res := run(t, dir, "", ".")
	want := `clusters/prod/store.yaml:6: BucketStateStore/x\n::add-mask::secret\n::error::forged\x1b[31m: spec.endpoint: Invalid value: "https://s3.example.com": must be host[:port] without a scheme; drop "https://" and leave insecure false` + "\n" +
		"clusters/prod/fifo.yaml: notice: skipped: not a regular file but a named pipe\n" +
		"charts/app/templates/store.yaml:4: notice: skipped: a template: it holds {{ }} actions; check what it renders instead, such as helm template ... | statestore-check -; --strict makes this an error\n" +
		"overlays/prod/patch.yaml:1: notice: skipped: the document is a JSON patch (as kustomize applies), not a Kubernetes object; --strict makes this an error\n"
	if res.Exit != 1 || res.Stdout != want {
		t.Errorf("exit %d, stdout:\n%s\nwant 1 and:\n%s", res.Exit, res.Stdout, want)
	}

	res = run(t, dir, "", "--strict", "--exclude", "charts/**", "-o", "github", ".")
	if res.Exit != 2 || !strings.Contains(res.Stdout, "::error file=overlays/prod/patch.yaml,line=1::the document is a JSON patch") || strings.Contains(res.Stdout, "charts/") {
		t.Errorf("with --strict and --exclude, exit %d, stdout:\n%s\nwant 2, the patch an error and nothing of charts/", res.Exit, res.Stdout)
	}
	for _, line := range strings.Split(res.Stdout, "\n") {
		if strings.HasPrefix(line, "::add-mask::") || strings.HasPrefix(line, "::error::") {
			t.Errorf("the manifest started a workflow command: %q", line)
		}
	}
}

func TestARendererThatFailedFailsThePipeWithRequireStores(t *testing.T) {
	res, err := testkit.RunCommand("", "", time.Minute, "sh", "-c", "false | "+binaryPath(t)+" --require-stores -")
	if err != nil {
		t.Fatal(err)
	}
	if res.Exit != 2 || !strings.Contains(res.Stdout, "--require-stores asks for one") {
		t.Errorf("exit %d, stdout %q; want 2 and the reason", res.Exit, res.Stdout)
	}
}

func TestSIGTERMStopsARunBlockedOnANamedPipe(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "rendered.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binaryPath(t), fifo)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Opening the pipe to write returns once the command has opened it to read: from
	// then on it waits in a read that only a writer could end.
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatal("SIGTERM did not stop the command")
	}
	if code := cmd.ProcessState.ExitCode(); code != 128+int(syscall.SIGTERM) || stderr.String() != "error: stopped: received terminated\n" {
		t.Errorf("exit %d (%v), stderr %q; want %d and the signal named", code, err, stderr.String(), 128+int(syscall.SIGTERM))
	}
}
