package integration

import (
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
)

// scenario is one `kubectl apply` of a store and what the user must see.
type scenario struct {
	// given is applied first and must be admitted, for scenarios about updates.
	given string
	// yaml is applied with `kubectl apply -f -`. Both are templates over fixtureSet:
	// {{.Name}} is a store name of the scenario's own, {{.Endpoint}}, {{.Bucket}},
	// {{.Secret}} and the rest name what TestMain set up.
	yaml string
	// as is the kubeconfig that applies yaml (see localenv.Kube.AddUser); empty means
	// the cluster administrator.
	as string
	// wantExit is kubectl's exit code: 0 when admitted, 1 when denied.
	wantExit int
	// wantStderr are substrings kubectl's stderr must contain, templates like yaml.
	// Without any, stderr must be empty: no warnings either.
	wantStderr []string
	// wantNotInStderr are substrings kubectl's stderr must not contain, templates like yaml.
	wantNotInStderr []string
	// at are the fixtures the templates fill in; nil means the suite's, at MinIO.
	at *fixtureSet
	// wantStored are fields of the store {{.Name}} as `kubectl get -o yaml` shows it,
	// keyed by dotted path such as "spec.secretRef.namespace".
	wantStored map[string]any
	// resource is the kind of store yaml applies, as kubectl names it; empty means
	// bucketstatestore.
	resource string
}

// runScenarios runs each scenario as a subtest, in name order.
func runScenarios(t *testing.T, scenarios map[string]scenario) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(scenarios)) {
		t.Run(name, scenarios[name].run)
	}
}

func (s scenario) run(t *testing.T) {
	f := fixtures
	if s.at != nil {
		f = *s.at
	}
	f.Name = storeName(t.Name())
	logWebhookOnFailure(t)
	if s.given != "" {
		given := render(t, s.given, f)
		t.Cleanup(func() { kubectl(t, given, "delete", "--ignore-not-found", "--wait=false", "-f", "-") })
		if res := kubectl(t, given, "apply", "-f", "-"); res.Exit != 0 {
			t.Fatalf("applying the given objects: exit %d, stderr: %s", res.Exit, res.Stderr)
		}
	}
	doc := render(t, s.yaml, f)
	t.Cleanup(func() { kubectl(t, doc, "delete", "--ignore-not-found", "--wait=false", "-f", "-") })

	// A server-side dry-run gets the same verdict and changes nothing.
	apply := func(args ...string) kubectlResult {
		if s.as != "" {
			return kubectlAs(t, s.as, doc, append([]string{"apply", "-f", "-"}, args...)...)
		}
		return kubectl(t, doc, append([]string{"apply", "-f", "-"}, args...)...)
	}
	resource := s.resource
	if resource == "" {
		resource = "bucketstatestore"
	}
	before := storedVersion(t, resource, f.Name)
	s.check(t, f, "kubectl apply --dry-run=server", apply("--dry-run=server"))
	if after := storedVersion(t, resource, f.Name); after != before {
		t.Errorf("kubectl apply --dry-run=server changed the stored store: resourceVersion %q, then %q", before, after)
	}
	checkBucketClean(t)

	s.check(t, f, "kubectl apply", apply())
	switch {
	case s.wantExit != 0 && s.given == "":
		if got := storedVersion(t, resource, f.Name); got != "" {
			t.Errorf("a denied store was stored with resourceVersion %s", got)
		}
	case s.wantExit != 0:
		if got := storedVersion(t, resource, f.Name); got != before {
			t.Errorf("a denied update changed the stored store: resourceVersion %q, then %q", before, got)
		}
	}
	if len(s.wantStored) > 0 {
		checkStored(t, resource, f.Name, s.wantStored)
	}
	checkBucketClean(t)
}

// check compares what a kubectl apply printed and how it exited with the scenario.
func (s scenario) check(t *testing.T, f fixtureSet, what string, res kubectlResult) {
	t.Helper()
	if res.Exit != s.wantExit {
		t.Errorf("%s exited %d, want %d; stderr: %s", what, res.Exit, s.wantExit, res.Stderr)
	}
	if len(s.wantStderr) == 0 && res.Stderr != "" {
		t.Errorf("%s wrote to stderr, want nothing: %s", what, res.Stderr)
	}
	for _, want := range s.wantStderr {
		if want = render(t, want, f); !strings.Contains(res.Stderr, want) {
			t.Errorf("%s: stderr does not contain %q; it is: %s", what, want, res.Stderr)
		}
	}
	for _, unwanted := range s.wantNotInStderr {
		if unwanted = render(t, unwanted, f); strings.Contains(res.Stderr, unwanted) {
			t.Errorf("%s: stderr contains %q; it is: %s", what, unwanted, res.Stderr)
		}
	}
}

// storedVersion returns the resourceVersion of the stored store name of resource (such
// as bucketstatestore), or "" when there is none.
func storedVersion(t *testing.T, resource, name string) string {
	t.Helper()
	res := kubectl(t, "", "get", resource, name, "--ignore-not-found", "-o", "jsonpath={.metadata.resourceVersion}")
	if res.Exit != 0 {
		t.Fatalf("kubectl get %s %s: exit %d: %s", resource, name, res.Exit, res.Stderr)
	}
	return res.Stdout
}

// probedKeys are the keys at which the scenarios' probes start multipart uploads: one
// per spec.path the scenarios use.
var probedKeys = []string{
	".kratix-write-permission-check", "destinations/.kratix-write-permission-check",
	// TestKratixParity's paths, cleaned as Kratix's filepath.Join cleans them; a leading
	// "/" stays (and TestKratixKey shows where each server puts it).
	"some/prefix/.kratix-write-permission-check", "a/b/.kratix-write-permission-check",
	"/leading-slash/.kratix-write-permission-check", "leading-slash/.kratix-write-permission-check",
	"/.kratix-write-permission-check", "b/.kratix-write-permission-check",
}

// checkBucketClean fails the test when a bucket of either S3 server holds an object or
// a multipart upload that was neither completed nor aborted: a probe must leave nothing
// behind.
func checkBucketClean(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, server := range []localenv.S3Server{env.MinIO, seaweed} {
		for _, bucket := range []string{fixtures.Bucket, fixtures.IAMBucket} {
			objects, err := server.ListObjects(ctx, bucket, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(objects) > 0 {
				t.Errorf("%s: bucket %s holds objects %v, want none", server.Name(), bucket, objects)
			}
			for _, key := range probedKeys {
				uploads, err := server.ListIncompleteUploads(ctx, bucket, key)
				if err != nil {
					t.Fatal(err)
				}
				if len(uploads) > 0 {
					t.Errorf("%s: bucket %s has %d incomplete uploads at %s, want none", server.Name(), bucket, len(uploads), key)
				}
			}
		}
	}
}

// checkStored compares fields of the stored store name of resource with want.
func checkStored(t *testing.T, resource, name string, want map[string]any) {
	t.Helper()
	res := kubectl(t, "", "get", resource, name, "-o", "yaml")
	if res.Exit != 0 {
		t.Fatalf("kubectl get %s %s: exit %d: %s", resource, name, res.Exit, res.Stderr)
	}
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(res.Stdout), &obj); err != nil {
		t.Fatalf("parsing kubectl get -o yaml: %v", err)
	}
	for _, path := range slices.Sorted(maps.Keys(want)) {
		got, found, err := unstructured.NestedFieldNoCopy(obj, strings.Split(path, ".")...)
		switch {
		case err != nil:
			t.Errorf("%s: %v", path, err)
		case !found:
			t.Errorf("%s is not set, want %#v", path, want[path])
		case !reflect.DeepEqual(got, want[path]):
			t.Errorf("%s = %#v, want %#v", path, got, want[path])
		}
	}
}

// render fills a scenario's template.
func render(t *testing.T, text string, f fixtureSet) string {
	t.Helper()
	tmpl, err := template.New(t.Name()).Option("missingkey=error").Parse(text)
	if err != nil {
		t.Fatalf("parsing the scenario's YAML template: %v", err)
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, f); err != nil {
		t.Fatalf("filling the scenario's YAML template: %v", err)
	}
	return b.String()
}

var nonDNS = regexp.MustCompile(`[^a-z0-9]+`)

// storeName derives a valid, unique object name from a test's name.
func storeName(testName string) string {
	_, last, _ := strings.Cut(testName, "/")
	name := strings.Trim(nonDNS.ReplaceAllString(strings.ToLower(last), "-"), "-")
	if len(name) > 50 {
		name = strings.TrimRight(name[:50], "-")
	}
	h := fnv.New32a()
	h.Write([]byte(testName))
	return fmt.Sprintf("%s-%08x", name, h.Sum32())
}

// withWebhookFlags restarts the webhook with the suite's flags and extra, and with the
// suite's flags alone when the test ends.
func withWebhookFlags(t *testing.T, extra ...string) {
	t.Helper()
	restartWebhook(t, append(slices.Clone(webhookArgs), extra...))
	t.Cleanup(func() { restartWebhook(t, webhookArgs) })
}

// restartWebhook replaces the suite's webhook with one started with args, keeping what
// the one it stops wrote for the search for leaked secrets.
func restartWebhook(t *testing.T, args []string) {
	t.Helper()
	retiredWebhookOutput.record(env.Webhook.Output.String())
	if err := env.RestartWebhook(context.Background(), args...); err != nil {
		t.Fatalf("restarting the webhook with %v: %v", args, err)
	}
}

// logWebhookOnFailure prints what the webhook wrote during a test that failed, and says
// when the webhook running at the test's end is not running. (A test may restart it.)
func logWebhookOnFailure(t *testing.T) {
	started := env.Webhook
	mark := started.Output.Len()
	t.Cleanup(func() {
		w := env.Webhook
		if done, code := w.Exited(); done {
			t.Errorf("the webhook exited with code %d; its output ends with:\n%s", code, w.Output.Since(max(0, w.Output.Len()-4000)))
			return
		}
		if t.Failed() && w == started {
			t.Logf("webhook output during this test:\n%s", w.Output.Since(mark))
		}
	})
}
