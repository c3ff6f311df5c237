package admission

import (
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/json"

	"github.com/kratix-community/bucketstatestore-webhook/api/v1alpha1"
)

// decode reads a BucketStateStore from a request's raw object, refusing any other kind.
// Field names match case-sensitively, as the API server matches them: a "Spec" key is
// not the spec, so a defaulting patch is always made against the keys the object has.
func decode(req admissionv1.AdmissionRequest, raw []byte) (*v1alpha1.BucketStateStore, error) {
	gvk := v1alpha1.GroupVersion.WithKind("BucketStateStore")
	if req.Kind.Group != gvk.Group || req.Kind.Kind != gvk.Kind {
		return nil, fmt.Errorf("this webhook admits %s, not %s", gvk.GroupKind(), req.Kind.String())
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("the request has no object")
	}
	obj := &v1alpha1.BucketStateStore{}
	if err := json.UnmarshalCaseSensitivePreserveInts(raw, obj); err != nil {
		return nil, fmt.Errorf("decoding the BucketStateStore: %w", err)
	}
	return obj, nil
}
