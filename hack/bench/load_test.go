package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kratix-community/statestore-webhook/internal/server"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// fakeWebhook answers AdmissionReviews over TLS the way answer says.
func fakeWebhook(t *testing.T, answer func(w http.ResponseWriter, req *admissionv1.AdmissionRequest)) *endpoint {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ar admissionv1.AdmissionReview
		if err := json.Unmarshal(body, &ar); err != nil || ar.Request == nil {
			http.Error(w, "not an AdmissionReview", http.StatusBadRequest)
			return
		}
		answer(w, ar.Request)
	}))
	t.Cleanup(srv.Close)
	return newEndpoint("fake", srv.URL+server.ValidatePath, srv.Client().Transport.(*http.Transport).TLSClientConfig, 8)
}

func respond(w http.ResponseWriter, uid types.UID, allowed bool, message string) {
	resp := &admissionv1.AdmissionResponse{UID: uid, Allowed: allowed}
	if message != "" {
		resp.Result = &metav1.Status{Message: message, Code: http.StatusUnprocessableEntity}
	}
	_ = json.NewEncoder(w).Encode(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Response: resp,
	})
}

// TestLoadGeneratorsCannotMeasureNothing runs each load generator against a side that
// fails in some way, and checks that the run it returns does not pass its Check. Nothing
// here depends on how fast anything is.
func TestLoadGeneratorsCannotMeasureNothing(t *testing.T) {
	answers := map[string]struct {
		answer  func(w http.ResponseWriter, req *admissionv1.AdmissionRequest)
		wantErr string // part of Check's error; empty means the run is sound
	}{
		"a side that admits as expected is sound": {
			answer: func(w http.ResponseWriter, req *admissionv1.AdmissionRequest) { respond(w, req.UID, true, "") },
		},
		"a side that answers HTTP 500 fails": {
			answer: func(w http.ResponseWriter, _ *admissionv1.AdmissionRequest) {
				http.Error(w, "boom", http.StatusInternalServerError)
			},
			wantErr: "HTTP 500: boom",
		},
		"a side that denies a store it must admit fails": {
			answer: func(w http.ResponseWriter, req *admissionv1.AdmissionRequest) {
				respond(w, req.UID, false, "bucket not found")
			},
			wantErr: `wrong verdict: allowed=false, want true (message \"bucket not found\")`,
		},
		"a side that answers another request's UID fails": {
			answer:  func(w http.ResponseWriter, _ *admissionv1.AdmissionRequest) { respond(w, "someone-else", true, "") },
			wantErr: `the response is for request \"someone-else\"`,
		},
		"a side that answers something that is not an AdmissionReview fails": {
			answer:  func(w http.ResponseWriter, _ *admissionv1.AdmissionRequest) { _, _ = w.Write([]byte("<html>")) },
			wantErr: "reading the AdmissionReview response",
		},
	}
	tmpl, err := newReviewTemplate(admissionv1.Create, accessKeyStore("s", "127.0.0.1:9000", "b", "p", types.NamespacedName{Name: "creds"}), benchUser)
	if err != nil {
		t.Fatal(err)
	}
	generators := map[string]func(e *endpoint) *Run{
		"closed loop": func(e *endpoint) *Run {
			return closedLoop(context.Background(), e, tmpl, testkit.Admitted, 2, 0, 20*time.Millisecond)
		},
		"open loop": func(e *endpoint) *Run {
			return openLoop(context.Background(), e, tmpl, testkit.Admitted, 200, 20*time.Millisecond, 8)
		},
		"burst": func(e *endpoint) *Run { return burst(context.Background(), e, tmpl, testkit.Admitted, 4) },
		"sequential": func(e *endpoint) *Run {
			return sequential(context.Background(), e, 2, func(int) (reviewTemplate, error) { return tmpl, nil }, testkit.Admitted)
		},
	}
	for name, a := range answers {
		for gen, load := range generators {
			t.Run(name+" ("+gen+")", func(t *testing.T) {
				err := load(fakeWebhook(t, a.answer)).Check()
				switch {
				case a.wantErr == "" && err != nil:
					t.Fatalf("Check() = %v, want nil", err)
				case a.wantErr != "" && err == nil:
					t.Fatalf("Check() = nil, want an error containing %q", a.wantErr)
				case a.wantErr != "" && !strings.Contains(err.Error(), a.wantErr):
					t.Fatalf("Check() = %v, want an error containing %q", err, a.wantErr)
				}
			})
		}
	}
}

func TestSequentialRecordsAStoreItCouldNotMake(t *testing.T) {
	e := fakeWebhook(t, func(w http.ResponseWriter, req *admissionv1.AdmissionRequest) { respond(w, req.UID, true, "") })
	run := sequential(context.Background(), e, 1, func(int) (reviewTemplate, error) { return reviewTemplate{}, errors.New("no store") }, testkit.Admitted)
	if err := run.Check(); err == nil || !strings.Contains(err.Error(), "no store") {
		t.Fatalf("Check() = %v, want the error making the store", err)
	}
}

func TestReviewTemplateFillsInTheUID(t *testing.T) {
	obj := accessKeyStore("s", "127.0.0.1:9000", "b", "p", types.NamespacedName{Namespace: "ns", Name: "creds"})
	for _, op := range []admissionv1.Operation{admissionv1.Create, admissionv1.Delete} {
		tmpl, err := newReviewTemplate(op, obj, benchUser)
		if err != nil {
			t.Fatal(err)
		}
		var ar admissionv1.AdmissionReview
		if err := json.Unmarshal(tmpl.body("uid-42"), &ar); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		req := ar.Request
		raw := req.Object.Raw
		if op == admissionv1.Delete {
			raw = req.OldObject.Raw
		}
		if req.UID != "uid-42" || req.Operation != op || req.Kind.Kind != "BucketStateStore" || !strings.Contains(string(raw), `"endpoint":"127.0.0.1:9000"`) {
			t.Errorf("%s: request = %+v", op, req)
		}
	}
}
