package certmanager

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kratix-community/statestore-webhook/internal/release"
)

// shipped is what a kustomize directory renders, with the test-only changes that let
// a real API server call a webhook on 127.0.0.1 instead of the Deployment behind the
// Service.
type shipped struct {
	// Applied are the Namespaces, Issuers, Certificates and webhook configurations,
	// ready to apply; Certificates and Configurations are among them.
	Applied, Certificates, Configurations []*unstructured.Unstructured
	// Deployment is not applied: the test runs the webhook binary instead.
	Deployment *appsv1.Deployment
	// ServingSecret is the Secret the Deployment mounts at CertDir, its --cert-dir;
	// Args are the container's other flags.
	ServingSecret, CertDir string
	Args                   []string
}

// readShipped renders dir and changes exactly this: the serving Certificate (the one
// that is not a CA) also names 127.0.0.1, and each webhook's clientConfig.service
// becomes a url to the same path on webhookURL. Rules, failurePolicy, sideEffects,
// timeouts, annotations and everything else stay as shipped.
func readShipped(t *testing.T, dir, webhookURL string) *shipped {
	t.Helper()
	s := &shipped{}
	kinds := map[string]int{}
	for _, obj := range decode(t, render(t, dir)) {
		kinds[obj.GetKind()]++
		switch obj.GetKind() {
		case "Namespace", "Issuer":
		case "Certificate":
			s.Certificates = append(s.Certificates, obj)
			if isCA, _, _ := unstructured.NestedBool(obj.Object, "spec", "isCA"); !isCA {
				ips, _, _ := unstructured.NestedStringSlice(obj.Object, "spec", "ipAddresses")
				must(t, unstructured.SetNestedStringSlice(obj.Object, append(ips, "127.0.0.1"), "spec", "ipAddresses"))
			}
		case "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration":
			must(t, pointAt(obj, webhookURL))
			s.Configurations = append(s.Configurations, obj)
		case "Deployment":
			s.Deployment = &appsv1.Deployment{}
			must(t, runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, s.Deployment))
			continue
		default:
			continue
		}
		s.Applied = append(s.Applied, obj)
	}
	if kinds["Deployment"] != 1 || kinds["Certificate"] == 0 || kinds["MutatingWebhookConfiguration"] != 1 || kinds["ValidatingWebhookConfiguration"] != 1 {
		t.Fatalf("%s renders %v; want one Deployment, Certificates and one webhook configuration of each kind", dir, kinds)
	}
	s.readDeployment(t)
	return s
}

// readDeployment finds the Secret the webhook container mounts at its --cert-dir, and
// keeps its flags but those localenv.StartWebhook sets for a local run.
func (s *shipped) readDeployment(t *testing.T) {
	t.Helper()
	spec := s.Deployment.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("Deployment %s has %d containers, want 1", s.Deployment.Name, len(spec.Containers))
	}
	local := []string{"--webhook-host", "--webhook-port", "--cert-dir", "--health-probe-bind-address", "--metrics-bind-address", "--kubeconfig"}
	args, err := release.ContainerArgs(s.Deployment, spec.Containers[0].Name)
	must(t, err)
	for _, arg := range args {
		flag, value, _ := strings.Cut(arg, "=")
		if flag == "--cert-dir" {
			s.CertDir = value
		}
		if !slices.Contains(local, flag) {
			s.Args = append(s.Args, arg)
		}
	}
	for _, m := range spec.Containers[0].VolumeMounts {
		for _, v := range spec.Volumes {
			if m.MountPath == s.CertDir && v.Name == m.Name && v.Secret != nil {
				s.ServingSecret = v.Secret.SecretName
				return
			}
		}
	}
	t.Fatalf("Deployment %s mounts no Secret at its --cert-dir %q", s.Deployment.Name, s.CertDir)
}

// apply applies s.Applied server-side and deletes it again, with the Secrets the
// Certificates wrote, when the test ends. Namespaces stay: without a namespace
// controller they would never finish terminating.
func (s *shipped) apply(t *testing.T) {
	t.Helper()
	var remove []*unstructured.Unstructured
	for _, obj := range s.Applied {
		if obj.GetKind() != "Namespace" {
			remove = append(remove, obj)
		}
	}
	t.Cleanup(func() {
		kubectl(t, toYAML(t, remove), "delete", "--ignore-not-found", "-f", "-")
		for _, c := range s.Certificates {
			name, _, _ := unstructured.NestedString(c.Object, "spec", "secretName")
			kubectl(t, "", "delete", "secret", "--ignore-not-found", "-n", c.GetNamespace(), name)
		}
	})
	if res := kubectl(t, toYAML(t, s.Applied), "apply", "--server-side", "--field-manager="+fieldManager, "-f", "-"); res.Exit != 0 {
		t.Fatalf("applying the Issuers, Certificates and webhook configurations: exit %d: %s", res.Exit, res.Stderr)
	}
}

// pointAt replaces each webhook's clientConfig.service with a url to the same path on
// base. Everything else, caBundle and annotations included, stays as shipped.
func pointAt(obj *unstructured.Unstructured, base string) error {
	webhooks, _, err := unstructured.NestedSlice(obj.Object, "webhooks")
	if err != nil || len(webhooks) == 0 {
		return fmt.Errorf("%s %s has no webhooks (%v)", obj.GetKind(), obj.GetName(), err)
	}
	for _, w := range webhooks {
		wh, _ := w.(map[string]any)
		path, found, err := unstructured.NestedString(wh, "clientConfig", "service", "path")
		if err != nil || !found {
			return fmt.Errorf("webhook %v of %s has no clientConfig.service.path (%v)", wh["name"], obj.GetName(), err)
		}
		unstructured.RemoveNestedField(wh, "clientConfig", "service")
		if err := unstructured.SetNestedField(wh, base+path, "clientConfig", "url"); err != nil {
			return err
		}
	}
	return unstructured.SetNestedSlice(obj.Object, webhooks, "webhooks")
}
