package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

// A unit test of the decision alone, on client-go's fakes; test/certmanager proves it
// against the real API server, kubectl and cert-manager.
func TestUnissuedDeletesOnlyAnOldConfigurationOfItsOwnWithNoCertificateToCome(t *testing.T) {
	const ns = "statestore-webhook-system"
	created := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	service := admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: ns, Name: "statestore-webhook"}}
	elsewhere := admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: "other", Name: "statestore-webhook"}}
	url := "https://127.0.0.1:9443/validate"
	byURL := admissionregistrationv1.WebhookClientConfig{URL: &url}
	certificate := func(conditions ...any) *unstructured.Unstructured {
		c := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
			"metadata": map[string]any{"name": "statestore-webhook-serving", "namespace": ns, "creationTimestamp": created.Format(time.RFC3339)},
		}}
		if len(conditions) > 0 {
			c.Object["status"] = map[string]any{"conditions": conditions}
		}
		return c
	}
	issuing := map[string]any{"type": "Ready", "status": "False", "message": "Issuing certificate as Secret does not exist"}
	// looks are the times Check runs, after the configurations' creation.
	grace, twice := UnissuedGrace, 2*UnissuedGrace
	cases := map[string]struct {
		looks       []time.Duration
		certManager bool
		certificate *unstructured.Unstructured
		client      admissionregistrationv1.WebhookClientConfig
		wantDeleted bool
		wantSaid    string
	}{
		"old configurations are deleted once cert-manager has been missing for the grace": {
			looks: []time.Duration{grace, twice}, client: service, wantDeleted: true,
			wantSaid: `"fix"="install cert-manager, then apply the release again"`,
		},
		"old configurations are deleted once the Certificate has been missing for the grace": {
			looks: []time.Duration{grace, twice}, certManager: true, client: service, wantDeleted: true,
			wantSaid: `"fix"="apply the release again: it creates the Certificate"`,
		},
		"a Certificate missing for less than the grace keeps old configurations (an upgrade that creates it last)": {
			looks: []time.Duration{10 * grace, 11*grace - time.Second}, certManager: true, client: service,
		},
		"configurations younger than the grace are kept": {
			looks: []time.Duration{0, grace - time.Second}, client: service,
		},
		"configurations are kept while the Certificate exists and cert-manager gives it a status": {
			looks: []time.Duration{UnattendedAfter + grace, UnattendedAfter + twice}, certManager: true, certificate: certificate(issuing), client: service,
		},
		"a Certificate with no status yet keeps them": {
			looks: []time.Duration{UnattendedAfter - grace, UnattendedAfter - time.Second}, certManager: true, certificate: certificate(), client: service,
		},
		"a Certificate with no status long after its creation has no cert-manager behind it": {
			looks: []time.Duration{UnattendedAfter, UnattendedAfter + grace}, certManager: true, certificate: certificate(), client: service, wantDeleted: true,
			wantSaid: `"fix"="start cert-manager (install it again if it was uninstalled), then apply the release again"`,
		},
		"configurations that call another namespace's Service are kept": {
			looks: []time.Duration{grace, twice}, client: elsewhere,
		},
		"configurations that call a URL are kept": {
			looks: []time.Duration{grace, twice}, client: byURL,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			meta := metav1.ObjectMeta{Name: "statestore-webhook-validating", UID: "u1", CreationTimestamp: metav1.NewTime(created)}
			objs := []runtime.Object{
				&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: meta, Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: "v", ClientConfig: tc.client}}},
				&admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "statestore-webhook-mutating", UID: "u2", CreationTimestamp: meta.CreationTimestamp},
					Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: "m", ClientConfig: tc.client}}},
			}
			if tc.certificate != nil {
				objs = append(objs, tc.certificate)
			}
			kube := fake.NewClientset()
			if tc.certManager {
				kube.Resources = []*metav1.APIResourceList{{GroupVersion: "cert-manager.io/v1", APIResources: []metav1.APIResource{{Name: "certificates", Namespaced: true, Kind: "Certificate"}}}}
			}
			scheme := runtime.NewScheme()
			if err := admissionregistrationv1.AddToScheme(scheme); err != nil {
				t.Fatal(err)
			}
			dyn := dynamicfake.NewSimpleDynamicClient(scheme, objs...)
			var said []string
			u := &Unissued{
				CertFiles:   []string{filepath.Join(t.TempDir(), "tls.crt")},
				Certificate: types.NamespacedName{Namespace: ns, Name: "statestore-webhook-serving"},
				Validating:  "statestore-webhook-validating",
				Mutating:    "statestore-webhook-mutating",
				Discovery:   kube.Discovery(),
				Dynamic:     dyn,
				Log:         funcr.New(func(prefix, args string) { said = append(said, args) }, funcr.Options{}),
			}
			for _, look := range tc.looks {
				u.Check(context.Background(), created.Add(look))
			}
			for _, c := range []struct {
				resource schema.GroupVersionResource
				name     string
			}{{validatingConfigurations, u.Validating}, {mutatingConfigurations, u.Mutating}} {
				_, err := dyn.Resource(c.resource).Get(context.Background(), c.name, metav1.GetOptions{})
				if deleted := apierrors.IsNotFound(err); deleted != tc.wantDeleted {
					t.Errorf("%s %s: deleted %v (%v), want %v", c.resource.Resource, c.name, deleted, err, tc.wantDeleted)
				}
			}
			if log := strings.Join(said, "\n"); tc.wantSaid != "" && !strings.Contains(log, tc.wantSaid) {
				t.Errorf("the log does not say %s:\n%s", tc.wantSaid, log)
			}
		})
	}
}

func TestUnissuedStopsOnceTheCertificateFilesExist(t *testing.T) {
	dir := t.TempDir()
	files := []string{filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")}
	for _, f := range files {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	kube := fake.NewClientset()
	u := &Unissued{CertFiles: files, Discovery: kube.Discovery(), Log: logr.Discard()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := u.Start(ctx); err != nil || ctx.Err() != nil {
		t.Fatalf("Start with the files there: %v (context: %v), want it to return at once", err, ctx.Err())
	}
	if actions := kube.Actions(); len(actions) > 0 {
		t.Errorf("Start with the files there asked the API server %v, want nothing", actions)
	}
}

func TestUnissuedKeepsTheConfigurationsAndSaysOnceWhenItMayNotLook(t *testing.T) {
	const ns = "statestore-webhook-system"
	scheme := runtime.NewScheme()
	if err := admissionregistrationv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	old := metav1.NewTime(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	service := admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: ns, Name: "statestore-webhook"}}
	dyn := dynamicfake.NewSimpleDynamicClient(scheme, &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "v", CreationTimestamp: old},
		Webhooks:   []admissionregistrationv1.ValidatingWebhook{{Name: "v", ClientConfig: service}},
	})
	dyn.PrependReactor("get", "certificates", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "cert-manager.io", Resource: "certificates"}, "statestore-webhook-serving", errors.New("RBAC: no rule"))
	})
	var lines []string
	u := &Unissued{
		Certificate: types.NamespacedName{Namespace: ns, Name: "statestore-webhook-serving"},
		Validating:  "v",
		Mutating:    "m",
		Discovery:   fake.NewClientset().Discovery(),
		Dynamic:     dyn,
		Log:         funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{}),
	}
	now := old.Add(time.Hour)
	for range 3 {
		u.Check(context.Background(), now)
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "cannot tell whether the serving certificate will be issued") {
		t.Errorf("three looks refused by RBAC logged %q, want one line saying the configurations are kept", lines)
	}
	if _, err := dyn.Resource(validatingConfigurations).Get(context.Background(), "v", metav1.GetOptions{}); err != nil {
		t.Errorf("the configuration: %v, want it kept", err)
	}
}

func TestUnissuedJudgesEachConfigurationByItsOwnAge(t *testing.T) {
	const ns = "statestore-webhook-system"
	created := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	service := admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: ns, Name: "statestore-webhook"}}
	scheme := runtime.NewScheme()
	if err := admissionregistrationv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	// The mutating configuration was recreated (a GitOps sync) after the validating one.
	dyn := dynamicfake.NewSimpleDynamicClient(scheme,
		&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "v", CreationTimestamp: metav1.NewTime(created)},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: "v", ClientConfig: service}}},
		&admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "m", CreationTimestamp: metav1.NewTime(created.Add(3 * UnissuedGrace / 2))},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: "m", ClientConfig: service}}},
	)
	u := &Unissued{
		CertFiles:   []string{filepath.Join(t.TempDir(), "tls.crt")},
		Certificate: types.NamespacedName{Namespace: ns, Name: "statestore-webhook-serving"},
		Validating:  "v",
		Mutating:    "m",
		Discovery:   fake.NewClientset().Discovery(),
		Dynamic:     dyn,
		Log:         logr.Discard(),
	}
	u.Check(context.Background(), created)
	u.Check(context.Background(), created.Add(2*UnissuedGrace))
	if _, err := dyn.Resource(validatingConfigurations).Get(context.Background(), "v", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the validating configuration, %s old: %v, want it deleted", 2*UnissuedGrace, err)
	}
	if _, err := dyn.Resource(mutatingConfigurations).Get(context.Background(), "m", metav1.GetOptions{}); err != nil {
		t.Errorf("the mutating configuration, %s old: %v, want it kept", UnissuedGrace/2, err)
	}
}
