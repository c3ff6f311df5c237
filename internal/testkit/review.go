package testkit

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
)

// Review is an admission request about a state store, a BucketStateStore unless Kind
// says otherwise. Request and JSON fill in the rest as the API server does: kind and
// resource, the name from the object, dry run off and the operation's options.
type Review struct {
	// Kind is the store's kind in platform.kratix.io/v1alpha1; empty for BucketStateStore.
	Kind string
	// UID identifies the request; the answer must carry it back.
	UID       types.UID
	Operation admissionv1.Operation
	// User is who made the request.
	User authenticationv1.UserInfo
	// Object and OldObject are the store as JSON (see StoreJSON), empty where the API
	// server sends none: a CREATE has no old object, a DELETE no object.
	Object, OldObject []byte
}

// StoreJSON is obj as the API server puts it into a review; nil for a nil obj.
func StoreJSON(obj *v1alpha1.BucketStateStore) []byte {
	if obj == nil {
		return nil
	}
	b, err := json.Marshal(obj)
	if err != nil {
		panic(err) // a BucketStateStore holds nothing json cannot encode
	}
	return b
}

// Request is the AdmissionRequest the API server sends for r.
func (r Review) Request() admissionv1.AdmissionRequest {
	kindName := r.Kind
	if kindName == "" {
		kindName = "BucketStateStore"
	}
	gvk := v1alpha1.GroupVersion.WithKind(kindName)
	kind := metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind}
	resource := metav1.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: strings.ToLower(kindName) + "s"}
	options := map[admissionv1.Operation]string{admissionv1.Create: "CreateOptions", admissionv1.Update: "UpdateOptions", admissionv1.Delete: "DeleteOptions"}
	req := admissionv1.AdmissionRequest{
		UID:             r.UID,
		Kind:            kind,
		Resource:        resource,
		RequestKind:     &kind,
		RequestResource: &resource,
		Name:            objectName(r.Object, r.OldObject),
		Operation:       r.Operation,
		UserInfo:        r.User,
		Object:          raw(r.Object),
		OldObject:       raw(r.OldObject),
		DryRun:          ptr.To(false),
	}
	if o, ok := options[r.Operation]; ok {
		req.Options = runtime.RawExtension{Raw: []byte(`{"kind":"` + o + `","apiVersion":"meta.k8s.io/v1"}`)}
	}
	return req
}

// JSON is the AdmissionReview body the API server posts for r. It fails only when
// Object or OldObject is not JSON.
func (r Review) JSON() ([]byte, error) {
	return ReviewJSON(r.Request())
}

// ReviewJSON wraps req in an AdmissionReview, for a request that Review cannot make,
// such as one about another kind.
func ReviewJSON(req admissionv1.AdmissionRequest) ([]byte, error) {
	return json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "AdmissionReview"},
		Request:  &req,
	})
}

func raw(b []byte) runtime.RawExtension {
	if len(b) == 0 {
		return runtime.RawExtension{}
	}
	return runtime.RawExtension{Raw: b}
}

// objectName is the metadata.name of the first of objects that has one, as the API
// server names the request after its object.
func objectName(objects ...[]byte) string {
	for _, o := range objects {
		var meta struct {
			Metadata struct{ Name string } `json:"metadata"`
		}
		if json.Unmarshal(o, &meta) == nil && meta.Metadata.Name != "" {
			return meta.Metadata.Name
		}
	}
	return ""
}

// Verdict is the answer a request must get.
type Verdict struct {
	Allowed bool
	// Code, when set, must be a denial's status code.
	Code int32
	// Reason, when set, must be part of a denial's message.
	Reason string
}

// Admitted is the verdict of an admission.
var Admitted = Verdict{Allowed: true}

// Denied is the verdict of a store refused as invalid (422) with reason in the message.
func Denied(reason string) Verdict {
	return Verdict{Code: http.StatusUnprocessableEntity, Reason: reason}
}

// ErrWrongVerdict marks an answer that arrived but said the wrong thing: an admission
// where a denial was due, a denial for another reason, or an answer to another request.
var ErrWrongVerdict = errors.New("wrong verdict")

// CheckReview checks body, the AdmissionReview answering the request with uid. An
// answer that cannot be read is an error; a readable answer with the wrong verdict wraps
// ErrWrongVerdict.
func CheckReview(body []byte, uid types.UID, want Verdict) error {
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &ar); err != nil {
		return fmt.Errorf("reading the AdmissionReview response: %w", err)
	}
	resp := ar.Response
	if resp == nil {
		return fmt.Errorf("the AdmissionReview has no response")
	}
	if resp.UID != uid {
		return fmt.Errorf("%w: the response is for request %q, not %q", ErrWrongVerdict, resp.UID, uid)
	}
	var msg string
	var code int32
	if resp.Result != nil {
		msg, code = resp.Result.Message, resp.Result.Code
	}
	switch {
	case resp.Allowed != want.Allowed:
		return fmt.Errorf("%w: allowed=%t, want %t (message %q)", ErrWrongVerdict, resp.Allowed, want.Allowed, msg)
	case resp.Allowed:
		return nil
	case want.Code != 0 && code != want.Code:
		return fmt.Errorf("%w: code %d, want %d (message %q)", ErrWrongVerdict, code, want.Code, msg)
	case want.Reason != "" && !strings.Contains(msg, want.Reason):
		return fmt.Errorf("%w: message %q does not contain %q", ErrWrongVerdict, msg, want.Reason)
	}
	return nil
}
