package certmanager

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
)

// waitFor calls check every 200ms until it reports done, and fails the test after
// timeout with what check said last and the end of cert-manager's log.
func waitFor(t *testing.T, timeout time.Duration, what string, check func(ctx context.Context) (bool, string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	for {
		done, reason := check(ctx)
		if done {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("gave up after %s waiting for %s:\n%s\nlog of client-go and cert-manager (end):\n%s", timeout, what, reason, tail(env.Log, 4000))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// certificatesReady reports whether every Certificate is Ready for its current
// generation, and otherwise what cert-manager says about them, their Issuers and their
// CertificateRequests.
func certificatesReady(ctx context.Context, certificates []*unstructured.Unstructured) (bool, string) {
	var waiting []string
	for _, obj := range certificates {
		c := &cmapi.Certificate{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), c); err != nil {
			return false, err.Error()
		}
		ready := slices.ContainsFunc(c.Status.Conditions, func(cond cmapi.CertificateCondition) bool {
			return cond.Type == cmapi.CertificateConditionReady && cond.Status == cmmeta.ConditionTrue && cond.ObservedGeneration == c.Generation
		})
		if !ready {
			waiting = append(waiting, fmt.Sprintf("Certificate %s (issuerRef %s %s) conditions: %+v", c.Name, c.Spec.IssuerRef.Kind, c.Spec.IssuerRef.Name, c.Status.Conditions))
		}
	}
	if len(waiting) == 0 {
		return true, ""
	}
	for _, kind := range []string{"Issuer", "CertificateRequest"} {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(cmapi.SchemeGroupVersion.WithKind(kind + "List"))
		if err := env.Client.List(ctx, list, client.InNamespace(certificates[0].GetNamespace())); err != nil {
			waiting = append(waiting, err.Error())
			continue
		}
		for _, obj := range list.Items {
			conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
			waiting = append(waiting, fmt.Sprintf("%s %s conditions: %v", kind, obj.GetName(), conditions))
		}
	}
	return false, strings.Join(waiting, "\n")
}

// cainjectorAnnotation names the Certificate whose CA the cainjector injects.
const cainjectorAnnotation = "cert-manager.io/inject-ca-from"

// caBundlesInjected reads the configurations from the API server into live, which has
// room for one of each kind, and reports whether every webhook in them has caBundle want.
func caBundlesInjected(ctx context.Context, live *localenv.WebhookConfigurations, configurations []*unstructured.Unstructured, want []byte) (bool, string) {
	var missing []string
	for _, obj := range configurations {
		var annotations map[string]string
		bundles := map[string][]byte{}
		switch obj.GetKind() {
		case "MutatingWebhookConfiguration":
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), &live.Mutating[0]); err != nil {
				return false, err.Error()
			}
			annotations = live.Mutating[0].Annotations
			for _, wh := range live.Mutating[0].Webhooks {
				bundles[wh.Name] = wh.ClientConfig.CABundle
			}
		case "ValidatingWebhookConfiguration":
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), &live.Validating[0]); err != nil {
				return false, err.Error()
			}
			annotations = live.Validating[0].Annotations
			for _, wh := range live.Validating[0].Webhooks {
				bundles[wh.Name] = wh.ClientConfig.CABundle
			}
		}
		for name, bundle := range bundles {
			if !bytes.Equal(bundle, want) {
				missing = append(missing, fmt.Sprintf("%s %s (%s: %q): webhook %s has a caBundle of %d bytes",
					obj.GetKind(), obj.GetName(), cainjectorAnnotation, annotations[cainjectorAnnotation], name, len(bundle)))
			}
		}
	}
	return len(missing) == 0, fmt.Sprintf("%s; want the %d bytes of the serving Secret's ca.crt", strings.Join(missing, "; "), len(want))
}
