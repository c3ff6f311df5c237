package certmanager

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/internal/localenv"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// TestCertManagerIssuesTheServingCertificate applies manifests/default's Issuers,
// Certificates and webhook configurations as shipped (see readShipped for the two
// test-only changes), lets cert-manager issue the serving certificate, runs the webhook
// binary with the Secret its Deployment mounts, and checks that the API server, trusting
// only the caBundle the cainjector filled in, admits and denies stores through it.
// A wrong issuerRef, secretName or inject-ca-from annotation fails one of the waits.
func TestCertManagerIssuesTheServingCertificate(t *testing.T) {
	ctx := t.Context()
	serveShipped(t, "manifests/default")

	t.Run("a store with an access key Secret and an existing bucket is admitted and defaulted", func(t *testing.T) {
		s := store("served-with-cert-manager", v1alpha1.BucketStateStoreSpec{
			BucketName:           env.Bucket,
			Endpoint:             env.MinIO.Endpoint,
			StateStoreCoreFields: v1alpha1.StateStoreCoreFields{SecretRef: &corev1.SecretReference{Name: env.Secret}},
		})
		if err := env.Client.Create(ctx, s); err != nil {
			t.Fatalf("creating a valid store: %v", err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), s) })
		stored := &v1alpha1.BucketStateStore{}
		must(t, env.Client.Get(ctx, client.ObjectKeyFromObject(s), stored))
		want := v1alpha1.BucketStateStoreSpec{
			BucketName: env.Bucket,
			Endpoint:   env.MinIO.Endpoint,
			Insecure:   ptr.To(false),
			AuthMethod: v1alpha1.AuthMethodAccessKey,
			StateStoreCoreFields: v1alpha1.StateStoreCoreFields{
				SecretRef: &corev1.SecretReference{Name: env.Secret, Namespace: "default"},
			},
		}
		if diff := cmp.Diff(want, stored.Spec); diff != "" {
			t.Errorf("stored spec (-want +got):\n%s", diff)
		}
		b, _ := yaml.Marshal(stored.Spec)
		t.Logf("admitted; stored spec:\n%s", b)
	})

	denials := map[string]struct {
		spec       v1alpha1.BucketStateStoreSpec
		wantCauses []metav1.StatusCause
	}{
		"a store without secretRef is denied at spec.secretRef": {
			spec:       v1alpha1.BucketStateStoreSpec{BucketName: env.Bucket, Endpoint: env.MinIO.Endpoint},
			wantCauses: []metav1.StatusCause{{Type: metav1.CauseTypeFieldValueRequired, Field: "spec.secretRef"}},
		},
		"a store whose bucket does not exist is denied at spec.bucketName": {
			spec: v1alpha1.BucketStateStoreSpec{
				BucketName:           "no-such-bucket",
				Endpoint:             env.MinIO.Endpoint,
				StateStoreCoreFields: v1alpha1.StateStoreCoreFields{SecretRef: &corev1.SecretReference{Name: env.Secret, Namespace: "default"}},
			},
			wantCauses: []metav1.StatusCause{{Type: metav1.CauseTypeFieldValueInvalid, Field: "spec.bucketName"}},
		},
	}
	for _, name := range slices.Sorted(maps.Keys(denials)) {
		tc := denials[name]
		t.Run(name, func(t *testing.T) {
			s := store("denied-with-cert-manager", tc.spec)
			err := env.Client.Create(ctx, s)
			if err == nil {
				_ = env.Client.Delete(context.Background(), s)
				t.Fatal("the store was admitted, want a denial")
			}
			status, ok := err.(apierrors.APIStatus)
			if !ok || !apierrors.IsInvalid(err) || status.Status().Details == nil {
				t.Fatalf("creating the store: %v; want a 422 Invalid with causes", err)
			}
			var got []metav1.StatusCause
			for _, c := range status.Status().Details.Causes {
				got = append(got, metav1.StatusCause{Type: c.Type, Field: c.Field})
			}
			if diff := cmp.Diff(tc.wantCauses, got); diff != "" {
				t.Errorf("causes' types and fields (-want +got):\n%s", diff)
			}
			t.Logf("denied: HTTP %d: %v", status.Status().Code, err)
		})
	}
}

// servedManifests are manifests applied and served by the webhook binary with the
// certificate cert-manager issued for them.
type servedManifests struct {
	*shipped
	// Secret is the serving Secret the Deployment mounts, as the webhook read it.
	Secret  *corev1.Secret
	Webhook *localenv.Webhook
}

// serveShipped applies what dir renders as shipped (see readShipped for the two
// test-only changes), lets cert-manager issue the serving certificate, runs the webhook
// binary with the Secret its Deployment mounts, and returns once the API server, trusting
// only the caBundle the cainjector filled in, calls it. A wrong issuerRef, secretName or
// inject-ca-from annotation fails one of the waits.
func serveShipped(t *testing.T, dir string) *servedManifests {
	t.Helper()
	ctx := t.Context()
	port, err := testkit.FreePort()
	must(t, err)
	webhookURL := "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	manifests := readShipped(t, dir, webhookURL)
	manifests.apply(t)

	began := time.Now()
	waitFor(t, time.Minute, "every Certificate to be Ready", func(ctx context.Context) (bool, string) {
		return certificatesReady(ctx, manifests.Certificates)
	})
	t.Logf("cert-manager made every Certificate Ready in %s", time.Since(began).Round(time.Millisecond))

	// The Secret the Deployment mounts, which is not necessarily one a Certificate writes.
	secret := &corev1.Secret{}
	key := client.ObjectKey{Namespace: manifests.Deployment.Namespace, Name: manifests.ServingSecret}
	waitFor(t, 10*time.Second, fmt.Sprintf("Secret %s, which the Deployment mounts at %s", key, manifests.CertDir), func(ctx context.Context) (bool, string) {
		if err := env.Client.Get(ctx, key, secret); err != nil {
			return false, err.Error()
		}
		return len(secret.Data[corev1.TLSCertKey]) > 0 && len(secret.Data[cmmeta.TLSCAKey]) > 0,
			fmt.Sprintf("it has the keys %v", slices.Sorted(maps.Keys(secret.Data)))
	})
	servingCA := secret.Data[cmmeta.TLSCAKey]
	webhook := startWebhook(t, secret, port, manifests.Args)
	t.Logf("webhook serving %s with Secret %s: %v", webhookURL, key, webhook.Args)

	live := &localenv.WebhookConfigurations{
		Mutating:   make([]admissionregistrationv1.MutatingWebhookConfiguration, 1),
		Validating: make([]admissionregistrationv1.ValidatingWebhookConfiguration, 1),
	}
	began = time.Now()
	waitFor(t, 30*time.Second, "the cainjector to put the serving CA into every webhook's caBundle", func(ctx context.Context) (bool, string) {
		return caBundlesInjected(ctx, live, manifests.Configurations, servingCA)
	})
	// The webhooks' rules must match this store; without a secretRef it is denied
	// before anything is probed.
	probe := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(),
		"kind":       "BucketStateStore",
		"metadata":   map[string]any{"name": "certmanager-registration-check"},
		"spec":       map[string]any{"bucketName": env.Bucket, "endpoint": "127.0.0.1:1"},
	}}
	if err := live.WaitUntilCalled(ctx, env.Client, env.Clientset, probe, 30*time.Second); err != nil {
		t.Fatalf("the API server does not call the webhook through the injected caBundle: %v", err)
	}
	t.Logf("caBundle injected into %v and trusted by the API server in %s", live.WebhookNames(), time.Since(began).Round(time.Millisecond))
	return &servedManifests{shipped: manifests, Secret: secret, Webhook: webhook}
}

// startWebhook runs the webhook binary on port with the serving Secret's keys as files
// in its --cert-dir, the way the kubelet mounts a Secret, and the Deployment's other
// flags. It stops when the test ends and shows its output if the test failed.
func startWebhook(t *testing.T, secret *corev1.Secret, port int, args []string) *localenv.Webhook {
	t.Helper()
	return startWebhookFor(t, secret, port, "", args)
}

// startWebhookFor is startWebhook for a certificate issued for serverName, not 127.0.0.1.
func startWebhookFor(t *testing.T, secret *corev1.Secret, port int, serverName string, args []string) *localenv.Webhook {
	t.Helper()
	certDir := filepath.Join(t.TempDir(), "serving-certs")
	must(t, os.Mkdir(certDir, 0o700))
	for key, value := range secret.Data {
		must(t, os.WriteFile(filepath.Join(certDir, key), value, 0o600))
	}
	servingCA, err := testkit.LoadCA(secret.Data[cmmeta.TLSCAKey], filepath.Join(t.TempDir(), "serving-ca.crt"))
	must(t, err)
	webhook, err := localenv.StartWebhook(t.Context(), localenv.WebhookOptions{
		Binary:     env.WebhookBinary,
		CertDir:    certDir,
		Kubeconfig: env.WebhookKubeconfig,
		// StartWebhook's TLS handshake must verify the certificate cert-manager issued.
		CA:         servingCA,
		ServerName: serverName,
		Port:       port,
		Args:       args,
		// The webhook talks to MinIO, whose certificate the suite's CA signed. Of a
		// repeated variable the last value wins.
		Env: []string{"SSL_CERT_FILE=" + env.CA.CertFile},
	})
	if err != nil {
		t.Fatalf("starting the webhook with the certificate cert-manager issued: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("webhook output:\n%s", webhook.Output.String())
		}
		if err := webhook.Stop(); err != nil {
			t.Errorf("stopping the webhook: %v", err)
		}
	})
	return webhook
}

func store(name string, spec v1alpha1.BucketStateStoreSpec) *v1alpha1.BucketStateStore {
	return &v1alpha1.BucketStateStore{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
