package admission

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrladmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
	"github.com/kratix-community/statestore-webhook/pkg/defaults"
	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

// The benchmarks here time the work of one admission of a valid accessKey store with
// the bucket probe answered from a warm cache and the Secret from a fake, so what is left
// is the webhook's own CPU and allocations. Run them with -benchmem.

// appliedStore is a store the way the API server sends it after `kubectl apply`:
// server-set metadata, managed fields and the last-applied annotation around the spec.
const appliedStore = `{"apiVersion":"platform.kratix.io/v1alpha1","kind":"BucketStateStore",` +
	`"metadata":{"name":"default","uid":"6f1c8a8e-2a51-4bde-9d1c-3f1d0f6a2b10","generation":1,` +
	`"creationTimestamp":"2026-01-01T00:00:00Z","annotations":{"kubectl.kubernetes.io/last-applied-configuration":` +
	`"{\"apiVersion\":\"platform.kratix.io/v1alpha1\",\"kind\":\"BucketStateStore\",\"metadata\":{\"annotations\":{},\"name\":\"default\"},` +
	`\"spec\":{\"bucketName\":\"kratix\",\"endpoint\":\"minio.kratix-platform-system.svc.cluster.local\",\"path\":\"destinations/\",` +
	`\"secretRef\":{\"name\":\"minio-credentials\"}}}\n"},` +
	`"managedFields":[{"manager":"kubectl-client-side-apply","operation":"Update","apiVersion":"platform.kratix.io/v1alpha1",` +
	`"time":"2026-01-01T00:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:annotations":{".":{},` +
	`"f:kubectl.kubernetes.io/last-applied-configuration":{}}},"f:spec":{".":{},"f:bucketName":{},"f:endpoint":{},` +
	`"f:path":{},"f:secretRef":{".":{},"f:name":{}}}}}]},` +
	`"spec":{"authMethod":"accessKey","bucketName":"kratix","endpoint":"minio.kratix-platform-system.svc.cluster.local",` +
	`"insecure":false,"path":"destinations/","secretRef":{"name":"minio-credentials","namespace":"default"}}}`

// benchValidator is a Validator whose Secret is a fake and whose probe of appliedStore
// is already cached.
func benchValidator(b *testing.B) *Validator {
	b.Helper()
	v := &Validator{
		Secrets: fakeSecrets{"default/minio-credentials": secret(map[string]string{
			"accessKeyID": "minio", "secretAccessKey": secretValue,
		})},
		Access:    fakeAccess{allowed: map[string]bool{"alice:default/minio-credentials": true}},
		Prober:    probe.NewCache(probe.ProberFunc(func(context.Context, probe.Target) error { return nil }), time.Hour, nil),
		ProbeMode: ProbeEnforce,
	}
	if resp := v.Handle(context.Background(), benchRequest()); !resp.Allowed {
		b.Fatalf("the store is not admitted: %+v", resp.Result)
	}
	return v
}

func benchRequest() ctrladmission.Request {
	req := rawRequest(admissionv1.Create, appliedStore)
	req.UserInfo.Username = "alice"
	return req
}

func BenchmarkDecode(b *testing.B) {
	req := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decode(req.AdmissionRequest, req.Object.Raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateSpec(b *testing.B) {
	spec, path := validSpec(), field.NewPath("spec")
	defaults.Spec(spec)
	b.ReportAllocs()
	for b.Loop() {
		if errs, _ := validateSpec(spec, path); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

// BenchmarkDefaultingPatch is the patch for a store that lacks every default.
func BenchmarkDefaultingPatch(b *testing.B) {
	spec := validSpec(func(s *v1alpha1.BucketStateStoreSpec) {
		s.AuthMethod = ""
		s.SecretRef.Namespace = ""
	})
	b.ReportAllocs()
	for b.Loop() {
		if patches, err := defaultingPatch(spec, true); err != nil || len(patches) != 3 {
			b.Fatal(patches, err)
		}
	}
}

// BenchmarkDefaulterHandle is the mutating webhook's handler for an applied store that
// is already defaulted: decode, default, diff, no patch.
func BenchmarkDefaulterHandle(b *testing.B) {
	req := benchRequest()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if resp := (Defaulter{}).Handle(ctx, req); !resp.Allowed {
			b.Fatal(resp.Result)
		}
	}
}

// BenchmarkValidatorHandle is the validating handler: decode, static rules, the access
// review and Secret read (fakes), and a probe cache hit.
func BenchmarkValidatorHandle(b *testing.B) {
	v := benchValidator(b)
	req := benchRequest()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if resp := v.Handle(ctx, req); !resp.Allowed {
			b.Fatal(resp.Result)
		}
	}
}

// BenchmarkValidatorServeHTTP adds what controller-runtime does around the handler: read
// and decode the AdmissionReview, encode the answer. TLS and the network are left out;
// hack/bench measures those against a bare webhook.
func BenchmarkValidatorServeHTTP(b *testing.B) {
	wh := &ctrladmission.Webhook{Handler: benchValidator(b)}
	body := benchReviewBody(b)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		wh.ServeHTTP(w, r)
		if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte(`"allowed":true`)) {
			b.Fatalf("HTTP %d: %s", w.Code, w.Body)
		}
	}
}

// benchReviewBody is benchRequest as the AdmissionReview the API server posts.
func benchReviewBody(b *testing.B) []byte {
	b.Helper()
	req := benchRequest()
	body, err := testkit.ReviewJSON(req.AdmissionRequest)
	if err != nil {
		b.Fatal(err)
	}
	return body
}
