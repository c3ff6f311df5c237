package certmanager

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// fieldManager owns what these tests apply.
const fieldManager = "certmanager-test"

// dryRunApply are kubectl's arguments for a server-side dry-run apply, with strict field
// validation, of the objects on stdin. --force-conflicts: the suite created the shipped
// RBAC for the webhook's own identity (localenv.Kube.WebhookKubeconfig) under another
// field manager, and an overlay may change it (another namespace in the binding's
// subject, or secret-namespaces' rules); a dry-run changes nothing either way.
var dryRunApply = []string{"apply", "--server-side", "--dry-run=server", "--force-conflicts", "--validate=strict", "--field-manager=" + fieldManager, "-f", "-"}

// TestEveryManifestVariantAppliesServerSide applies every kustomize directory that ships
// as a server-side dry-run with strict field validation, so a field the API server's
// schemas (cert-manager's CRDs included) do not know, or a wrong type, fails here.
func TestEveryManifestVariantAppliesServerSide(t *testing.T) {
	variants := []string{"manifests/base", "manifests/default", "manifests/standalone", "manifests/crd", writeComponentsOverlay(t)}
	for _, variant := range variants {
		t.Run(variant, func(t *testing.T) {
			rendered := render(t, variant)
			objs := decode(t, rendered)
			// A dry-run creates no Namespace, and the namespaced objects need theirs.
			var namespaces []*unstructured.Unstructured
			for _, obj := range objs {
				if obj.GetKind() == "Namespace" {
					namespaces = append(namespaces, obj)
				}
			}
			if len(namespaces) > 0 {
				if res := kubectl(t, toYAML(t, namespaces), "apply", "--server-side", "--field-manager="+fieldManager, "-f", "-"); res.Exit != 0 {
					t.Fatalf("creating the Namespaces of %s: exit %d: %s", variant, res.Exit, res.Stderr)
				}
			}

			res := kubectl(t, rendered, dryRunApply...)
			if res.Exit != 0 || res.Stderr != "" {
				t.Fatalf("kubectl apply --server-side --dry-run=server of %s: exit %d, want 0 and no warnings; stderr:\n%s", variant, res.Exit, res.Stderr)
			}
			if got := strings.Count(res.Stdout, "serverside-applied (server dry run)"); got != len(objs) {
				t.Errorf("the API server accepted %d objects of %s, want all %d:\n%s", got, variant, len(objs), res.Stdout)
			}
		})
	}
}

// render runs `kubectl kustomize` on dir, relative to the module root.
func render(t *testing.T, dir string) string {
	t.Helper()
	res := kubectl(t, "", "kustomize", filepath.Join(env.Root, dir))
	if res.Exit != 0 {
		t.Fatalf("kubectl kustomize %s: exit %d: %s", dir, res.Exit, res.Stderr)
	}
	return res.Stdout
}

// writeComponentsOverlay writes an overlay of manifests/default with the components
// that need no placeholder filled in (kustomize renders a Component only inside an
// overlay), plus the namespace secret-namespaces' RoleBinding is in, and returns its
// directory as render takes it.
func writeComponentsOverlay(t *testing.T) string {
	t.Helper()
	dir := writeKustomization(t, "overlay-components", func(rel func(string) string) string {
		return fmt.Sprintf("resources: [namespace.yaml, %s]\ncomponents: [%s, %s]\n",
			rel("manifests/default"), rel("manifests/components/client-auth"), rel("manifests/components/secret-namespaces"))
	})
	must(t, os.WriteFile(filepath.Join(env.Root, dir, "namespace.yaml"), []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kratix-credentials\n"), 0o644))
	return dir
}

// decode splits a multi-document YAML stream into objects.
func decode(t *testing.T, stream string) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(stream), 4096)
	for {
		obj := &unstructured.Unstructured{}
		err := dec.Decode(&obj.Object)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("decoding rendered manifests: %v", err)
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
}

// toYAML joins objects into a multi-document YAML stream.
func toYAML(t *testing.T, objs []*unstructured.Unstructured) string {
	t.Helper()
	docs := make([]string, 0, len(objs))
	for _, obj := range objs {
		b, err := yaml.Marshal(obj.Object)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	return strings.Join(docs, "---\n")
}

// kubectlResult is what a kubectl run printed and how it exited.
type kubectlResult = testkit.CommandResult

// kubectl runs the real kubectl as the cluster administrator with stdin as its input
// ("" for none). A kubectl that cannot start or runs over a minute fails the test; a
// non-zero exit does not. kustomize output is long, so only other commands are logged.
func kubectl(t *testing.T, stdin string, args ...string) kubectlResult {
	t.Helper()
	res, err := testkit.RunCommand("", stdin, time.Minute, env.Kube.KubectlPath, append([]string{"--kubeconfig=" + env.Kube.KubeconfigPath}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	if args[0] != "kustomize" {
		t.Logf("kubectl %s: exit %d\n%s%s", strings.Join(args, " "), res.Exit, res.Stdout, res.Stderr)
	}
	return res
}
