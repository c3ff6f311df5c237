package certmanager

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
	"github.com/kratix-community/statestore-webhook/internal/release"
)

// The start of the namespace guard's refusal (its ValidatingAdmissionPolicy's message).
const namespaceGuardRefusal = "serves the fail-closed webhook configurations"

// TestHelmReleaseNamespaceIsDeletedOnlyAfterUninstall installs the chart with Helm's Go
// SDK and deletes its namespace as a user would: the API server refuses while the
// release's fail-closed webhook configurations point into it, helm uninstall removes
// them and the guard, and the namespace may then be deleted.
func TestHelmReleaseNamespaceIsDeletedOnlyAfterUninstall(t *testing.T) {
	const name, namespace = "lifecycle", "lifecycle-helm"
	cfg := helmConfig(t, namespace)
	install := action.NewInstall(cfg)
	install.ReleaseName, install.Namespace, install.CreateNamespace = name, namespace, true
	install.Timeout = time.Minute
	if _, err := install.RunWithContext(t.Context(), loadChart(t, chartDir()), nil); err != nil {
		t.Fatalf("helm install %s: %v", name, err)
	}
	uninstalled := false
	t.Cleanup(func() {
		if !uninstalled {
			_, _ = action.NewUninstall(cfg).Run(name)
		}
	})
	fullname := name + "-statestore-webhook"

	waitUntilNamespaceGuarded(t, namespace)
	res := kubectl(t, "", "delete", "namespace", namespace, "--wait=false")
	if res.Exit == 0 || !strings.Contains(res.Stderr, namespaceGuardRefusal) {
		t.Fatalf("kubectl delete namespace %s with the release installed: exit %d, %s; want it refused by the namespace guard", namespace, res.Exit, res.Stderr)
	}
	t.Logf("refused, as it should be: %s", res.Stderr)

	if _, err := action.NewUninstall(cfg).Run(name); err != nil {
		t.Fatalf("helm uninstall %s: %v", name, err)
	}
	uninstalled = true
	assertGone(t, fullname+"-validating", fullname+"-mutating", fullname+"-namespace")
	if res := kubectl(t, "", "delete", "namespace", namespace, "--wait=false"); res.Exit != 0 {
		t.Errorf("kubectl delete namespace %s after helm uninstall: exit %d: %s", namespace, res.Exit, res.Stderr)
	}
}

// TestReleaseFileDeletesWebhooksBeforeItsNamespace applies the release file (rendered
// as make release renders it, in a namespace of its own) with kubectl, checks that the
// namespace cannot be deleted on its own, then deletes the file with kubectl delete -f:
// the webhook configurations and the guard go before the Namespace. The Namespace goes
// in the same run, or, when the API server has not yet seen the configurations go, in
// the next (docs/operating.md#uninstall).
func TestReleaseFileDeletesWebhooksBeforeItsNamespace(t *testing.T) {
	const namespace = "lifecycle-kubectl"
	dir := writeKustomization(t, "overlay-"+namespace, func(rel func(string) string) string {
		return fmt.Sprintf("namespace: %s\nresources: [%s]\ntransformers: [%s]\n", namespace, rel(release.DefaultManifests), rel("manifests/tls-names"))
	})
	rendered, err := release.Render(env.Root, dir, "")
	must(t, err)
	file := string(rendered)
	// The release file's ClusterRole and ClusterRoleBinding are the suite's webhook's own
	// (cluster-scoped, one name): take them over for the test, and give them back after it.
	t.Cleanup(func() { restoreIdentity(t) })
	t.Cleanup(func() { kubectl(t, file, "delete", "--ignore-not-found", "--wait=false", "-f", "-") })
	if res := kubectl(t, file, "apply", "--server-side", "--force-conflicts", "--field-manager="+fieldManager, "-f", "-"); res.Exit != 0 {
		t.Fatalf("kubectl apply --server-side -f the release file: exit %d: %s", res.Exit, res.Stderr)
	}

	waitUntilNamespaceGuarded(t, namespace)
	if res := kubectl(t, "", "delete", "namespace", namespace, "--wait=false"); res.Exit == 0 || !strings.Contains(res.Stderr, namespaceGuardRefusal) {
		t.Fatalf("kubectl delete namespace %s with the webhook installed: exit %d, %s; want it refused by the namespace guard", namespace, res.Exit, res.Stderr)
	}

	res := kubectl(t, file, "delete", "--wait=false", "-f", "-")
	deleted := `namespace "` + namespace + `" deleted`
	if res.Exit != 0 {
		// The API server loads admission policies and their parameters asynchronously: if
		// it has not yet seen the configurations go when the Namespace's turn comes, it
		// refuses the Namespace, and nothing else. The same command then deletes it.
		refused := `namespaces "` + namespace + `" is forbidden`
		if strings.Count(res.Stderr, "Error from server") != 1 || !strings.Contains(res.Stderr, refused) || !strings.Contains(res.Stderr, namespaceGuardRefusal) {
			t.Fatalf("kubectl delete -f the release file: exit %d, want 0, or 1 for the Namespace alone, refused by a guard that has not yet seen the configurations go; stderr:\n%s", res.Exit, res.Stderr)
		}
		assertGone(t, "statestore-webhook-validating", "statestore-webhook-mutating", "statestore-webhook-namespace")
		waitFor(t, 30*time.Second, "kubectl delete -f, run again, to delete namespace "+namespace, func(ctx context.Context) (bool, string) {
			res = kubectl(t, file, "delete", "--ignore-not-found", "--wait=false", "-f", "-")
			return res.Exit == 0, res.Stderr
		})
	}
	assertGone(t, "statestore-webhook-validating", "statestore-webhook-mutating", "statestore-webhook-namespace")
	if !strings.Contains(res.Stdout, deleted) {
		t.Errorf("kubectl delete -f did not delete namespace %s:\n%s", namespace, res.Stdout)
	}
}

// restoreIdentity applies the suite webhook's identity files again (localenv.IdentityFiles),
// which a test that installs and deletes the release file takes over and deletes.
func restoreIdentity(t *testing.T) {
	t.Helper()
	for _, file := range localenv.IdentityFiles {
		objs, err := localenv.ReadObjects(filepath.Join(env.Root, file))
		must(t, err)
		for _, obj := range objs {
			must(t, localenv.Apply(context.Background(), env.Client, obj))
		}
	}
}

// waitUntilNamespaceGuarded waits until the API server enforces the namespace guard for
// namespace (it loads new policies asynchronously), asking with dry-run deletes.
func waitUntilNamespaceGuarded(t *testing.T, namespace string) {
	t.Helper()
	waitFor(t, time.Minute, "the namespace guard to refuse deleting "+namespace, func(ctx context.Context) (bool, string) {
		res := kubectl(t, "", "delete", "namespace", namespace, "--dry-run=server")
		return res.Exit != 0 && strings.Contains(res.Stderr, namespaceGuardRefusal), fmt.Sprintf("a dry-run delete: exit %d: %s", res.Exit, res.Stderr)
	})
}

// assertGone checks that no webhook configuration or ValidatingAdmissionPolicy of each
// name is left.
func assertGone(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		for _, obj := range []client.Object{&admissionregistrationv1.ValidatingWebhookConfiguration{}, &admissionregistrationv1.MutatingWebhookConfiguration{}, &admissionregistrationv1.ValidatingAdmissionPolicy{}, &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}} {
			err := env.Client.Get(t.Context(), client.ObjectKey{Name: name}, obj)
			if !apierrors.IsNotFound(err) {
				t.Errorf("%T %s: %v, want it deleted", obj, name, err)
			}
		}
	}
}
