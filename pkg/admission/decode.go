package admission

import (
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/json"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
)

// decode reads a BucketStateStore from a request's raw object, refusing any other kind.
// Field names match case-sensitively, as the API server matches them: a "Spec" key is
// not the spec, so a defaulting patch is always made against the keys the object has.
func decode(req admissionv1.AdmissionRequest, raw []byte) (*v1alpha1.BucketStateStore, error) {
	return decodeKind[v1alpha1.BucketStateStore](req, raw, v1alpha1.GroupVersion.WithKind("BucketStateStore").GroupKind())
}

// decodeSecret reads a Secret from a request's raw object, refusing any other kind.
func decodeSecret(req admissionv1.AdmissionRequest, raw []byte) (*corev1.Secret, error) {
	return decodeKind[corev1.Secret](req, raw, schema.GroupKind{Kind: "Secret"})
}

// decodeKind reads an object of kind gk into a T, as decode does.
func decodeKind[T any](req admissionv1.AdmissionRequest, raw []byte, gk schema.GroupKind) (*T, error) {
	if req.Kind.Group != gk.Group || req.Kind.Kind != gk.Kind {
		return nil, fmt.Errorf("this webhook admits %s, not %s", gk, req.Kind.String())
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("the request has no object")
	}
	obj := new(T)
	if err := json.UnmarshalCaseSensitivePreserveInts(raw, obj); err != nil {
		return nil, fmt.Errorf("decoding the %s: %w", gk.Kind, err)
	}
	return obj, nil
}
