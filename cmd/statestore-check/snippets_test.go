package main

import (
	"context"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// The CI snippets of docs/ci.md, run as far as this machine can run them.

func TestGitHubWorkflowSnippet(t *testing.T) {
	workflow := snippet(t, ".github/workflows/state-stores.yaml")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".github", "workflows"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".github", "workflows", "state-stores.yaml"), []byte(workflow), 0o644); err != nil {
		t.Fatal(err)
	}
	lint := actionlint(t)
	res, err := testkit.RunCommand(dir, "", 5*time.Minute, lint, "-no-color", filepath.Join(".github", "workflows", "state-stores.yaml"))
	if err != nil || res.Exit != 0 {
		t.Errorf("actionlint on docs/ci.md's workflow: exit %d (%v):\n%s%s", res.Exit, err, res.Stdout, res.Stderr)
	}

	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Uses string            `json:"uses"`
				With map[string]string `json:"with"`
				Run  string            `json:"run"`
				Dir  string            `json:"working-directory"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	if err := yaml.Unmarshal([]byte(workflow), &wf); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, step := range wf.Jobs["check"].Steps {
		switch {
		case step.With["repository"] != "":
			if "github.com/"+step.With["repository"] != modulePath || step.With["ref"] != "main" {
				t.Errorf("the workflow checks out %s at %s, want this module at main", step.With["repository"], step.With["ref"])
			}
		case step.Run == "go install ./cmd/statestore-check":
			// install runs it.
		case strings.HasPrefix(step.Run, "statestore-check "):
			checked++
			if res := shell(t, storeTree(t), step.Run); res.Exit != 0 || strings.Contains(res.Stdout, "charts/") {
				t.Errorf("$ %s: exit %d:\n%s%s", step.Run, res.Exit, res.Stdout, res.Stderr)
			}
		}
	}
	if checked == 0 {
		t.Error("the workflow runs no statestore-check step")
	}
}

func TestGitLabJobSnippet(t *testing.T) {
	var ci map[string]struct {
		Image     string   `json:"image"`
		Script    []string `json:"script"`
		Artifacts struct {
			When    string            `json:"when"`
			Reports map[string]string `json:"reports"`
		} `json:"artifacts"`
	}
	if err := yaml.Unmarshal([]byte(snippet(t, ".gitlab-ci.yml")), &ci); err != nil {
		t.Fatal(err)
	}
	job, ok := ci["state-stores"]
	if !ok || len(job.Script) != 3 {
		t.Fatalf("want a job state-stores with a script of 3 lines, got %+v", ci)
	}
	clone := strings.Fields(job.Script[0])
	if len(clone) != 6 || clone[4] != "https://"+modulePath {
		t.Fatalf("the first line does not clone this module: %q", job.Script[0])
	}
	if want := "go -C " + clone[5] + " install ./cmd/statestore-check"; job.Script[1] != want {
		t.Errorf("the second line is %q, want %q (install runs it in this checkout)", job.Script[1], want)
	}
	dir := storeTree(t)
	if res := shell(t, dir, job.Script[2]); res.Exit != 0 {
		t.Errorf("$ %s: exit %d:\n%s", job.Script[2], res.Exit, res.Stderr)
	}
	report := job.Artifacts.Reports["junit"]
	b, err := os.ReadFile(filepath.Join(dir, report))
	if err != nil || job.Artifacts.When != "always" {
		t.Fatalf("the job's JUnit report %q (kept %q): %v", report, job.Artifacts.When, err)
	}
	var suites struct {
		Tests int `xml:"tests,attr"`
	}
	if err := xml.Unmarshal(b, &suites); err != nil || suites.Tests != 1 {
		t.Errorf("the report holds %d tests (%v), want the 1 store:\n%s", suites.Tests, err, b)
	}
}

func TestPreCommitSnippetAndHook(t *testing.T) {
	var config struct {
		Repos []struct {
			Repo  string `json:"repo"`
			Rev   string `json:"rev"`
			Hooks []struct {
				ID   string   `json:"id"`
				Args []string `json:"args"`
			} `json:"hooks"`
		} `json:"repos"`
	}
	if err := yaml.Unmarshal([]byte(snippet(t, ".pre-commit-config.yaml")), &config); err != nil {
		t.Fatal(err)
	}
	if len(config.Repos) != 1 || config.Repos[0].Repo != "https://"+modulePath || len(config.Repos[0].Hooks) != 1 {
		t.Fatalf("want one repo, this module, with one hook: %+v", config)
	}
	repo := config.Repos[0]
	root, err := localenv.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	if res, err := testkit.RunCommand(root, "", time.Minute, "git", "rev-parse", "--verify", "--quiet", repo.Rev+"^{commit}"); err != nil || res.Exit != 0 {
		t.Errorf("rev %q names no commit of this repository", repo.Rev)
	}

	var hooks []struct {
		ID            string `json:"id"`
		Entry         string `json:"entry"`
		Language      string `json:"language"`
		Files         string `json:"files"`
		RequireSerial bool   `json:"require_serial"`
	}
	b, err := os.ReadFile(filepath.Join(root, ".pre-commit-hooks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &hooks); err != nil {
		t.Fatal(err)
	}
	if len(hooks) != 1 || hooks[0].ID != repo.Hooks[0].ID {
		t.Fatalf("the hooks %+v do not offer %q", hooks, repo.Hooks[0].ID)
	}
	hook := hooks[0]
	// language: golang would go install ./..., every command of the module.
	if hook.Language != "script" || !hook.RequireSerial {
		t.Errorf("the hook is language %q, require_serial %v; want script, true", hook.Language, hook.RequireSerial)
	}

	// As pre-commit runs a script hook: the entry, from the hook's checkout, in the
	// repository being committed to, with the hook's args and then the files.
	dir := storeTree(t)
	args := append(append([]string{}, repo.Hooks[0].Args...), "clusters/prod/store.yaml", "charts/app/templates/x.yaml")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, hook.Entry), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	res, err := testkit.Run(ctx, cmd, "")
	if err != nil || res.Exit != 0 || !strings.HasPrefix(res.Stderr, "1 state stores in 1 files") {
		t.Errorf("the hook's entry: exit %d (%v), stdout %q, stderr %q; want 0 and the store checked, the chart excluded", res.Exit, err, res.Stdout, res.Stderr)
	}
	described, err := testkit.RunCommand(root, "", time.Minute, "git", "describe", "--tags", "--always", "--dirty")
	if err != nil {
		t.Fatal(err)
	}
	version, err := testkit.RunCommand(dir, "", time.Minute, filepath.Join(root, "bin", "pre-commit", "statestore-check"), "--version")
	if err != nil || version.Exit != 0 || version.Stdout != described.Stdout {
		t.Errorf("the hook's build prints version %q (%v), want what git describes: %q", version.Stdout, err, described.Stdout)
	}
}

// actionlint builds the actionlint that make lint runs (pinned in the Makefile) and
// returns its path.
func actionlint(t *testing.T) string {
	t.Helper()
	root, err := localenv.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	res, err := testkit.RunCommand(root, "", 10*time.Minute, "make", "--no-print-directory", "-s", "actionlint")
	if err != nil || res.Exit != 0 {
		t.Fatalf("make actionlint: exit %d (%v): %s", res.Exit, err, res.Stderr)
	}
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	path := lines[len(lines)-1]
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	return path
}
