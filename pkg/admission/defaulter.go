package admission

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	ctrladmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	kjson "sigs.k8s.io/json"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/pkg/defaults"
)

// Defaulter is the mutating webhook for BucketStateStores: it applies pkg/defaults.
type Defaulter struct{}

var _ ctrladmission.Handler = Defaulter{}

// Handle answers CREATE and UPDATE with a patch that sets only the defaulted fields, so
// that nothing else in the object, not even a field this webhook does not know, is
// touched. An object that is already defaulted gets no patch.
func (d Defaulter) Handle(_ context.Context, req ctrladmission.Request) ctrladmission.Response {
	resp := d.handle(req)
	recordAdmission("mutate", req.Operation, resp)
	return resp
}

func (Defaulter) handle(req ctrladmission.Request) ctrladmission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return ctrladmission.Allowed("")
	}
	obj, err := decode(req.AdmissionRequest, req.Object.Raw)
	if err != nil {
		return ctrladmission.Errored(http.StatusBadRequest, err)
	}
	patches, err := defaultingPatch(&obj.Spec, hasSpec(req.Object.Raw))
	if err != nil {
		return ctrladmission.Errored(http.StatusInternalServerError, err)
	}
	return ctrladmission.Patched("", patches...)
}

// defaultingPatch returns the JSON patch that takes spec to its defaulted form. It diffs
// the typed spec before and after defaulting, not the raw request, so that only what the
// defaults change is in the patch.
func defaultingPatch(spec *v1alpha1.BucketStateStoreSpec, specInObject bool) ([]jsonpatch.Operation, error) {
	defaulted := spec.DeepCopy()
	defaults.Spec(defaulted)
	after, err := json.Marshal(defaulted)
	if err != nil {
		return nil, err
	}
	if !specInObject {
		// No spec, or a null one: there is nothing to add fields to.
		return []jsonpatch.Operation{jsonpatch.NewOperation("add", "/spec", json.RawMessage(after))}, nil
	}
	before, err := json.Marshal(spec)
	if err != nil {
		return nil, err
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

// hasSpec reports whether a raw object has a spec object that a patch can add fields to.
func hasSpec(raw []byte) bool {
	var obj struct {
		Spec json.RawMessage `json:"spec"`
	}
	return kjson.UnmarshalCaseSensitivePreserveInts(raw, &obj) == nil && len(obj.Spec) > 0 && obj.Spec[0] == '{'
}
