package check

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
)

// writeFiles writes name -> content under a new directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const schemeStore = storeHeader + "spec:\n  endpoint: https://s3.example.com\n  bucketName: kratix\n  authMethod: IAM\n  insecure: true\n"

func TestRun(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"valid/store.yaml":      storeHeader + validSpec + "---\n" + completeSecret,
		"invalid/store.yaml":    schemeStore,
		"broken/notes.yml":      "key: [unclosed\n",
		"broken/not-object.yml": "- a\n",
	})
	tests := map[string]struct {
		args       []string
		stdin      string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		"a directory of valid stores exits 0 and prints only the summary": {
			args:       []string{filepath.Join(dir, "valid")},
			wantCode:   ExitValid,
			wantStderr: "1 state stores in 1 files: 0 invalid, 0 with warnings\n",
		},
		"an invalid store exits 1 with kubectl's message on the field's line, and its warning": {
			args:     []string{filepath.Join(dir, "invalid")},
			wantCode: ExitInvalid,
			wantStdout: "DIR/invalid/store.yaml:6: BucketStateStore/s: spec.endpoint: Invalid value: \"https://s3.example.com\": must be host[:port] without a scheme; drop \"https://\" and leave insecure false\n" +
				"DIR/invalid/store.yaml:1: BucketStateStore/s: warning: spec.insecure is true: Kratix will use plain HTTP, so the documents it writes and its access key ID travel unencrypted and can be altered on the way\n",
			wantStderr: "1 state stores in 1 files: 1 invalid, 1 with warnings\n",
		},
		"GitHub annotations point at the file and line": {
			args:     []string{"-o", "github", filepath.Join(dir, "invalid")},
			wantCode: ExitInvalid,
			wantStdout: "::error file=DIR/invalid/store.yaml,line=6,title=BucketStateStore/s::spec.endpoint: Invalid value: \"https://s3.example.com\": must be host[:port] without a scheme; drop \"https://\" and leave insecure false\n" +
				"::warning file=DIR/invalid/store.yaml,line=1,title=BucketStateStore/s::spec.insecure is true: Kratix will use plain HTTP, so the documents it writes and its access key ID travel unencrypted and can be altered on the way\n",
			wantStderr: "1 state stores in 1 files: 1 invalid, 1 with warnings\n",
		},
		"standard input is read for -, and named <stdin>": {
			args:       []string{"-"},
			stdin:      schemeStore,
			wantCode:   ExitInvalid,
			wantStdout: "<stdin>:6: BucketStateStore/s: spec.endpoint: Invalid value: \"https://s3.example.com\": must be host[:port] without a scheme; drop \"https://\" and leave insecure false\n<stdin>:1: BucketStateStore/s: warning: spec.insecure is true: Kratix will use plain HTTP, so the documents it writes and its access key ID travel unencrypted and can be altered on the way\n",
			wantStderr: "1 state stores in 1 files: 1 invalid, 1 with warnings\n",
		},
		"a document that is not YAML exits 2, naming file and line, after checking the rest; one that is not an object is skipped with a notice": {
			args:     []string{"--summary=false", filepath.Join(dir, "broken"), filepath.Join(dir, "invalid")},
			wantCode: ExitUsage,
			wantStdout: "DIR/invalid/store.yaml:6: BucketStateStore/s: spec.endpoint: Invalid value: \"https://s3.example.com\": must be host[:port] without a scheme; drop \"https://\" and leave insecure false\n" +
				"DIR/invalid/store.yaml:1: BucketStateStore/s: warning: spec.insecure is true: Kratix will use plain HTTP, so the documents it writes and its access key ID travel unencrypted and can be altered on the way\n" +
				"DIR/broken/not-object.yml:1: notice: skipped: the document is not an object; a manifest is a mapping with apiVersion, kind and metadata; --strict makes this an error\n" +
				"DIR/broken/notes.yml:1: not valid YAML: did not find expected ',' or ']'\n",
		},
		"a missing file exits 2": {
			args:       []string{"--summary=false", filepath.Join(dir, "nope.yaml")},
			wantCode:   ExitUsage,
			wantStdout: "DIR/nope.yaml: stat: no such file or directory\n",
		},
		"no arguments is bad usage": {
			wantCode:   ExitUsage,
			wantStderr: "error: name the files or directories to check, or - for standard input\n",
		},
		"standard input twice is bad usage": {
			args:       []string{"-", "-"},
			wantCode:   ExitUsage,
			wantStderr: "error: - (standard input) may be given once\n",
		},
		"an unknown output format is bad usage": {
			args:       []string{"-o", "xml", "-"},
			wantCode:   ExitUsage,
			wantStderr: "error: --output must be one of text, json, github, junit, sarif, not \"xml\"\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runArgs(t, tc.args, tc.stdin)
			checkOutcome(t, code, strings.ReplaceAll(stdout, dir, "DIR"), stderr, tc.wantCode, tc.wantStdout, tc.wantStderr)
		})
	}
}

func TestRunJSON(t *testing.T) {
	code, stdout, stderr := runArgs(t, []string{"-o", "json", "-"}, schemeStore+"---\nkey: [unclosed\n")
	if code != ExitUsage || stderr != "" {
		t.Errorf("exit code %d and stderr %q, want %d and nothing", code, stderr, ExitUsage)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("the output is not JSON: %v\n%s", err, stdout)
	}
	var want map[string]any
	wantJSON := `{
  "files": 1,
  "stores": [{
    "file": "-", "line": 1, "kind": "BucketStateStore", "name": "s", "valid": false,
    "message": "BucketStateStore.platform.kratix.io \"s\" is invalid: spec.endpoint: Invalid value: \"https://s3.example.com\": must be host[:port] without a scheme; drop \"https://\" and leave insecure false",
    "causes": [{"field": "spec.endpoint", "type": "FieldValueInvalid", "line": 6,
      "message": "Invalid value: \"https://s3.example.com\": must be host[:port] without a scheme; drop \"https://\" and leave insecure false"}],
    "warnings": ["spec.insecure is true: Kratix will use plain HTTP, so the documents it writes and its access key ID travel unencrypted and can be altered on the way"]
  }],
  "errors": [{"file": "-", "line": 11, "message": "not valid YAML: did not find expected ',' or ']'"}],
  "summary": {"files": 1, "stores": 1, "invalid": 1, "withWarnings": 1, "inputErrors": 1, "skipped": 0}
}`
	if err := json.Unmarshal([]byte(wantJSON), &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
}

func TestGitHubEscapesWorkflowCommands(t *testing.T) {
	f := finding{level: "error", file: "a,b:c.yaml", line: 3, subject: "BucketStateStore/x", message: "100% bad\nvalue"}
	want := "::error file=a%2Cb%3Ac.yaml,line=3,title=BucketStateStore/x::100%25 bad\\nvalue"
	if got := f.github(); got != want {
		t.Errorf("github() = %q, want %q", got, want)
	}
}

// checkOutcome compares a run's exit code and output with what a test wants.
func checkOutcome(t *testing.T, code int, stdout, stderr string, wantCode int, wantStdout, wantStderr string) {
	t.Helper()
	if code != wantCode {
		t.Errorf("exit code %d, want %d", code, wantCode)
	}
	if diff := cmp.Diff(wantStdout, stdout); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantStderr, stderr); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
}

func runArgs(t *testing.T, args []string, stdin string) (int, string, string) {
	t.Helper()
	opts := NewOptions()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	opts.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), opts, fs.Args(), strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}
