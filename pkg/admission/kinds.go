package admission

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/pkg/defaults"
)

// StoreKinds are the kinds of Kratix state store the webhooks admit, in the order the
// docs list them.
var StoreKinds = []schema.GroupKind{bucketStateStoreKind, gitStateStoreKind}

// admittedStore is a store of one of StoreKinds as a request carries it: what the
// mutating and validating webhooks do with it, whatever its kind.
type admittedStore interface {
	// patch is the JSON patch that takes the store's spec to its defaulted form;
	// specInObject says whether the object has a spec to add fields to.
	patch(specInObject bool) ([]jsonpatch.Operation, error)
	// sameSpec reports whether old, of the same kind, has the same spec once both are
	// defaulted.
	sameSpec(old admittedStore) bool
	// evaluate runs the pipeline on the store for user.
	evaluate(ctx context.Context, p *Pipeline, user authenticationv1.UserInfo) *Outcome
}

// decodeStore reads a store of the request's kind from raw, refusing any kind not in
// StoreKinds.
func decodeStore(req admissionv1.AdmissionRequest, raw []byte) (admittedStore, error) {
	if req.Kind.Group == gitStateStoreKind.Group && req.Kind.Kind == gitStateStoreKind.Kind {
		obj, err := decodeKind[v1alpha1.GitStateStore](req, raw, gitStateStoreKind)
		return gitObject{obj}, err
	}
	obj, err := decode(req, raw)
	return bucketObject{obj}, err
}

type bucketObject struct{ *v1alpha1.BucketStateStore }

func (o bucketObject) patch(specInObject bool) ([]jsonpatch.Operation, error) {
	return defaultingPatch(&o.Spec, specInObject)
}

func (o bucketObject) sameSpec(old admittedStore) bool {
	return sameDefaulted(o.Spec.DeepCopy(), old.(bucketObject).Spec.DeepCopy(), defaults.Spec)
}

func (o bucketObject) evaluate(ctx context.Context, p *Pipeline, user authenticationv1.UserInfo) *Outcome {
	return p.EvaluateBucketStore(ctx, user, o.BucketStateStore)
}

type gitObject struct{ *v1alpha1.GitStateStore }

func (o gitObject) patch(specInObject bool) ([]jsonpatch.Operation, error) {
	return specPatch(o.Spec.DeepCopy(), defaults.GitSpec, specInObject)
}

func (o gitObject) sameSpec(old admittedStore) bool {
	return sameDefaulted(o.Spec.DeepCopy(), old.(gitObject).Spec.DeepCopy(), defaults.GitSpec)
}

func (o gitObject) evaluate(ctx context.Context, p *Pipeline, user authenticationv1.UserInfo) *Outcome {
	return p.EvaluateGitStore(ctx, user, o.GitStateStore)
}

// sameDefaulted reports whether specs a and b are the same once setDefaults has run on
// both, which it does in place.
func sameDefaulted[S any](a, b *S, setDefaults func(*S)) bool {
	setDefaults(a)
	setDefaults(b)
	return apiequality.Semantic.DeepEqual(a, b)
}

// defaultingPatch returns the JSON patch that takes a BucketStateStore's spec to its
// defaulted form; spec is not modified.
func defaultingPatch(spec *v1alpha1.BucketStateStoreSpec, specInObject bool) ([]jsonpatch.Operation, error) {
	return specPatch(spec.DeepCopy(), defaults.Spec, specInObject)
}

// specPatch returns the JSON patch that takes spec to its form after setDefaults, which
// it applies to spec. It diffs the typed spec before and after defaulting, not the raw
// request, so that only what the defaults change is in the patch.
func specPatch[S any](spec *S, setDefaults func(*S), specInObject bool) ([]jsonpatch.Operation, error) {
	before, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	setDefaults(spec)
	after, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	if !specInObject {
		// No spec, or a null one: there is nothing to add fields to.
		return []jsonpatch.Operation{jsonpatch.NewOperation("add", "/spec", json.RawMessage(after))}, nil
	}
	patches, err := jsonpatch.CreatePatch(before, after)
	if err != nil {
		return nil, err
	}
	for i := range patches {
		patches[i].Path = "/spec" + patches[i].Path
	}
	// CreatePatch walks maps; sorting makes the answer the same on every call.
	slices.SortFunc(patches, func(a, b jsonpatch.Operation) int { return strings.Compare(a.Path, b.Path) })
	return patches, nil
}
