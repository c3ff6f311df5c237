package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/kratix-community/statestore-webhook/internal/check"
	"github.com/kratix-community/statestore-webhook/internal/localenv"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

const (
	ciPath     = "../../docs/ci.md"
	modulePath = "github.com/kratix-community/statestore-webhook"
)

func readCI(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(ciPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// snippet is the YAML block of docs/ci.md whose first line is a comment naming file.
func snippet(t *testing.T, file string) string {
	t.Helper()
	for _, b := range testkit.FencedBlocks(readCI(t)) {
		if b.Info == "yaml" && strings.HasPrefix(b.Text, "# "+file+"\n") {
			return b.Text
		}
	}
	t.Fatalf("docs/ci.md has no yaml block starting with # %s", file)
	return ""
}

func TestCIOptionsTableMatchesTheFlags(t *testing.T) {
	var rows [][]string
	for _, tb := range testkit.MarkdownTables(readCI(t)) {
		if len(tb.Header) > 0 && tb.Header[0] == "Option" {
			rows = append(rows, tb.Rows...)
		}
	}
	documented := map[string]string{}
	for _, row := range rows {
		var def string
		if spans := testkit.CodeSpans(row[1]); len(spans) > 0 {
			def = spans[0]
		}
		for _, span := range testkit.CodeSpans(row[0]) {
			if name, ok := strings.CutPrefix(span, "--"); ok {
				documented[name] = def
			}
		}
	}
	fs := pflag.NewFlagSet("docs", pflag.ContinueOnError)
	check.NewOptions().AddFlags(fs)
	fs.VisitAll(func(f *pflag.Flag) {
		def, ok := documented[f.Name]
		if !ok {
			t.Errorf("--%s is not in docs/ci.md's options table", f.Name)
			return
		}
		delete(documented, f.Name)
		if def != f.DefValue && !(def == "" && slices.Contains([]string{"", "[]", "false"}, f.DefValue)) {
			t.Errorf("--%s: docs/ci.md says default %q, the flag has %q", f.Name, def, f.DefValue)
		}
	})
	for name := range documented {
		t.Errorf("docs/ci.md documents --%s, which the command does not have", name)
	}
	for _, format := range check.Outputs {
		if !strings.Contains(readCI(t), "`"+format+"`") {
			t.Errorf("docs/ci.md does not name the output format %s", format)
		}
	}
}

func TestCIDocsHaveNoPlaceholders(t *testing.T) {
	for _, b := range testkit.FencedBlocks(readCI(t)) {
		if strings.Contains(b.Text, "<version>") || strings.Contains(b.Text, "statestore-check@") {
			t.Errorf("a snippet of docs/ci.md names a version that is not published:\n%s", b.Text)
		}
	}
}

// install runs the snippets' install command (go install ./cmd/statestore-check) in
// this checkout, as the snippets run it in theirs, once, with the environment a user has
// (no GOFLAGS), and returns the directory it installed into.
var install = sync.OnceValues(func() (string, error) {
	root, err := localenv.ModuleRoot(".")
	if err != nil {
		return "", err
	}
	gobin, err := os.MkdirTemp("", "gobin-")
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", "./cmd/statestore-check")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=")
	res, err := testkit.Run(ctx, cmd, "")
	if err == nil && res.Exit != 0 {
		err = fmt.Errorf("exit %d: %s", res.Exit, res.Stderr)
	}
	if err != nil {
		return "", err
	}
	return gobin, nil
})

// shell runs a command line of a snippet with sh in dir, with the installed command on
// the PATH.
func shell(t *testing.T, dir, line string) testkit.CommandResult {
	t.Helper()
	gobin, err := install()
	if err != nil {
		t.Fatalf("go install ./cmd/statestore-check: %v", err)
	}
	res, err := testkit.RunCommand(dir, "", time.Minute, "sh", "-c", "PATH="+gobin+":$PATH; "+line)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// storeTree is a repository with a valid store under clusters/ and a chart's template.
func storeTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"clusters/prod/store.yaml":    "apiVersion: platform.kratix.io/v1alpha1\nkind: BucketStateStore\nmetadata:\n  name: prod\nspec:\n  endpoint: s3.example.com\n  bucketName: kratix\n  authMethod: IAM\n",
		"charts/app/templates/x.yaml": "a: {{ .Values.a }}\n",
	} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestTheInstallCommandGivesAVersionFromTheBuild(t *testing.T) {
	block := ""
	for _, b := range testkit.FencedBlocks(readCI(t)) {
		if b.Info == "sh" && strings.Contains(b.Text, "go install ./cmd/statestore-check") {
			block = b.Text
		}
	}
	if !strings.Contains(block, "git clone https://"+modulePath+"\n") {
		t.Fatalf("docs/ci.md's install block does not clone the repository:\n%s", block)
	}
	res := shell(t, "", "statestore-check --version")
	gobin, _ := install()
	info, err := testkit.RunCommand("", "", time.Minute, "go", "version", "-m", filepath.Join(gobin, "statestore-check"))
	if err != nil {
		t.Fatal(err)
	}
	// No -X: the version is the build information's, which go version -m reads too: the
	// module's version (go install ...@v1.2.3), else the commit, else none.
	want := "dev"
	for _, line := range strings.Split(info.Stdout, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "mod" && f[1] == modulePath && f[2] != "(devel)":
			want = f[2]
		case len(f) == 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.revision=") && want == "dev":
			want = strings.TrimPrefix(f[1], "vcs.revision=")
		}
	}
	if got := strings.TrimSpace(res.Stdout); res.Exit != 0 || !strings.HasPrefix(got, want) {
		t.Errorf("--version printed %q (exit %d), want %q from the build information:\n%s", got, res.Exit, want, info.Stdout)
	}
}

func TestThePipedExampleFailsWhenTheRendererFails(t *testing.T) {
	var line string
	for _, b := range testkit.FencedBlocks(readCI(t)) {
		if b.Info == "sh" && strings.HasPrefix(b.Text, "kustomize build ") {
			line = strings.TrimSpace(b.Text)
		}
	}
	if !strings.Contains(line, "| statestore-check --require-stores") {
		t.Fatalf("docs/ci.md's piped example does not use --require-stores: %q", line)
	}
	dir := storeTree(t)
	// kustomize as a shell function: one that renders the tree, and one that fails.
	if res := shell(t, dir, "kustomize() { cat clusters/prod/store.yaml; }; "+line); res.Exit != 0 {
		t.Errorf("with a renderer that worked: exit %d, want 0:\n%s%s", res.Exit, res.Stdout, res.Stderr)
	}
	if res := shell(t, dir, "kustomize() { echo 'Error: no kustomization' >&2; return 1; }; "+line); res.Exit != 2 {
		t.Errorf("with a renderer that failed: exit %d, want 2:\n%s%s", res.Exit, res.Stdout, res.Stderr)
	}
}
