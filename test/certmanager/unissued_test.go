package certmanager

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
	"github.com/kratix-community/statestore-webhook/internal/release"
	"github.com/kratix-community/statestore-webhook/internal/server"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// A store any API server admits once no webhook is in the way; the webhook would deny
// it, but the point here is whether a write gets through at all.
const unissuedStore = `apiVersion: platform.kratix.io/v1alpha1
kind: BucketStateStore
metadata:
  name: unissued
spec:
  bucketName: kratix
  endpoint: s3.example.com
`

// TestReleaseFileWithoutCertManagerLeavesNoFailClosedWebhook is the install the
// release file's users get wrong: kubectl apply -f on a cluster without cert-manager. It
// runs on an API server of its own, with Kratix's CRDs and no cert-manager:
//
//  1. kubectl apply -f exits 1 on the Certificate and Issuer but creates the rest, the
//     fail-closed webhook configurations included, and a store write then fails. (helm
//     install of the chart fails too, and creates nothing.)
//  2. The webhook, run as the Deployment runs it (its args, the shipped RBAC, an empty
//     optional Secret volume), is alive and not ready, and deletes both configurations
//     UnissuedGrace after it first finds no Certificate; the store write then succeeds.
//  3. With cert-manager's CRDs installed and the file applied again (exit 0), the
//     configurations are back and kept while the Certificate exists, though nothing
//     issues it, past UnissuedGrace.
//  4. With the Certificate deleted, as when kubectl could not create it, they go again,
//     UnissuedGrace later.
func TestReleaseFileWithoutCertManagerLeavesNoFailClosedWebhook(t *testing.T) {
	kube, err := localenv.StartKube(localenv.KubeOptions{
		BinDir: env.BinDir,
		CRDDir: filepath.Join(env.Root, localenv.CRDDir),
		Dir:    filepath.Join(t.TempDir(), "kube"),
	})
	if err != nil {
		t.Fatalf("starting an API server without cert-manager: %v", err)
	}
	t.Cleanup(func() { must(t, kube.Stop()) })
	clientset, err := kubernetes.NewForConfig(kube.Config)
	must(t, err)
	run := func(stdin string, args ...string) kubectlResult {
		t.Helper()
		res, err := testkit.RunCommand("", stdin, time.Minute, kube.KubectlPath, append([]string{"--kubeconfig=" + kube.KubeconfigPath}, args...)...)
		must(t, err)
		t.Logf("kubectl %s: exit %d\n%s%s", strings.Join(args, " "), res.Exit, res.Stdout, res.Stderr)
		return res
	}
	rendered, err := release.Render(env.Root, release.DefaultManifests, "")
	must(t, err)
	file := string(rendered)
	const validating, mutating = "statestore-webhook-validating", "statestore-webhook-mutating"

	// 1. The partial install, and what it does to store writes.
	res := run(file, "apply", "-f", "-")
	if res.Exit == 0 || !strings.Contains(res.Stderr, `no matches for kind "Certificate"`) {
		t.Fatalf("kubectl apply -f the release file without cert-manager: exit %d, want 1 for the Certificate; stderr:\n%s", res.Exit, res.Stderr)
	}
	assertConfigurationsExist(t, clientset, validating, mutating)
	if res := run(unissuedStore, "apply", "-f", "-"); res.Exit == 0 || !strings.Contains(res.Stderr, "failed calling webhook") {
		t.Fatalf("a store write with the configurations and no webhook: exit %d, want it to fail calling the webhook; stderr:\n%s", res.Exit, res.Stderr)
	}

	// Helm maps every object before it creates any, so the chart creates nothing here.
	install := action.NewInstall(helmConfigFor(t, kube.KubeconfigPath, "unissued-helm"))
	install.ReleaseName, install.Namespace, install.CreateNamespace = "unissued", "unissued-helm", true
	install.Timeout = time.Minute
	if _, err := install.RunWithContext(t.Context(), loadChart(t, chartDir()), nil); err == nil || !strings.Contains(err.Error(), `no matches for kind "Certificate"`) {
		t.Fatalf("helm install without cert-manager: %v; want it refused for the Certificate", err)
	}
	if gone, state := configurationsGone(t.Context(), clientset, "unissued-statestore-webhook-validating", "unissued-statestore-webhook-mutating"); !gone {
		t.Fatalf("helm install without cert-manager left webhook configurations: %s", state)
	}

	// 2. The webhook as the Deployment runs it.
	kubeconfig, err := kube.WebhookKubeconfig(t.Context(), env.Root, localenv.IdentityFiles...)
	must(t, err)
	webhook, err := localenv.StartWebhook(t.Context(), localenv.WebhookOptions{
		Binary:         env.WebhookBinary,
		CertDir:        t.TempDir(), // the optional Secret volume, empty
		Kubeconfig:     kubeconfig,
		CA:             env.CA,
		Args:           deploymentArgs(t, file),
		WaitingForCert: true,
	})
	must(t, err)
	t.Cleanup(func() { must(t, webhook.Stop()) })
	t.Logf("webhook alive and not ready: %v", webhook.Args)
	waitFor(t, server.UnissuedGrace+time.Minute, "the webhook to delete both configurations", func(ctx context.Context) (bool, string) {
		return configurationsGone(ctx, clientset, validating, mutating)
	})
	if out := webhook.Output.String(); !strings.Contains(out, "cert-manager is not installed") || !strings.Contains(out, `"fix":"install cert-manager, then apply the release again"`) {
		t.Errorf("the webhook's log does not say why it deleted them, and what to do:\n%s", out)
	}
	if res := run(unissuedStore, "apply", "-f", "-"); res.Exit != 0 {
		t.Fatalf("a store write once the configurations are gone: exit %d: %s", res.Exit, res.Stderr)
	}

	// 3. cert-manager's CRDs, with no controller to issue anything, and the file again.
	if res := run("", "apply", "--server-side", "-f", env.CertManager.CRDDir); res.Exit != 0 {
		t.Fatalf("installing cert-manager's CRDs: exit %d: %s", res.Exit, res.Stderr)
	}
	if res := run("", "wait", "--for=condition=Established", "--timeout=60s", "-f", env.CertManager.CRDDir); res.Exit != 0 {
		t.Fatalf("waiting for cert-manager's CRDs: exit %d: %s", res.Exit, res.Stderr)
	}
	if res := run(file, "apply", "-f", "-"); res.Exit != 0 {
		t.Fatalf("kubectl apply -f the release file with cert-manager's CRDs: exit %d: %s", res.Exit, res.Stderr)
	}
	reapplied := time.Now()
	time.Sleep(server.UnissuedGrace + 2*server.UnissuedInterval)
	assertConfigurationsExist(t, clientset, validating, mutating)
	if out := webhook.Output.String(); !strings.Contains(out, "Certificate statestore-webhook-system/statestore-webhook-serving exists") {
		t.Errorf("the webhook's log does not say it waits for the existing Certificate:\n%s", out)
	}
	t.Logf("both configurations kept %s after the apply, while the Certificate exists", time.Since(reapplied).Round(time.Second))

	// 4. No Certificate, as when kubectl could not create it.
	if res := run("", "delete", "certificate", "-n", "statestore-webhook-system", "statestore-webhook-serving"); res.Exit != 0 {
		t.Fatalf("deleting the serving Certificate: exit %d: %s", res.Exit, res.Stderr)
	}
	waitFor(t, server.UnissuedGrace+time.Minute, "the webhook to delete both configurations 30s after the Certificate", func(ctx context.Context) (bool, string) {
		return configurationsGone(ctx, clientset, validating, mutating)
	})
	if out := webhook.Output.String(); !strings.Contains(out, "Certificate statestore-webhook-system/statestore-webhook-serving does not exist") || !strings.Contains(out, `"fix":"apply the release again: it creates the Certificate"`) {
		t.Errorf("the webhook's log does not say the Certificate is missing, and what to do:\n%s", out)
	}
	if done, code := webhook.Exited(); done {
		t.Errorf("the webhook exited (%d); it should still wait for its certificate", code)
	}
	// Each reason to wait is logged once, not at every look.
	var said []string
	statuses := map[string]int{}
	for _, line := range strings.Split(webhook.Output.String(), "\n") {
		if !strings.Contains(line, `"logger":"unissued"`) {
			continue
		}
		said = append(said, line)
		if _, status, ok := strings.Cut(line, `"status":`); ok {
			if statuses[status]++; statuses[status] == 2 {
				t.Errorf("the webhook logged this reason to wait more than once: %s", status)
			}
		}
	}
	t.Logf("what the webhook said:\n%s", strings.Join(said, "\n"))
}

// deploymentArgs returns the release file's webhook container args, expanded as the
// kubelet expands them, without the flags a local run sets (shipped.readDeployment).
func deploymentArgs(t *testing.T, file string) []string {
	t.Helper()
	for _, obj := range decode(t, file) {
		if obj.GetKind() != "Deployment" {
			continue
		}
		s := &shipped{Deployment: &appsv1.Deployment{}}
		must(t, runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, s.Deployment))
		s.readDeployment(t)
		return s.Args
	}
	t.Fatal("the release file has no Deployment")
	return nil
}

// getConfigurations gets both webhook configurations and returns what each Get said.
func getConfigurations(ctx context.Context, cs kubernetes.Interface, validating, mutating string) (vErr, mErr error) {
	_, vErr = cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, validating, metav1.GetOptions{})
	_, mErr = cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, mutating, metav1.GetOptions{})
	return vErr, mErr
}

// configurationsGone reports whether neither configuration exists, and what is left.
func configurationsGone(ctx context.Context, cs kubernetes.Interface, validating, mutating string) (bool, string) {
	vErr, mErr := getConfigurations(ctx, cs, validating, mutating)
	return apierrors.IsNotFound(vErr) && apierrors.IsNotFound(mErr), fmt.Sprintf("validating: %v; mutating: %v", vErr, mErr)
}

// assertConfigurationsExist fails the test unless both configurations exist.
func assertConfigurationsExist(t *testing.T, cs kubernetes.Interface, validating, mutating string) {
	t.Helper()
	if vErr, mErr := getConfigurations(t.Context(), cs, validating, mutating); vErr != nil || mErr != nil {
		t.Fatalf("want both webhook configurations: validating: %v; mutating: %v", vErr, mErr)
	}
}
