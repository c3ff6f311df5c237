package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/pkg/admission"
	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

// auditPolicy records requests for stores and Secrets at Metadata level, which holds the
// webhooks' audit annotations but no object, so no Secret value reaches the log.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  resources:
  - group: platform.kratix.io
    resources: ["bucketstatestores", "gitstatestores"]
  - group: ""
    resources: ["secrets"]
- level: None
`

// validating is the name the API server prefixes the validating webhook's audit
// annotations with.
const validating = "validate.bucketstatestores.webhook.kratix-community.io/"

// TestAuditAnnotations creates stores and reads back from the API server's audit log why
// each was admitted or denied.
func TestAuditAnnotations(t *testing.T) {
	logWebhookOnFailure(t)
	name := storeName("guards/" + t.Name())

	missing := &v1alpha1.BucketStateStore{ObjectMeta: metav1.ObjectMeta{Name: name + "-missing"}, Spec: writerSpec(name)}
	missing.Spec.BucketName = fixtures.MissingBucket
	if err := k8sClient.Create(t.Context(), missing); err == nil {
		t.Errorf("a store of a missing bucket was admitted")
	}
	checkAudit(t, "create", missing.Name, map[string]string{
		validating + admission.AuditVerdict: admission.VerdictDenied,
		validating + admission.AuditProbe:   string(probe.ReasonBucketNotFound),
	})

	// A dry-run probes; the create after it finds the success in the cache.
	doc := fmt.Sprintf("apiVersion: platform.kratix.io/v1alpha1\nkind: BucketStateStore\nmetadata:\n  name: %s\nspec:\n  bucketName: %s\n  endpoint: %s\n  path: %s\n  secretRef:\n    name: %s\n",
		name, fixtures.Bucket, fixtures.Endpoint, name, fixtures.Secret)
	t.Cleanup(func() { kubectl(t, doc, "delete", "--ignore-not-found", "-f", "-") })
	for _, args := range [][]string{{"--dry-run=server"}, nil} {
		if res := kubectl(t, doc, append([]string{"create", "-f", "-"}, args...)...); res.Exit != 0 {
			t.Fatalf("kubectl create %v: %s", args, res.Stderr)
		}
	}
	events := waitForAudit(t, "create", name, 2)
	for i, want := range []string{"false", "true"} {
		got := events[i].Annotations
		if got[validating+admission.AuditVerdict] != admission.VerdictAllowed || got[validating+admission.AuditProbe] != string(probe.ReasonOK) || got[validating+admission.AuditProbeCached] != want {
			t.Errorf("audit annotations of create %d: %v; want verdict %s, probe OK, probe-cached %s", i+1, got, admission.VerdictAllowed, want)
		}
	}
}

// auditEvent is what the tests read of an audit event.
type auditEvent struct {
	Verb      string `json:"verb"`
	Stage     string `json:"stage"`
	ObjectRef *struct {
		Resource string `json:"resource"`
		Name     string `json:"name"`
	} `json:"objectRef"`
	Annotations map[string]string `json:"annotations"`
}

// readAudit returns the completed events of verb on objects named name, in order.
func readAudit(t *testing.T, verb, name string) []auditEvent {
	t.Helper()
	f, err := os.Open(env.Kube.AuditLogPath)
	if err != nil {
		t.Fatalf("reading the API server's audit log: %v", err)
	}
	defer f.Close()
	var events []auditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e auditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit log line %q: %v", sc.Text(), err)
		}
		if e.Verb == verb && e.Stage == "ResponseComplete" && e.ObjectRef != nil && e.ObjectRef.Name == name {
			events = append(events, e)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return events
}

// waitForAudit waits until the audit log holds n completed events of verb on name.
func waitForAudit(t *testing.T, verb, name string, n int) []auditEvent {
	t.Helper()
	var events []auditEvent
	waitFor(t, 10*time.Second, fmt.Sprintf("%d audit events of %s %s", n, verb, name), func() (bool, string) {
		events = readAudit(t, verb, name)
		return len(events) >= n, fmt.Sprintf("found %d", len(events))
	})
	return events
}

// checkAudit checks that the last completed event of verb on name carries want among its
// annotations.
func checkAudit(t *testing.T, verb, name string, want map[string]string) {
	t.Helper()
	events := waitForAudit(t, verb, name, 1)
	got := events[len(events)-1].Annotations
	for k, v := range want {
		if got[k] != v {
			t.Errorf("audit annotation %s of %s %s is %q, want %q; all: %v", k, verb, name, got[k], v, got)
		}
	}
}

// auditAnnotations returns the annotations of the last completed event of verb on the
// resource named name that carries key.
func auditAnnotations(t *testing.T, verb, resource, name, key string) map[string]string {
	t.Helper()
	var found map[string]string
	waitFor(t, 10*time.Second, fmt.Sprintf("an audit event of %s %s %s with %s", verb, resource, name, key), func() (bool, string) {
		for _, e := range readAudit(t, verb, name) {
			if _, ok := e.Annotations[key]; ok && e.ObjectRef.Resource == resource {
				found = e.Annotations
			}
		}
		return found != nil, "none yet"
	})
	return found
}
