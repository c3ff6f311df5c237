package check

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kratix-community/statestore-webhook/pkg/admission"
)

// gitOpsTree is a repository as GitOps keeps them: a store with its Secret, and files
// that are YAML but not manifests.
var gitOpsTree = map[string]string{
	"clusters/prod/store.yaml":                storeHeader + validSpec + "---\n" + completeSecret,
	"charts/app/templates/store.yaml":         "# a Helm template\n" + storeHeader + "spec:\n  endpoint: {{ .Values.endpoint }}\n",
	"charts/app/values.yaml":                  "endpoint: s3.example.com\n",
	"clusters/prod/patches/bucket-patch.yaml": "- op: replace\n  path: /spec/bucketName\n  value: other\n",
}

func TestGitOpsTreeWithFilesThatAreNotManifests(t *testing.T) {
	dir := writeFiles(t, gitOpsTree)
	if err := syscall.Mkfifo(filepath.Join(dir, "clusters", "prod", "pipe.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	const (
		template = "DIR/charts/app/templates/store.yaml:7: notice: skipped: a template: it holds {{ }} actions; check what it renders instead, such as helm template ... | statestore-check -; --strict makes this an error\n"
		values   = "DIR/charts/app/values.yaml:1: notice: skipped: the document has no apiVersion or no kind, so it is not a Kubernetes object (a values or configuration file?); --strict makes this an error\n"
		pipe     = "DIR/clusters/prod/pipe.yaml: notice: skipped: not a regular file but a named pipe\n"
		patch    = "DIR/clusters/prod/patches/bucket-patch.yaml:1: notice: skipped: the document is a JSON patch (as kustomize applies), not a Kubernetes object; --strict makes this an error\n"
	)
	tests := map[string]struct {
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		"a template, a values file and a JSON patch are skipped with notices, and a named pipe is not opened": {
			args:       []string{dir},
			wantCode:   ExitValid,
			wantStdout: pipe + template + values + patch,
			wantStderr: "1 state stores in 4 files: 0 invalid, 0 with warnings; 4 skipped\n",
		},
		"--strict makes each file that is not a manifest an error; a named pipe is still not opened": {
			args:     []string{"--strict", dir},
			wantCode: ExitUsage,
			wantStdout: pipe +
				"DIR/charts/app/templates/store.yaml:7: a template: it holds {{ }} actions; check what it renders instead, such as helm template ... | statestore-check -\n" +
				"DIR/charts/app/values.yaml:1: the document has no apiVersion or no kind, so it is not a Kubernetes object (a values or configuration file?)\n" +
				"DIR/clusters/prod/patches/bucket-patch.yaml:1: the document is a JSON patch (as kustomize applies), not a Kubernetes object\n",
			wantStderr: "1 state stores in 4 files: 0 invalid, 0 with warnings; 1 skipped; 3 inputs could not be read\n",
		},
		"--exclude leaves out what its glob matches, at any depth with **": {
			args:       []string{"--exclude", "DIR/charts/**", "--exclude", "**/patches/*.yaml", dir},
			wantCode:   ExitValid,
			wantStdout: pipe,
			wantStderr: "1 state stores in 1 files: 0 invalid, 0 with warnings; 1 skipped\n",
		},
		"--include reads only what its globs match, named files too": {
			args:       []string{"--include", "**/clusters/*/*.yaml", dir, filepath.Join(dir, "charts", "app", "values.yaml")},
			wantCode:   ExitValid,
			wantStdout: pipe,
			wantStderr: "1 state stores in 1 files: 0 invalid, 0 with warnings; 1 skipped\n",
		},
		"a malformed glob is bad usage": {
			args:       []string{"--exclude", "charts/[", dir},
			wantCode:   ExitUsage,
			wantStderr: "error: --exclude: \"charts/[\" is not a valid glob pattern\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				args[i] = strings.ReplaceAll(a, "DIR", dir)
			}
			code, stdout, stderr := runArgs(t, args, "")
			checkOutcome(t, code, strings.ReplaceAll(stdout, dir, "DIR"), stderr, tc.wantCode, tc.wantStdout, tc.wantStderr)
		})
	}
}

func TestTheRunAsAWholeIsBounded(t *testing.T) {
	doc := storeHeader + validSpec // 100 bytes
	dir := writeFiles(t, map[string]string{"a.yaml": doc, "b.yaml": doc, "c.yaml": doc})
	in := Inputs{MaxTotal: int64(2*len(doc) + 10)}
	r := in.read(context.Background(), []string{dir}, nil)
	want := []InputError{{File: filepath.Join(dir, "b.yaml"), Message: "the inputs of this run together are larger than 128 MiB; check them in several runs"}}
	if diff := cmp.Diff(want, r.errs, inputErrors); diff == "" {
		t.Fatalf("b.yaml fits in the budget, yet: %v", r.errs)
	}
	want[0].File = filepath.Join(dir, "c.yaml")
	if diff := cmp.Diff(want, r.errs, inputErrors); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if r.files != 3 || len(r.objs) != 2 {
		t.Errorf("read %d files into %d objects, want 3 files and the 2 stores that fit", r.files, len(r.objs))
	}
}

func TestRunFlagsThatDecideTheExit(t *testing.T) {
	tests := map[string]struct {
		args       []string
		stdin      string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		"--require-stores fails an input with no store, as a renderer that failed leaves it": {
			args:       []string{"--require-stores", "-"},
			wantCode:   ExitUsage,
			wantStdout: "no BucketStateStore or GitStateStore in the input, and --require-stores asks for one; did the command that renders it fail?\n",
			wantStderr: "0 state stores in 1 files: 0 invalid, 0 with warnings; 1 inputs could not be read\n",
		},
		"--require-stores passes an input with a valid store": {
			args:       []string{"--require-stores", "-"},
			stdin:      storeHeader + validSpec + "---\n" + completeSecret,
			wantCode:   ExitValid,
			wantStderr: "1 state stores in 1 files: 0 invalid, 0 with warnings\n",
		},
		"a warning does not fail a run by default": {
			args:       []string{"--summary=false", "-"},
			stdin:      storeHeader + "spec:\n  endpoint: s3.example.com\n  bucketName: kratix\n  authMethod: IAM\n  insecure: true\n",
			wantCode:   ExitValid,
			wantStdout: "<stdin>:1: BucketStateStore/s: warning: " + admission.WarningInsecure + "\n",
		},
		"--fail-on-warnings fails a run with a warning": {
			args:       []string{"--summary=false", "--fail-on-warnings", "-"},
			stdin:      storeHeader + "spec:\n  endpoint: s3.example.com\n  bucketName: kratix\n  authMethod: IAM\n  insecure: true\n",
			wantCode:   ExitInvalid,
			wantStdout: "<stdin>:1: BucketStateStore/s: warning: " + admission.WarningInsecure + "\n",
		},
		"--stdin-filename names standard input in findings and puts annotations on that file": {
			args:       []string{"--summary=false", "-o", "github", "--stdin-filename", "clusters/prod/kustomization.yaml", "-"},
			stdin:      schemeStore,
			wantCode:   ExitInvalid,
			wantStdout: "::error file=clusters/prod/kustomization.yaml,line=6,title=BucketStateStore/s::spec.endpoint: Invalid value: \"https://s3.example.com\": must be host[:port] without a scheme; drop \"https://\" and leave insecure false\n::warning file=clusters/prod/kustomization.yaml,line=1,title=BucketStateStore/s::" + admission.WarningInsecure + "\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runArgs(t, tc.args, tc.stdin)
			checkOutcome(t, code, stdout, stderr, tc.wantCode, tc.wantStdout, tc.wantStderr)
		})
	}
}

func TestRunStopsWhenItsContextIsCancelledBySignal(t *testing.T) {
	// Standard input that never ends, as a FIFO with a writer that never writes.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	defer r.Close()
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(Stopped{Signal: syscall.SIGTERM})
	opts := NewOptions()
	var stdout, stderr strings.Builder
	code := Run(ctx, opts, []string{"-"}, r, &stdout, &stderr)
	if code != 128+int(syscall.SIGTERM) || stderr.String() != "error: stopped: received terminated\n" {
		t.Errorf("exit %d, stderr %q; want %d and the signal named", code, stderr.String(), 128+int(syscall.SIGTERM))
	}
}
