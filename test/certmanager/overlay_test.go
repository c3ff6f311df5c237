package certmanager

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestAnOverlayInAnotherNamespaceKeepsTLS renders the overlay docs/operating.md tells
// users to write (another namespace, every optional component, manifests/tls-names),
// applies it to the API server as a strict server-side dry-run, then runs it through
// cert-manager and the webhook binary: the Certificate must be issued for the Service's
// new name and the cainjector must find it from the annotations. With the webhook
// stopped, an update that leaves the spec alone still succeeds (matchConditions) and
// one that changes it is refused (failurePolicy: Fail).
func TestAnOverlayInAnotherNamespaceKeepsTLS(t *testing.T) {
	const namespace = "platform-webhooks"
	dir := writeOverlay(t, namespace)

	// Everything it renders is valid, but the ServiceMonitor, whose API is not served here.
	var applied []*unstructured.Unstructured
	var service *unstructured.Unstructured
	for _, o := range decode(t, render(t, dir)) {
		if o.GetNamespace() != "" && o.GetNamespace() != namespace {
			t.Errorf("%s %s is in namespace %s, want %s", o.GetKind(), o.GetName(), o.GetNamespace(), namespace)
		}
		if o.GetKind() == "Service" {
			service = o
		}
		if !notServed[o.GroupVersionKind().GroupKind()] {
			applied = append(applied, o)
		}
	}
	createNamespace(t, namespace)
	if res := kubectl(t, toYAML(t, applied), dryRunApply...); res.Exit != 0 || res.Stderr != "" {
		t.Fatalf("kubectl apply --server-side --dry-run=server of the overlay: exit %d, want 0 and no warnings; stderr:\n%s", res.Exit, res.Stderr)
	}

	served := serveShipped(t, dir)
	waitUntilWebhookDenies(t, "the API server to call the webhook with the overlay's caBundle")
	serviceName := service.GetName() + "." + namespace + ".svc"
	block, _ := pem.Decode(served.Secret.Data[corev1.TLSCertKey])
	if block == nil {
		t.Fatal("the serving Secret's tls.crt holds no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	must(t, err)
	if err := cert.VerifyHostname(serviceName); err != nil {
		t.Errorf("the serving certificate is not valid for the name the API server dials: %v", err)
	}

	s := fmt.Sprintf(`apiVersion: platform.kratix.io/v1alpha1
kind: BucketStateStore
metadata:
  name: overlay-store
spec:
  bucketName: %s
  endpoint: %s
  secretRef: {name: %s, namespace: default}
`, env.Bucket, env.MinIO.Endpoint, env.Secret)
	if res := kubectl(t, s, "apply", "-f", "-"); res.Exit != 0 {
		t.Fatalf("kubectl apply of a valid store: exit %d: %s", res.Exit, res.Stderr)
	}
	t.Cleanup(func() { kubectl(t, "", "delete", "--ignore-not-found", "bucketstatestore", "overlay-store") })

	must(t, served.Webhook.Stop())
	if res := kubectl(t, "", "label", "bucketstatestore", "overlay-store", "kratix.io/test=finalizer-like"); res.Exit != 0 {
		t.Errorf("with the webhook down, an update of labels only: exit %d: %s; want it to bypass the webhook", res.Exit, res.Stderr)
	}
	res := kubectl(t, "", "patch", "bucketstatestore", "overlay-store", "--type=merge", "-p", `{"spec":{"path":"elsewhere/"}}`)
	if res.Exit == 0 || !strings.Contains(res.Stderr, "failed calling webhook") {
		t.Errorf("with the webhook down, an update of the spec: exit %d: %s; want it refused for the failed webhook call", res.Exit, res.Stderr)
	}
}

// writeOverlay writes the overlay a user would write to move the webhook into
// namespace, with every optional component, into a directory of the suite and returns
// its path relative to the module root.
func writeOverlay(t *testing.T, namespace string) string {
	t.Helper()
	return writeKustomization(t, "overlay-"+namespace, func(rel func(string) string) string {
		return fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: %s
resources:
- %s
components:
- %s
- %s
- %s
transformers:
- %s
patches:
- target: {kind: NetworkPolicy, name: statestore-webhook}
  patch: |-
    - op: replace
      path: /spec/ingress/0/from
      value: [{ipBlock: {cidr: 10.0.0.0/16}}]
`, namespace, rel("manifests/default"), rel("manifests/components/network-policy"), rel("manifests/components/service-monitor"),
			rel("manifests/components/system-cluster-critical"), rel("manifests/tls-names"))
	})
}

// writeKustomization writes the kustomization.yaml that kustomization returns into a
// directory name of the suite's, and returns that directory relative to the module
// root, as render takes it. kustomization names the tree's directories through rel,
// which makes them relative to the new one (kustomize refuses absolute paths).
func writeKustomization(t *testing.T, name string, kustomization func(rel func(string) string) string) string {
	t.Helper()
	dir := filepath.Join(env.WorkDir, name)
	must(t, os.MkdirAll(dir, 0o755))
	rel := func(p string) string {
		r, err := filepath.Rel(dir, filepath.Join(env.Root, p))
		must(t, err)
		return r
	}
	must(t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kustomization(rel)), 0o644))
	r, err := filepath.Rel(env.Root, dir)
	must(t, err)
	return r
}

// TestTheNetworkPolicyComponentNeedsTheAPIServersSource checks what docs/security.md
// promises: until an overlay says where the API server calls from, the API server
// refuses the component's NetworkPolicy, so it cannot lock the API server out.
func TestTheNetworkPolicyComponentNeedsTheAPIServersSource(t *testing.T) {
	dir := writeKustomization(t, "overlay-unpatched-network-policy", func(rel func(string) string) string {
		return fmt.Sprintf("resources: [%s]\ncomponents: [%s]\n", rel("manifests/base"), rel("manifests/components/network-policy"))
	})
	var policies []*unstructured.Unstructured
	for _, o := range decode(t, render(t, dir)) {
		if o.GetKind() == "NetworkPolicy" {
			policies = append(policies, o)
		}
	}
	if len(policies) != 1 {
		t.Fatalf("the component renders %d NetworkPolicies, want 1", len(policies))
	}
	createNamespace(t, policies[0].GetNamespace())
	res := kubectl(t, toYAML(t, policies), "apply", "--server-side", "--dry-run=server", "--field-manager="+fieldManager, "-f", "-")
	if res.Exit == 0 || !strings.Contains(res.Stderr, "ipBlock.cidr") {
		t.Errorf("applying the NetworkPolicy with its placeholder: exit %d: %s; want it refused at ipBlock.cidr", res.Exit, res.Stderr)
	}
}
