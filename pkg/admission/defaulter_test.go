package admission

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	ctrladmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

func rawRequest(op admissionv1.Operation, raw string) ctrladmission.Request {
	return ctrladmission.Request{AdmissionRequest: testkit.Review{UID: "uid-1", Operation: op, Object: []byte(raw)}.Request()}
}

func TestDefaulterHandle(t *testing.T) {
	tests := map[string]struct {
		req         ctrladmission.Request
		wantPatches []jsonpatch.Operation
		wantCode    int32
	}{
		"a minimal accessKey store gets authMethod, insecure and the Secret's namespace": {
			req: rawRequest(admissionv1.Create, `{"apiVersion":"platform.kratix.io/v1alpha1","kind":"BucketStateStore","metadata":{"name":"s"},
				"spec":{"bucketName":"kratix","endpoint":"minio:9000","secretRef":{"name":"creds"}}}`),
			wantPatches: []jsonpatch.Operation{
				{Operation: "add", Path: "/spec/authMethod", Value: "accessKey"},
				{Operation: "add", Path: "/spec/insecure", Value: false},
				{Operation: "add", Path: "/spec/secretRef/namespace", Value: "default"},
			},
		},
		"a defaulted store gets no patch": {
			req: rawRequest(admissionv1.Create, `{"spec":{"bucketName":"kratix","endpoint":"minio:9000","insecure":false,
				"authMethod":"accessKey","secretRef":{"name":"creds","namespace":"default"}}}`),
		},
		"an IAM store gets only insecure": {
			req: rawRequest(admissionv1.Update, `{"spec":{"bucketName":"kratix","endpoint":"s3.amazonaws.com","authMethod":"IAM"}}`),
			wantPatches: []jsonpatch.Operation{
				{Operation: "add", Path: "/spec/insecure", Value: false},
			},
		},
		"fields the webhook does not know are left alone": {
			req: rawRequest(admissionv1.Create, `{"spec":{"bucketName":"kratix","endpoint":"minio:9000","insecure":true,
				"authMethod":"IAM","futureField":{"a":1}},"status":{"status":"Ready"}}`),
		},
		"an object without a spec gets one with the defaults": {
			req: rawRequest(admissionv1.Create, `{"metadata":{"name":"s"}}`),
			wantPatches: []jsonpatch.Operation{
				{Operation: "add", Path: "/spec", Value: map[string]any{"bucketName": "", "endpoint": "", "insecure": false, "authMethod": "accessKey"}},
			},
		},
		"a minimal GitStateStore gets Kratix's Git defaults and the Secret's namespace": {
			req: ctrladmission.Request{AdmissionRequest: testkit.Review{UID: "uid-1", Kind: "GitStateStore", Operation: admissionv1.Create, Object: []byte(`{"apiVersion":"platform.kratix.io/v1alpha1","kind":"GitStateStore","metadata":{"name":"g"},
				"spec":{"url":"https://github.com/org/state.git","secretRef":{"name":"creds"}}}`)}.Request()},
			wantPatches: []jsonpatch.Operation{
				{Operation: "add", Path: "/spec/authMethod", Value: "basicAuth"},
				{Operation: "add", Path: "/spec/branch", Value: "main"},
				{Operation: "add", Path: "/spec/gitAuthor", Value: map[string]any{"name": "kratix"}},
				{Operation: "add", Path: "/spec/secretRef/namespace", Value: "default"},
			},
		},
		"DELETE gets no patch": {
			req: ctrladmission.Request{AdmissionRequest: admissionv1.AdmissionRequest{Operation: admissionv1.Delete}},
		},
		"malformed JSON is refused with a bad request": {
			req:      rawRequest(admissionv1.Create, `{"spec":`),
			wantCode: http.StatusBadRequest,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			resp := Defaulter{}.Handle(context.Background(), tc.req)
			if tc.wantCode != 0 {
				if resp.Allowed || resp.Result == nil || resp.Result.Code != tc.wantCode {
					t.Fatalf("response = %+v, want code %d", resp.AdmissionResponse, tc.wantCode)
				}
				return
			}
			if !resp.Allowed {
				t.Fatalf("denied: %+v", resp.Result)
			}
			// Compare the patches as they go over the wire.
			got, want := normalise(t, resp.Patches), normalise(t, tc.wantPatches)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("patches (-want +got):\n%s", diff)
			}
		})
	}
}

func normalise(t *testing.T, ops []jsonpatch.Operation) []map[string]any {
	t.Helper()
	if len(ops) == 0 {
		return nil
	}
	b, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
