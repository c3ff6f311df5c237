package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
	"github.com/kratix-community/statestore-webhook/internal/release"
)

// secretNamespacesDir is the least-privilege component: namespaced RBAC for Secrets and
// --secret-namespaces.
const secretNamespacesDir = "manifests/components/secret-namespaces"

// TestSecretNamespaces runs the webhook with manifests/components/secret-namespaces' RBAC as shipped
// (its RoleBinding moved to default, where the fixtures' Secrets are) and
// --secret-namespaces=default: a store whose Secret is in default is admitted, which the
// webhook can only do through that RoleBinding, and one naming a Secret elsewhere is
// denied with the namespaces it may use.
func TestSecretNamespaces(t *testing.T) {
	ctx := context.Background()
	applied := secretNamespacesRBAC(t)
	t.Cleanup(func() { restoreShippedRBAC(t, applied) })
	var sa string
	for _, obj := range applied {
		if obj.GetKind() == "RoleBinding" {
			obj.SetNamespace("default")
			subject := obj.Object["subjects"].([]any)[0].(map[string]any)
			sa = fmt.Sprintf("system:serviceaccount:%s:%s", subject["namespace"], subject["name"])
		}
		if err := localenv.Apply(ctx, k8sClient, obj.DeepCopy()); err != nil {
			t.Fatal(err)
		}
	}
	waitUntilSecretAccess(t, sa, map[string]bool{"default": true, "kube-system": false})

	withWebhookFlags(t, "--secret-namespaces=default")

	runScenarios(t, map[string]scenario{
		"a store whose Secret is in an allowed namespace is admitted": {
			yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: {{.Endpoint}}
  secretRef:
    name: {{.Secret}}
`),
		},
		"a store whose Secret is elsewhere is denied with the allowed namespaces": {
			yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: {{.Endpoint}}
  secretRef:
    name: {{.Secret}}
    namespace: kube-system
`),
			wantExit:   1,
			wantStderr: []string{`spec.secretRef.namespace: Forbidden: the webhook reads Secrets only in namespaces default; put the Secret in one of them`},
		},
	})
}

// secretNamespacesRBAC renders manifests/base with the component, as an overlay would,
// and returns its RBAC: the base's ClusterRole as the component patches it, and the
// component's ClusterRole and RoleBinding. It checks that the patch takes the rule on
// secrets out of the base's ClusterRole and keeps every other rule.
func secretNamespacesRBAC(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	dir := t.TempDir()
	rel := func(p string) string {
		r, err := filepath.Rel(dir, filepath.Join(env.Root, p))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	kustomization := fmt.Sprintf("resources: [%s]\ncomponents: [%s]\n", rel("manifests/base"), rel(secretNamespacesDir))
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kustomization), 0o644); err != nil {
		t.Fatal(err)
	}
	rendered, err := release.Render(dir, ".", "")
	if err != nil {
		t.Fatalf("rendering manifests/base with %s: %v", secretNamespacesDir, err)
	}
	file := filepath.Join(dir, "rendered.yaml")
	if err := os.WriteFile(file, rendered, 0o644); err != nil {
		t.Fatal(err)
	}
	objs, err := localenv.ReadObjects(file)
	if err != nil {
		t.Fatal(err)
	}
	base, err := localenv.ReadObjects(filepath.Join(env.Root, "manifests/base/role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	baseRules, _, _ := unstructured.NestedSlice(base[0].Object, "rules")
	var rbac []*unstructured.Unstructured
	for _, obj := range objs {
		switch obj.GetKind() {
		case "ClusterRole", "RoleBinding":
			rbac = append(rbac, obj)
		default:
			continue
		}
		if obj.GetName() != base[0].GetName() {
			continue
		}
		rules, _, _ := unstructured.NestedSlice(obj.Object, "rules")
		if want := baseRules[1:]; !reflect.DeepEqual(rules, want) {
			t.Fatalf("with %s, ClusterRole %s has the rules\n%v\nwant the base's without its first, on secrets (%v):\n%v", secretNamespacesDir, obj.GetName(), rules, baseRules[0], want)
		}
	}
	return rbac
}

// restoreShippedRBAC deletes what the component added and puts the base's ClusterRole
// back as shipped.
func restoreShippedRBAC(t *testing.T, applied []*unstructured.Unstructured) {
	ctx := context.Background()
	for _, obj := range applied {
		if obj.GetName() == "statestore-webhook" {
			continue // the base's ClusterRole, patched: restored below
		}
		if err := k8sClient.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting %s %q: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
	objs, err := localenv.ReadObjects(filepath.Join(env.Root, "manifests/base/role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range objs {
		if err := localenv.Apply(ctx, k8sClient, obj); err != nil {
			t.Error(err)
		}
	}
}

// waitUntilSecretAccess waits until the API server's authorizer says that user may get
// Secrets in exactly the namespaces want marks true.
func waitUntilSecretAccess(t *testing.T, user string, want map[string]bool) {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.Kube.Config)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, user+"'s access to Secrets", func() (bool, string) {
		got := map[string]bool{}
		for ns := range want {
			r, err := cs.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), &authorizationv1.SubjectAccessReview{
				Spec: authorizationv1.SubjectAccessReviewSpec{User: user, Groups: []string{"system:serviceaccounts"},
					ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: "get", Resource: "secrets", Name: fixtures.Secret}},
			}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got[ns] = r.Status.Allowed
		}
		return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprintf("%s may get Secrets in %v, want %v", user, got, want)
	})
}
