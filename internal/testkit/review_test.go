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

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
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
	other := []byte(`{"spec":{}}`)
	alice := authenticationv1.UserInfo{Username: "alice"}
	kind := metav1.GroupVersionKind{Group: "platform.kratix.io", Version: "v1alpha1", Kind: "BucketStateStore"}
	resource := metav1.GroupVersionResource{Group: "platform.kratix.io", Version: "v1alpha1", Resource: "bucketstatestores"}
	tests := map[string]struct {
		op                 admissionv1.Operation
		object, oldObject  []byte
		wantName, wantOpts string
	}{
		"a CREATE carries the object and is named after it":        {op: admissionv1.Create, object: store, wantName: "s", wantOpts: "CreateOptions"},
		"an UPDATE carries both objects":                           {op: admissionv1.Update, object: store, oldObject: store, wantName: "s", wantOpts: "UpdateOptions"},
		"a DELETE is named after its old object":                   {op: admissionv1.Delete, oldObject: store, wantName: "s", wantOpts: "DeleteOptions"},
		"an operation the API server does not send has no options": {op: "CONNECT", object: other},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := Review{UID: "u1", Operation: tc.op, User: alice, Object: tc.object, OldObject: tc.oldObject}
			want := admissionv1.AdmissionRequest{
				UID: "u1", Kind: kind, Resource: resource, RequestKind: &kind, RequestResource: &resource,
				Name: tc.wantName, Operation: tc.op, UserInfo: alice, DryRun: new(bool),
				Object: raw(tc.object), OldObject: raw(tc.oldObject),
			}
			if tc.wantOpts != "" {
				want.Options.Raw = []byte(`{"kind":"` + tc.wantOpts + `","apiVersion":"meta.k8s.io/v1"}`)
			}
			if diff := cmp.Diff(want, r.Request()); diff != "" {
				t.Fatalf("Request() (-want +got):\n%s", diff)
			}
			body, err := r.JSON()
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
