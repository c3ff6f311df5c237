package admission

import (
	"context"
	"encoding/json"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	ctrladmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	kjson "sigs.k8s.io/json"
)

// Defaulter is the mutating webhook for the StoreKinds: it applies pkg/defaults.
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
	obj, err := decodeStore(req.AdmissionRequest, req.Object.Raw)
	if err != nil {
		return ctrladmission.Errored(http.StatusBadRequest, err)
	}
	patches, err := obj.patch(hasSpec(req.Object.Raw))
	if err != nil {
		return ctrladmission.Errored(http.StatusInternalServerError, err)
	}
	return ctrladmission.Patched("", patches...)
}

// hasSpec reports whether a raw object has a spec object that a patch can add fields to.
func hasSpec(raw []byte) bool {
	var obj struct {
		Spec json.RawMessage `json:"spec"`
	}
	return kjson.UnmarshalCaseSensitivePreserveInts(raw, &obj) == nil && len(obj.Spec) > 0 && obj.Spec[0] == '{'
}
