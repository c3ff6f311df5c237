package testkit

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kratix-community/bucketstatestore-webhook/api/v1alpha1"
)

// answer is a webhook's AdmissionReview answer; a denial with a message is a 422.
func answer(t *testing.T, uid types.UID, allowed bool, message string) []byte {
	t.Helper()
	resp := &admissionv1.AdmissionResponse{UID: uid, Allowed: allowed}
	if message != "" {
		resp.Result = &metav1.Status{Message: message, Code: http.StatusUnprocessableEntity}
	}
	b, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Response: resp,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheckReview(t *testing.T) {
	denial := Denied("(reason: Timeout)")
	forbidden := []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"u1","allowed":false,"status":{"code":403,"message":"timed out (reason: Timeout)"}}}`)
	tests := map[string]struct {
		body      []byte
		want      Verdict
		wantErr   string
		wantWrong bool
	}{
		"an admission that was expected": {body: answer(t, "u1", true, ""), want: Admitted},
		"a denial with the expected reason": {
			body: answer(t, "u1", false, "timed out after 2s (reason: Timeout)"), want: denial,
		},
		"a denial where an admission was expected is a wrong verdict": {
			body: answer(t, "u1", false, "no"), want: Admitted, wantWrong: true,
			wantErr: `wrong verdict: allowed=false, want true (message "no")`,
		},
		"an admission where a denial was expected is a wrong verdict": {
			body: answer(t, "u1", true, ""), want: denial, wantWrong: true,
			wantErr: `wrong verdict: allowed=true, want false (message "")`,
		},
		"a denial for another reason is a wrong verdict": {
			body: answer(t, "u1", false, "connection refused (reason: ConnectionRefused)"), want: denial, wantWrong: true,
			wantErr: `wrong verdict: message "connection refused (reason: ConnectionRefused)" does not contain "(reason: Timeout)"`,
		},
		"a denial with another code is a wrong verdict": {
			body: forbidden, want: denial, wantWrong: true,
			wantErr: `wrong verdict: code 403, want 422 (message "timed out (reason: Timeout)")`,
		},
		"an answer to another request is a wrong verdict": {
			body: answer(t, "u2", true, ""), want: Admitted, wantWrong: true,
			wantErr: `wrong verdict: the response is for request "u2", not "u1"`,
		},
		"a review without a response is an error": {
			body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), want: Admitted,
			wantErr: "the AdmissionReview has no response",
		},
		"a body that is not JSON is an error": {
			body: []byte("<html>"), want: Admitted,
			wantErr: "reading the AdmissionReview response: invalid character '<' looking for beginning of value",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := CheckReview(tc.body, "u1", tc.want)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Fatalf("CheckReview() = %q, want %q", got, tc.wantErr)
			}
			if errors.Is(err, ErrWrongVerdict) != tc.wantWrong {
				t.Fatalf("errors.Is(err, ErrWrongVerdict) = %t, want %t", !tc.wantWrong, tc.wantWrong)
			}
		})
	}
}

func TestReviewIsWhatTheAPIServerSends(t *testing.T) {
	store := StoreJSON(&v1alpha1.BucketStateStore{
		TypeMeta:   metav1.TypeMeta{APIVersion: "platform.kratix.io/v1alpha1", Kind: "BucketStateStore"},
		ObjectMeta: metav1.ObjectMeta{Name: "s"},
	})
	alice := authenticationv1.UserInfo{Username: "alice"}
	kind := metav1.GroupVersionKind{Group: "platform.kratix.io", Version: "v1alpha1", Kind: "BucketStateStore"}
	resource := metav1.GroupVersionResource{Group: "platform.kratix.io", Version: "v1alpha1", Resource: "bucketstatestores"}
	dryRun := false
	base := admissionv1.AdmissionRequest{
		UID: "u1", Kind: kind, Resource: resource, RequestKind: &kind, RequestResource: &resource,
		Name: "s", UserInfo: alice, DryRun: &dryRun,
	}
	tests := map[string]struct {
		review Review
		want   func(r *admissionv1.AdmissionRequest)
	}{
		"a CREATE carries the object and is named after it": {
			review: Review{UID: "u1", Operation: admissionv1.Create, User: alice, Object: store},
			want: func(r *admissionv1.AdmissionRequest) {
				r.Operation, r.Object.Raw = admissionv1.Create, store
				r.Options.Raw = []byte(`{"kind":"CreateOptions","apiVersion":"meta.k8s.io/v1"}`)
			},
		},
		"an UPDATE carries both objects": {
			review: Review{UID: "u1", Operation: admissionv1.Update, User: alice, Object: store, OldObject: store},
			want: func(r *admissionv1.AdmissionRequest) {
				r.Operation, r.Object.Raw, r.OldObject.Raw = admissionv1.Update, store, store
				r.Options.Raw = []byte(`{"kind":"UpdateOptions","apiVersion":"meta.k8s.io/v1"}`)
			},
		},
		"a DELETE is named after its old object": {
			review: Review{UID: "u1", Operation: admissionv1.Delete, User: alice, OldObject: store},
			want: func(r *admissionv1.AdmissionRequest) {
				r.Operation, r.OldObject.Raw = admissionv1.Delete, store
				r.Options.Raw = []byte(`{"kind":"DeleteOptions","apiVersion":"meta.k8s.io/v1"}`)
			},
		},
		"an operation the API server does not send has no options": {
			review: Review{UID: "u1", Operation: "CONNECT", User: alice, Object: []byte(`{"spec":{}}`)},
			want: func(r *admissionv1.AdmissionRequest) {
				r.Operation, r.Object.Raw, r.Name = "CONNECT", []byte(`{"spec":{}}`), ""
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			want := base
			tc.want(&want)
			if diff := cmp.Diff(want, tc.review.Request()); diff != "" {
				t.Fatalf("Request() (-want +got):\n%s", diff)
			}
			body, err := tc.review.JSON()
			if err != nil {
				t.Fatal(err)
			}
			var ar admissionv1.AdmissionReview
			if err := json.Unmarshal(body, &ar); err != nil {
				t.Fatal(err)
			}
			if ar.APIVersion != "admission.k8s.io/v1" || ar.Kind != "AdmissionReview" || ar.Request == nil || ar.Request.UID != "u1" {
				t.Fatalf("JSON() = %s, want an admission.k8s.io/v1 AdmissionReview around the request", body)
			}
		})
	}
}
