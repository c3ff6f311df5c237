package integration

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
	"github.com/kratix-community/statestore-webhook/pkg/admission"
)

// TestSecretGuard changes and deletes credentials Secrets through the real API server,
// whose matchConditions decide which Secrets reach the guard, and checks what kubectl
// shows and how often the guard was called.
func TestSecretGuard(t *testing.T) {
	logWebhookOnFailure(t)
	name := storeName("guards/" + t.Name())
	createSecretT(t, name, credentials(writerAccessKey, writerSecretKey))
	createStore(t, name, name)
	// The guard learns stores from its cache: wait until it names this one.
	waitFor(t, 30*time.Second, "the Secret guard to know the store", func() (bool, string) {
		res := kubectl(t, "", "delete", "secret", name, "--dry-run=server")
		return strings.Contains(res.Stderr, fmt.Sprintf("breaks BucketStateStore(s) %q", name)), res.Stderr
	})

	patch := func(secret string, data map[string]string) kubectlResult {
		return kubectl(t, "", "patch", "secret", secret, "--type=merge", "-p", stringDataPatch(data))
	}
	t.Run("rotating to a key MinIO knows passes quietly", func(t *testing.T) {
		res := patch(name, credentials(roleAccessKey, roleSecretKey))
		if res.Exit != 0 || res.Stderr != "" {
			t.Errorf("exit %d, stderr %q; want 0 and nothing", res.Exit, res.Stderr)
		}
	})
	t.Run("rotating to an unknown key warns naming the store and the reason", func(t *testing.T) {
		res := patch(name, credentials(unknownAccessKey, writerSecretKey))
		want := fmt.Sprintf("Warning: the new credentials in Secret default/%s do not work for BucketStateStore %q: ", name, name)
		if res.Exit != 0 || !strings.Contains(res.Stderr, want) || !strings.Contains(res.Stderr, "(reason: InvalidAccessKeyId)") {
			t.Errorf("exit %d, stderr %q; want 0 and a warning %q ... InvalidAccessKeyId", res.Exit, res.Stderr, want)
		}
		patch(name, credentials(writerAccessKey, writerSecretKey))
	})
	t.Run("removing a key warns naming the store", func(t *testing.T) {
		res := kubectl(t, "", "patch", "secret", name, "--type=json", "-p", `[{"op":"remove","path":"/data/secretAccessKey"}]`)
		want := fmt.Sprintf(`Warning: this update of Secret default/%s removes or empties "secretAccessKey", which BucketStateStore(s) %q need`, name, name)
		if res.Exit != 0 || !strings.Contains(res.Stderr, want) {
			t.Errorf("exit %d, stderr %q; want 0 and %q", res.Exit, res.Stderr, want)
		}
		patch(name, credentials(writerAccessKey, writerSecretKey))
	})
	t.Run("in deny mode rotating to an unknown key is denied", func(t *testing.T) {
		restartWebhook(t, append(slices.Clone(webhookArgs), "--secret-guard=deny"))
		// A restarted webhook fills its cache again.
		waitFor(t, 30*time.Second, "the restarted Secret guard to know the store", func() (bool, string) {
			res := kubectl(t, "", "delete", "secret", name, "--dry-run=server")
			return res.Exit != 0 && strings.Contains(res.Stderr, fmt.Sprintf("breaks BucketStateStore(s) %q", name)), res.Stderr
		})
		res := patch(name, credentials(unknownAccessKey, writerSecretKey))
		want := fmt.Sprintf(`secrets %q is forbidden: the new credentials in Secret default/%s do not work for BucketStateStore %q`, name, name, name)
		if res.Exit == 0 || !strings.Contains(res.Stderr, want) || !strings.Contains(res.Stderr, "InvalidAccessKeyId") {
			t.Errorf("exit %d, stderr %q; want a denial %q ... InvalidAccessKeyId", res.Exit, res.Stderr, want)
		}
		var got corev1.Secret
		if err := k8sClient.Get(t.Context(), client.ObjectKey{Namespace: "default", Name: name}, &got); err != nil {
			t.Fatal(err)
		}
		if string(got.Data[v1alpha1.SecretKeyAccessKeyID]) != writerAccessKey {
			t.Errorf("the denied update changed the Secret")
		}
		res = kubectl(t, "", "patch", "secret", name, "--type=json", "-p", `[{"op":"remove","path":"/data/accessKeyID"}]`)
		if res.Exit == 0 || !strings.Contains(res.Stderr, `removes or empties "accessKeyID"`) {
			t.Errorf("removing accessKeyID: exit %d, stderr %q; want a denial", res.Exit, res.Stderr)
		}
	})
	restartWebhook(t, webhookArgs)

	t.Run("a Secret no store uses passes untouched, through the guard", func(t *testing.T) {
		unused := name + "-unused"
		createSecretT(t, unused, credentials(writerAccessKey, writerSecretKey))
		before := guardCalls(t, "secretguard")
		res := patch(unused, credentials(unknownAccessKey, writerSecretKey))
		if res.Exit != 0 || res.Stderr != "" {
			t.Errorf("exit %d, stderr %q; want 0 and nothing", res.Exit, res.Stderr)
		}
		if after := guardCalls(t, "secretguard"); after != before+1 {
			t.Errorf("the Secret guard was called %d times for the update, want 1", after-before)
		}
	})
	t.Run("a Secret with unrelated data never reaches the webhook", func(t *testing.T) {
		other := name + "-other"
		// "token" is no key of a store's credentials ("password" is a GitStateStore's).
		createSecretT(t, other, map[string]string{"token": "hunter2"})
		before := guardCalls(t, "secretguard")
		if res := patch(other, map[string]string{"token": "hunter3", "accessKeyID": "new"}); res.Exit != 0 || res.Stderr != "" {
			t.Errorf("update: exit %d, stderr %q", res.Exit, res.Stderr)
		}
		// The update added accessKeyID, but the old object decides: it had none.
		other2 := name + "-other2"
		createSecretT(t, other2, map[string]string{"token": "hunter2"})
		if res := kubectl(t, "", "delete", "secret", other2); res.Exit != 0 {
			t.Errorf("delete: exit %d, stderr %q", res.Exit, res.Stderr)
		}
		if after := guardCalls(t, "secretguard"); after != before {
			t.Errorf("the Secret guard was called %d times for Secrets without a credentials key, want 0", after-before)
		}
	})
	t.Run("deleting the Secret warns naming the store", func(t *testing.T) {
		res := kubectl(t, "", "delete", "secret", name)
		want := fmt.Sprintf("Warning: deleting Secret default/%s breaks BucketStateStore(s) %q", name, name)
		if res.Exit != 0 || !strings.Contains(res.Stderr, want) {
			t.Errorf("exit %d, stderr %q; want 0 and %q", res.Exit, res.Stderr, want)
		}
	})
}

// TestDeleteGuard deletes stores with and without Destinations that use them, first
// without Kratix's Destination CRD (the guard is off) and then with a minimal one.
func TestDeleteGuard(t *testing.T) {
	logWebhookOnFailure(t)
	name := storeName("guards/" + t.Name())
	createSecretT(t, name, credentials(writerAccessKey, writerSecretKey))

	t.Run("without the Destination CRD the guard is off and says so once", func(t *testing.T) {
		createStore(t, name+"-early", name)
		if res := kubectl(t, "", "delete", "bucketstatestore", name+"-early"); res.Exit != 0 || res.Stderr != "" {
			t.Errorf("exit %d, stderr %q; want 0 and nothing", res.Exit, res.Stderr)
		}
		const said = "the Destination CRD (destinations.platform.kratix.io) is not installed"
		if n := strings.Count(env.Webhook.Output.String(), said); n != 1 {
			t.Errorf("the webhook said %q %d times, want once", said, n)
		}
	})

	installDestinationCRD(t)
	waitFor(t, 30*time.Second, "the delete guard to watch Destinations", func() (bool, string) {
		return strings.Contains(env.Webhook.Output.String(), "the delete guard is on"), "not in the webhook's log yet"
	})
	dests, err := client.New(env.Kube.Config, client.Options{Scheme: runtime.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	createStore(t, name, name)
	users := []string{name + "-a", name + "-b", name + "-c", name + "-d"}
	for _, d := range users {
		createDestination(t, dests, d, "BucketStateStore", name)
	}
	createDestination(t, dests, name+"-git", "GitStateStore", name) // another kind of store

	t.Run("deleting a store that Destinations use is denied, naming them", func(t *testing.T) {
		want := fmt.Sprintf(`BucketStateStore %q is the state store of 4 Destination(s): %q, %q, %q and 1 more; delete them or point their spec.stateStoreRef at another store first`, name, users[0], users[1], users[2])
		waitFor(t, 30*time.Second, "the delete guard to know the Destinations", func() (bool, string) {
			res := kubectl(t, "", "delete", "bucketstatestore", name, "--dry-run=server")
			return strings.Contains(res.Stderr, want), res.Stderr
		})
		res := kubectl(t, "", "delete", "bucketstatestore", name)
		if res.Exit == 0 || !strings.Contains(res.Stderr, want) {
			t.Errorf("exit %d, stderr %q; want a denial %q", res.Exit, res.Stderr, want)
		}
		annotations := auditAnnotations(t, "delete", "bucketstatestores", name, "delete.bucketstatestores.webhook.kratix-community.io/"+admission.AuditGuard)
		if got := annotations["delete.bucketstatestores.webhook.kratix-community.io/"+admission.AuditVerdict]; got != admission.VerdictDenied {
			t.Errorf("the audit log's verdict is %q, want %q; annotations: %v", got, admission.VerdictDenied, annotations)
		}
	})
	t.Run("the allow-delete annotation lets it go", func(t *testing.T) {
		if res := kubectl(t, "", "annotate", "bucketstatestore", name, admission.AllowDeleteAnnotation+"=true"); res.Exit != 0 {
			t.Fatalf("annotating: %s", res.Stderr)
		}
		if res := kubectl(t, "", "delete", "bucketstatestore", name); res.Exit != 0 || res.Stderr != "" {
			t.Errorf("exit %d, stderr %q; want 0 and nothing", res.Exit, res.Stderr)
		}
	})
	t.Run("a store no Destination uses is deleted", func(t *testing.T) {
		createStore(t, name+"-unused", name)
		if res := kubectl(t, "", "delete", "bucketstatestore", name+"-unused"); res.Exit != 0 || res.Stderr != "" {
			t.Errorf("exit %d, stderr %q; want 0 and nothing", res.Exit, res.Stderr)
		}
	})
}

// destinationCRD is the least of Kratix's Destination CRD the guard needs: a name and
// spec.stateStoreRef.
var destinationCRD = &apiextensionsv1.CustomResourceDefinition{
	ObjectMeta: metav1.ObjectMeta{Name: "destinations.platform.kratix.io"},
	Spec: apiextensionsv1.CustomResourceDefinitionSpec{
		Group: "platform.kratix.io",
		Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: "Destination", ListKind: "DestinationList", Plural: "destinations", Singular: "destination"},
		Scope: apiextensionsv1.ClusterScoped,
		Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
			Name: "v1alpha1", Served: true, Storage: true,
			Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
				Type: "object",
				Properties: map[string]apiextensionsv1.JSONSchemaProps{
					"spec": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{
						"stateStoreRef": {Type: "object", Required: []string{"kind", "name"}, Properties: map[string]apiextensionsv1.JSONSchemaProps{
							"kind": {Type: "string"},
							"name": {Type: "string"},
						}},
					}},
				},
			}},
		}},
	},
}

// installDestinationCRD installs destinationCRD, waits until it is established and
// removes it when the test ends, so that the next run starts without it.
func installDestinationCRD(t *testing.T) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.Kube.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	crd := destinationCRD.DeepCopy()
	if err := c.Create(t.Context(), crd); err != nil {
		t.Fatalf("installing the Destination CRD: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Delete(context.Background(), destinationCRD.DeepCopy()); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("removing the Destination CRD: %v", err)
		}
	})
	waitFor(t, 30*time.Second, "the Destination CRD to be established", func() (bool, string) {
		if err := c.Get(t.Context(), client.ObjectKeyFromObject(crd), crd); err != nil {
			return false, err.Error()
		}
		for _, cond := range crd.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				return true, ""
			}
		}
		return false, fmt.Sprintf("conditions %v", crd.Status.Conditions)
	})
}

func createDestination(t *testing.T, c client.Client, name, kind, store string) {
	t.Helper()
	d := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "platform.kratix.io/v1alpha1",
		"kind":       "Destination",
		"metadata":   map[string]any{"name": name},
		"spec":       map[string]any{"stateStoreRef": map[string]any{"kind": kind, "name": store}},
	}}
	if err := c.Create(t.Context(), d); err != nil {
		t.Fatalf("creating Destination %s: %v", name, err)
	}
}

// createStore creates an accessKey store of Bucket named name that reads Secret secret
// (in default), under a path of its own so that its probe is never a cached one, and
// deletes it when the test ends.
func createStore(t *testing.T, name, secret string) {
	t.Helper()
	s := &v1alpha1.BucketStateStore{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       writerSpec(name),
	}
	s.Spec.SecretRef = &corev1.SecretReference{Name: secret}
	if err := k8sClient.Create(t.Context(), s); err != nil {
		t.Fatalf("creating BucketStateStore %s: %v", name, err)
	}
	t.Cleanup(func() {
		kubectl(t, "", "annotate", "--overwrite", "bucketstatestore", name, admission.AllowDeleteAnnotation+"=true")
		kubectl(t, "", "delete", "--ignore-not-found", "--wait=false", "bucketstatestore", name)
	})
}

// createSecretT creates a Secret in default and deletes it when the test ends.
func createSecretT(t *testing.T, name string, data map[string]string) {
	t.Helper()
	if err := createSecret(t.Context(), name, data); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kubectl(t, "", "delete", "--ignore-not-found", "--wait=false", "secret", name) })
}

// stringDataPatch is a merge patch that sets data's keys through stringData.
func stringDataPatch(data map[string]string) string {
	var fields []string
	for k, v := range data {
		fields = append(fields, strconv.Quote(k)+":"+strconv.Quote(v))
	}
	return `{"stringData":{` + strings.Join(fields, ",") + `}}`
}

var admissionsLine = regexp.MustCompile(`(?m)^statestore_webhook_admissions_total\{([^}]*)\} (\d+)$`)

// guardCalls returns how many requests the webhook's handler webhook (mutate, validate,
// deleteguard, secretguard) has answered, from its metrics.
func guardCalls(t *testing.T, webhook string) int {
	t.Helper()
	text, err := env.Webhook.Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, m := range admissionsLine.FindAllStringSubmatch(text, -1) {
		if !strings.Contains(m[1], `webhook="`+webhook+`"`) {
			continue
		}
		n, err := strconv.Atoi(m[2])
		if err != nil {
			t.Fatalf("metrics line %q: %v", m[0], err)
		}
		total += n
	}
	return total
}

// waitFor polls cond (testkit.Poll) until it holds, failing the test after timeout with
// cond's last word on why not.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	var why string
	if err := testkit.Poll(context.Background(), timeout, func(context.Context) (bool, error) {
		var ok bool
		ok, why = cond()
		return ok, nil
	}); err != nil {
		t.Fatalf("waited %s for %s: %s", timeout, what, why)
	}
}

// TestShippedRBACIsEnough checks that the validating webhook and both guards work with
// the shipped RBAC and are refused nothing: the suite's webhook runs as the shipped
// ServiceAccount, bound only to manifests/base's ClusterRole (localenv applies them as
// shipped), so a guard that needed another permission would log a refusal here.
func TestShippedRBACIsEnough(t *testing.T) {
	logWebhookOnFailure(t)
	name := storeName("guards/" + t.Name())
	installDestinationCRD(t)
	// A fresh webhook, so that its log holds only this test's start-up and requests.
	restartWebhook(t, webhookArgs)
	for _, said := range []string{"the cache of state stores is in sync", "the delete guard is on"} {
		waitFor(t, 30*time.Second, "the webhook to say "+said, func() (bool, string) {
			return strings.Contains(env.Webhook.Output.String(), said), "not in its log yet"
		})
	}

	createSecretT(t, name, credentials(writerAccessKey, writerSecretKey))
	createStore(t, name, name) // the validating webhook reads the Secret and reviews access
	dests, err := client.New(env.Kube.Config, client.Options{Scheme: runtime.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	createDestination(t, dests, name, "BucketStateStore", name)
	waitFor(t, 30*time.Second, "the Secret guard to name the store", func() (bool, string) {
		res := kubectl(t, "", "delete", "secret", name, "--dry-run=server")
		return strings.Contains(res.Stderr, fmt.Sprintf("breaks BucketStateStore(s) %q", name)), res.Stderr
	})
	waitFor(t, 30*time.Second, "the delete guard to name the Destination", func() (bool, string) {
		res := kubectl(t, "", "delete", "bucketstatestore", name, "--dry-run=server")
		return res.Exit != 0 && strings.Contains(res.Stderr, fmt.Sprintf("1 Destination(s): %q", name)), res.Stderr
	})
	if strings.Contains(env.Webhook.Output.String(), "forbidden") {
		t.Errorf("the webhook was refused something by the API server:\n%s", env.Webhook.Output.String())
	}
}
