package examples

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/internal/check"
	"github.com/kratix-community/statestore-webhook/internal/localenv"

	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// TestExamples applies every file in examples/ with the command line `make run` prints
// and checks what its header promises: the outcome (kubectl's exit code), substrings of
// kubectl's output and exactly the warnings listed. The files are applied one after the
// other in name order, each promise holding on a fresh environment whatever ran before,
// so every store name must be used by one file only. The Secrets `make run` generates
// (git-ssh-credentials, github-app-credentials) are in the API server before the first
// file, as they are for a developer.
func TestExamples(t *testing.T) {
	files, err := env.Examples()
	if err != nil {
		t.Fatal(err)
	}
	examples := make([]example, 0, len(files))
	owner := map[store]string{} // store -> file
	for _, file := range files {
		ex, err := readExample(filepath.Join(env.Env.Root, file))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		ex.file = file
		for _, st := range ex.stores {
			if other, ok := owner[st]; ok {
				t.Fatalf("%s and %s both apply the %s %q; each example needs its own name so they do not depend on order", other, file, st.kind, st.name)
			}
			owner[st] = file
		}
		examples = append(examples, ex)
	}

	iamBefore := env.IMDS.CredentialRequests()
	for _, ex := range examples {
		t.Run(ex.file, func(t *testing.T) {
			logStart := env.Env.Webhook.Output.Len()
			// What statestore-check says of the file, given the Secrets the webhook
			// can read at this moment, before kubectl applies it.
			checked, result := checkFile(t, filepath.Join(env.Env.Root, ex.file))
			line := env.ApplyLine(ex.file)
			res := run(t, line)
			webhookLog := env.Env.Webhook.Output.Since(logStart)
			failed := false
			fail := func(format string, args ...any) {
				t.Errorf(format, args...)
				failed = true
			}

			wantExit := map[bool]int{true: 0, false: 1}[ex.admitted]
			if res.Exit != wantExit {
				fail("kubectl exited with %d, want %d (expect: %s)", res.Exit, wantExit, outcome(ex.admitted))
			}
			output := res.Stdout + res.Stderr
			for _, want := range ex.outputs {
				if !strings.Contains(output, want) {
					fail("the output lacks the promised %q", want)
				}
			}
			if diff := cmp.Diff(sorted(ex.warnings), sorted(localenv.KubectlWarnings(res.Stderr))); diff != "" {
				fail("warnings (-promised +got):\n%s", diff)
			}
			for _, secret := range slices.Concat(ex.secretValues, env.SecretValues()) {
				if strings.Contains(output, secret) || strings.Contains(webhookLog, secret) || strings.Contains(checked.Stdout+checked.Stderr, secret) {
					fail("a secret value from the file or the demo's Secrets appears in kubectl's output, the webhook's log or statestore-check's output")
				}
			}
			if len(result.Stores) != 1 {
				fail("statestore-check found %d stores in the file, want 1", len(result.Stores))
			} else if s := result.Stores[0]; s.Valid != ex.admitted || s.Valid != (res.Exit == 0) {
				fail("statestore-check says valid=%v; kubectl exited %d (expect: %s)", s.Valid, res.Exit, outcome(ex.admitted))
			} else {
				if diff := cmp.Diff(sorted(localenv.KubectlWarnings(res.Stderr)), sorted(s.Warnings)); diff != "" {
					fail("statestore-check's warnings differ from the webhook's (-webhook +command):\n%s", diff)
				}
				apiCauses, _ := localenv.KubectlCauses(res.Stderr)
				var ours []string
				for _, c := range s.Causes {
					ours = append(ours, c.String())
				}
				if diff := cmp.Diff(apiCauses, ours); diff != "" {
					fail("statestore-check's causes differ from the webhook's (-webhook +command):\n%s", diff)
				}
			}
			if want := result.ExitCode(); checked.Exit != want {
				fail("statestore-check exited %d for a result that asks for %d", checked.Exit, want)
			}
			for _, st := range ex.stores {
				if exists := storeExists(t, st); exists != ex.admitted {
					fail("after the apply, %s %q exists = %v, want %v", st.kind, st.name, exists, ex.admitted)
				}
			}
			if failed {
				t.Logf("$ %s\nexit %d\nstdout:\n%s\nstderr:\n%s\nwebhook log during the apply:\n%s\nstatestore-check before the apply: exit %d\n%s%s", line, res.Exit, res.Stdout, res.Stderr, webhookLog, checked.Exit, checked.Stdout, checked.Stderr)
			}
		})
	}

	if slices.ContainsFunc(examples, func(ex example) bool { return ex.iam && ex.admitted }) {
		if after := env.IMDS.CredentialRequests(); after == iamBefore {
			t.Errorf("an IAM example was admitted but the webhook never asked the instance metadata stand-in for credentials (%d requests before and after)", after)
		}
	}
}

// checkFile runs statestore-check with --probe on the example file, giving it the
// Secrets in default before the file's own, as the webhook will see them once kubectl has
// applied the file's Secrets.
func checkFile(t *testing.T, path string) (localenv.CheckRun, check.Result) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := env.Env.SecretManifests(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	var r check.Result
	run, err := env.Env.RunCheck(ctx, secrets+"---\n"+string(file), &r, append([]string{"--probe", "--require-secrets"}, env.WebhookArgs()...)...)
	if err != nil {
		t.Fatal(err)
	}
	return run, r
}

// example is a file of examples/ and the promises its header makes.
type example struct {
	file string
	// admitted is the outcome: kubectl exits 0, or 1 when the webhook denies the store.
	admitted bool
	// outputs must each be in kubectl's output, stdout and stderr together.
	outputs []string
	// warnings are exactly the warnings kubectl prints, without "Warning: ".
	warnings []string

	// stores are the stores the file applies; iam says one uses authMethod IAM.
	stores []store
	iam    bool
	// secretValues are the secret values of the Secrets in the file, without the
	// trailing whitespace some carry on purpose.
	secretValues []string
}

// store is a BucketStateStore or a GitStateStore.
type store struct{ kind, name string }

// secretKeys are the keys of a Secret whose values must never be shown: the secret
// access key, and what each Git auth method authenticates with.
var secretKeys = []string{v1alpha1.SecretKeySecretAccessKey, v1alpha1.SecretKeyPassword, v1alpha1.SecretKeySSHPrivateKey, v1alpha1.SecretKeyPrivateKey}

var headerLine = regexp.MustCompile(`^# (expect(?:-[a-z]+)?): (.+)$`)

// readExample reads the promises from the comment block that starts the file, and what
// the file's documents apply.
func readExample(path string) (example, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return example{}, err
	}
	var ex example
	outcomes := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 0; sc.Scan(); n++ {
		line := sc.Text()
		if !strings.HasPrefix(line, "#") {
			if n == 0 {
				return example{}, errors.New("does not start with a comment saying what the webhook answers")
			}
			break
		}
		m := headerLine.FindStringSubmatch(line)
		if m == nil {
			if strings.HasPrefix(line, "# expect") {
				return example{}, fmt.Errorf("header line %q is not `# expect...: value`", line)
			}
			continue
		}
		switch key, value := m[1], strings.TrimSpace(m[2]); key {
		case "expect":
			if value != "admitted" && value != "denied" {
				return example{}, fmt.Errorf("`# expect: %s`: must be admitted or denied", value)
			}
			ex.admitted = value == "admitted"
			outcomes++
		case "expect-output":
			ex.outputs = append(ex.outputs, value)
		case "expect-warning":
			ex.warnings = append(ex.warnings, value)
		default:
			return example{}, fmt.Errorf("unknown header key %q; use expect, expect-output or expect-warning", key)
		}
	}
	if outcomes != 1 {
		return example{}, fmt.Errorf("the header has %d `# expect:` lines, want exactly one", outcomes)
	}
	if len(ex.outputs) == 0 {
		return example{}, errors.New("the header has no `# expect-output:` line")
	}

	dec := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := dec.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return example{}, err
		}
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			return example{}, err
		}
		u := unstructured.Unstructured{Object: obj}
		switch kind := u.GetKind(); kind {
		case "BucketStateStore", "GitStateStore":
			ex.stores = append(ex.stores, store{kind, u.GetName()})
			if m, _, _ := unstructured.NestedString(obj, "spec", "authMethod"); kind == "BucketStateStore" && m == "IAM" {
				ex.iam = true
			}
		case "Secret":
			for _, key := range secretKeys {
				if v, _, _ := unstructured.NestedString(obj, "stringData", key); strings.TrimSpace(v) != "" {
					ex.secretValues = append(ex.secretValues, strings.TrimSpace(v))
				}
			}
		}
	}
	if len(ex.stores) == 0 {
		return example{}, errors.New("applies no BucketStateStore or GitStateStore")
	}
	return ex, nil
}

type result = testkit.CommandResult

// run runs a command line as printed by `make run`, from the module root as it says.
func run(t *testing.T, line string) result {
	t.Helper()
	res, err := testkit.RunCommand(env.Env.Root, "", time.Minute, "sh", "-c", line)
	if err != nil {
		t.Fatalf("$ %s: %v", line, err)
	}
	return res
}

func storeExists(t *testing.T, st store) bool {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("platform.kratix.io/v1alpha1")
	u.SetKind(st.kind)
	err := env.Env.Client.Get(context.Background(), client.ObjectKey{Name: st.name}, u)
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		t.Fatalf("getting %s %q: %v", st.kind, st.name, err)
	}
	return true
}

func outcome(admitted bool) string {
	if admitted {
		return "admitted"
	}
	return "denied"
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	if s == nil {
		s = []string{}
	}
	return s
}

// TestGeneratedSecretFiles applies each Secret the demo wrote for the keys it generated,
// as `make run` tells a developer who deleted one to do, and checks that only its owner
// may read the file.
func TestGeneratedSecretFiles(t *testing.T) {
	if len(env.SecretFiles) == 0 {
		t.Fatal("the demo wrote no Secret files")
	}
	for _, file := range env.SecretFiles {
		t.Run(filepath.Base(file), func(t *testing.T) {
			info, err := os.Stat(file)
			if err != nil {
				t.Fatal(err)
			}
			if mode := info.Mode().Perm(); mode != 0o600 {
				t.Errorf("the file's mode is %v, want -rw-------", mode)
			}
			line := env.ApplyLine(file)
			res := run(t, line)
			name := strings.TrimSuffix(filepath.Base(file), ".yaml")
			if want := "secret/" + name + " "; res.Exit != 0 || !strings.Contains(res.Stdout, want) {
				t.Errorf("$ %s\nexit %d, want 0 and %q in stdout:\n%s%s", line, res.Exit, want, res.Stdout, res.Stderr)
			}
		})
	}
}
