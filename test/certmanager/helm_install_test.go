package certmanager

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// TestHelmInstallAdmitsAndDeniesStores installs the chart in the tree with Helm's Go SDK
// (no --wait: this API server runs no pods) into its own namespace, lets cert-manager
// issue the certificate the chart asks for, and runs the webhook binary with the
// Deployment's flags and the Secret it mounts, standing in for the pods. An
// EndpointSlice of the chart's Service points at it, so the API server calls the
// webhooks exactly as the chart registered them: by Service, verifying the Service's
// DNS name against the caBundle the cainjector filled in. Stores are then applied with
// kubectl.
func TestHelmInstallAdmitsAndDeniesStores(t *testing.T) {
	const name, namespace = "bsw", "helm-install"
	ctx := t.Context()
	objs := helmInstall(t, name, namespace, nil)

	installed := &shipped{}
	var service *corev1.Service
	for _, o := range objs {
		switch o.GetKind() {
		case "Certificate":
			installed.Certificates = append(installed.Certificates, o)
		case "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration":
			installed.Configurations = append(installed.Configurations, o)
		case "Deployment":
			installed.Deployment = &appsv1.Deployment{}
			must(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, installed.Deployment))
		case "Service":
			service = &corev1.Service{}
			must(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, service))
		}
	}
	if installed.Deployment == nil || service == nil || len(installed.Certificates) == 0 || len(installed.Configurations) != 2 {
		t.Fatalf("the release has no Deployment, Service, Certificates or both webhook configurations")
	}
	installed.readDeployment(t)

	waitFor(t, time.Minute, "every Certificate of the release to be Ready", func(ctx context.Context) (bool, string) {
		return certificatesReady(ctx, installed.Certificates)
	})
	secret := &corev1.Secret{}
	must(t, env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: installed.ServingSecret}, secret))
	t.Cleanup(func() {
		for _, c := range installed.Certificates {
			secretName, _, _ := unstructured.NestedString(c.Object, "spec", "secretName")
			_ = env.Client.Delete(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: secretName}})
		}
	})

	// The EndpointSlice cannot name loopback, so the webhook listens on every interface
	// (an empty --webhook-host, after the 127.0.0.1 StartWebhook sets), as in a pod.
	port, err := testkit.FreePort()
	must(t, err)
	webhook := startWebhookFor(t, secret, port, service.Name+"."+namespace+".svc", append(installed.Args, "--webhook-host="))
	t.Logf("webhook standing in for Deployment %s: %v", installed.Deployment.Name, webhook.Args)
	pointServiceAt(t, service, hostIP(t), port)

	waitUntilWebhookDenies(t, "the API server to call the chart's webhooks through their Service")

	valid := fmt.Sprintf(`apiVersion: platform.kratix.io/v1alpha1
kind: BucketStateStore
metadata:
  name: installed-with-helm
spec:
  bucketName: %s
  endpoint: %s
  secretRef:
    name: %s
    namespace: default
`, env.Bucket, env.MinIO.Endpoint, env.Secret)
	if res := kubectl(t, valid, "apply", "-f", "-"); res.Exit != 0 {
		t.Fatalf("kubectl apply of a valid store: exit %d: %s", res.Exit, res.Stderr)
	}
	t.Cleanup(func() { kubectl(t, "", "delete", "--ignore-not-found", "bucketstatestore", "installed-with-helm") })
	res := kubectl(t, "", "get", "bucketstatestore", "installed-with-helm", "-o", "jsonpath={.spec.authMethod}")
	if res.Exit != 0 || res.Stdout != string(v1alpha1.AuthMethodAccessKey) {
		t.Errorf("the stored store's spec.authMethod is %q (exit %d), want %q set by the mutating webhook", res.Stdout, res.Exit, v1alpha1.AuthMethodAccessKey)
	}

	wrongBucket := strings.Replace(strings.Replace(valid, "installed-with-helm", "denied-with-helm", 1), "bucketName: "+env.Bucket, "bucketName: no-such-bucket", 1)
	res = kubectl(t, wrongBucket, "apply", "-f", "-")
	if res.Exit == 0 {
		kubectl(t, "", "delete", "--ignore-not-found", "bucketstatestore", "denied-with-helm")
		t.Fatal("kubectl apply of a store whose bucket does not exist succeeded, want a denial")
	}
	if !strings.Contains(res.Stderr, "spec.bucketName") {
		t.Errorf("kubectl apply of a store whose bucket does not exist: %s; want a denial at spec.bucketName", res.Stderr)
	}
}

// helmInstall installs the chart in the tree as release name into namespace (created by
// the install) with Helm's Go SDK and returns the release's objects. The release is
// uninstalled when the test ends.
func helmInstall(t *testing.T, name, namespace string, values map[string]any) []*unstructured.Unstructured {
	t.Helper()
	cfg := helmConfig(t, namespace)
	install := action.NewInstall(cfg)
	install.ReleaseName, install.Namespace, install.CreateNamespace = name, namespace, true
	install.Timeout = time.Minute
	rel, err := install.RunWithContext(t.Context(), loadChart(t, chartDir()), values)
	if err != nil {
		t.Fatalf("helm install %s: %v", name, err)
	}
	t.Logf("helm install %s: %s, chart %s %s", name, rel.Info.Status, rel.Chart.Metadata.Version, rel.Chart.Metadata.AppVersion)
	t.Cleanup(func() {
		if _, err := action.NewUninstall(cfg).Run(name); err != nil {
			t.Errorf("helm uninstall %s: %v", name, err)
		}
	})
	return decode(t, rel.Manifest)
}

// helmConfig is Helm's configuration for releases in namespace of the suite's API
// server, stored in Secrets as the helm CLI stores them.
func helmConfig(t *testing.T, namespace string) *action.Configuration {
	t.Helper()
	return helmConfigFor(t, env.Kube.KubeconfigPath, namespace)
}

// helmConfigFor is helmConfig for the API server kubeconfig names.
func helmConfigFor(t *testing.T, kubeconfig, namespace string) *action.Configuration {
	t.Helper()
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig, flags.Namespace = ptr.To(kubeconfig), ptr.To(namespace)
	cfg := &action.Configuration{}
	must(t, cfg.Init(flags, namespace, "secret", t.Logf))
	return cfg
}

// pointServiceAt writes the EndpointSlice and the Endpoints the controllers would write
// for service if its pod listened on ip:port, ready.
func pointServiceAt(t *testing.T, service *corev1.Service, ip string, port int) {
	t.Helper()
	var ports []discoveryv1.EndpointPort
	for _, p := range service.Spec.Ports {
		if p.Name == "https" {
			ports = append(ports, discoveryv1.EndpointPort{Name: ptr.To(p.Name), Port: ptr.To(int32(port)), Protocol: ptr.To(corev1.ProtocolTCP)})
		}
	}
	if len(ports) == 0 {
		t.Fatalf("Service %s has no port named https", service.Name)
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:      service.Name + "-test",
			Namespace: service.Namespace,
			Labels:    map[string]string{discoveryv1.LabelServiceName: service.Name, discoveryv1.LabelManagedBy: "certmanager-test"},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       ports,
	}
	must(t, env.Client.Create(t.Context(), slice))
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), slice) })
	// The same address as Endpoints, which the endpoints controller writes beside the
	// slice: an API server before 1.33 resolves a webhook's Service through Endpoints.
	endpoints := &corev1.Endpoints{ //nolint:staticcheck // deprecated in 1.33, but 1.30 (make test-kube) reads it
		ObjectMeta: metav1.ObjectMeta{Name: service.Name, Namespace: service.Namespace},
		Subsets: []corev1.EndpointSubset{{ //nolint:staticcheck // as above
			Addresses: []corev1.EndpointAddress{{IP: ip}},
			Ports:     []corev1.EndpointPort{{Name: "https", Port: int32(port), Protocol: corev1.ProtocolTCP}},
		}},
	}
	must(t, env.Client.Create(t.Context(), endpoints))
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), endpoints) })
}

// hostIP is an IPv4 address of this machine other than loopback, which an
// EndpointSlice may not name.
func hostIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	must(t, err)
	for _, a := range addrs {
		if ipnet, ok := a.(*net.IPNet); ok && ipnet.IP.To4() != nil && ipnet.IP.IsGlobalUnicast() {
			return ipnet.IP.String()
		}
	}
	t.Fatalf("this machine has no IPv4 address but loopback (%v): an EndpointSlice cannot point at the webhook", addrs)
	return ""
}

// waitUntilWebhookDenies waits until a dry-run create of a store without secretRef is
// denied with a cause, which only the webhook gives: its configurations are registered,
// the API server trusts their caBundle and reaches the webhook. (The API server's
// webhook metrics cannot tell, as they count earlier tests' calls under the same names.)
func waitUntilWebhookDenies(t *testing.T, what string) {
	t.Helper()
	invalid := store("registration-check", v1alpha1.BucketStateStoreSpec{BucketName: env.Bucket, Endpoint: "127.0.0.1:1"})
	waitFor(t, time.Minute, what, func(ctx context.Context) (bool, string) {
		err := env.Client.Create(ctx, invalid.DeepCopy(), client.DryRunAll)
		status, ok := err.(apierrors.APIStatus)
		if ok && apierrors.IsInvalid(err) && status.Status().Details != nil && len(status.Status().Details.Causes) > 0 {
			return true, ""
		}
		return false, fmt.Sprintf("a dry-run create of a store without secretRef returned %v", err)
	})
}
