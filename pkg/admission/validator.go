package admission

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"

	admissionv1 "k8s.io/api/admission/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	ctrladmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kratix-community/bucketstatestore-webhook/api/v1alpha1"
	"github.com/kratix-community/bucketstatestore-webhook/pkg/defaults"
	"github.com/kratix-community/bucketstatestore-webhook/pkg/probe"
)

// ProbeMode says what a failed live probe does to the ctrladmission.
type ProbeMode string

const (
	// ProbeEnforce denies a store whose probe fails.
	ProbeEnforce ProbeMode = "enforce"
	// ProbeWarn admits a store whose probe fails, with a warning.
	ProbeWarn ProbeMode = "warn"
	// ProbeOff does not probe.
	ProbeOff ProbeMode = "off"
)

// ProbeModes lists the valid modes, for flags and their validation.
var ProbeModes = []ProbeMode{ProbeEnforce, ProbeWarn, ProbeOff}

// Warnings shown to the person applying a store. They are part of the webhook's interface:
// docs/reference.md lists them.
const (
	WarningInsecure         = "spec.insecure is true: Kratix will use plain HTTP, so the documents it writes and its access key ID travel unencrypted and can be altered on the way"
	WarningIAMWithSecretRef = "spec.secretRef is ignored when authMethod is IAM: Kratix takes credentials from where it runs"
	warningProbeFailed      = "the bucket probe failed but --probe=warn admits the store: %s"
)

// Validator is the validating webhook for BucketStateStores.
type Validator struct {
	// Secrets reads the Secret that an accessKey store names.
	Secrets SecretGetter
	// Access, when set, is asked before any Secret is read.
	Access AccessReviewer
	// Prober checks the bucket. It is not called when ProbeMode is ProbeOff.
	Prober probe.Prober
	// ProbeMode says what a failed probe does.
	ProbeMode ProbeMode
}

var _ ctrladmission.Handler = &Validator{}

// Handle validates CREATE and UPDATE requests; every other operation is allowed.
func (v *Validator) Handle(ctx context.Context, req ctrladmission.Request) ctrladmission.Response {
	// controller-runtime derives a request's context from the manager's, which ends at
	// SIGTERM. Every step below has a bound of its own (the API client's timeout and
	// the probe budget), so an admission in flight during a rollout finishes with its
	// true verdict instead of a cancelled probe.
	ctx = context.WithoutCancel(ctx)
	resp := v.handle(ctx, req)
	recordAdmission("validate", req.Operation, resp)
	return resp
}

func (v *Validator) handle(ctx context.Context, req ctrladmission.Request) ctrladmission.Response {
	log := logf.FromContext(ctx)
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return ctrladmission.Allowed("")
	}
	obj, err := decode(req.AdmissionRequest, req.Object.Raw)
	if err != nil {
		return ctrladmission.Errored(http.StatusBadRequest, err)
	}
	// The spec as it is stored once the mutating webhook has run, and as Kratix reads it
	// when it has not (a store created before the webhook was installed, or one that
	// reached only this webhook).
	spec, specPath := obj.Spec.DeepCopy(), field.NewPath("spec")
	defaults.Spec(spec)
	if req.Operation == admissionv1.Update {
		old, err := decode(req.AdmissionRequest, req.OldObject.Raw)
		if err != nil {
			return ctrladmission.Errored(http.StatusBadRequest, err)
		}
		// Metadata-only updates, such as Kratix removing its finalizer from a store whose
		// bucket is gone, must never be blocked by a probe.
		defaults.Spec(&old.Spec)
		if apiequality.Semantic.DeepEqual(&old.Spec, spec) {
			return ctrladmission.Allowed("spec unchanged")
		}
	}

	allErrs, warnings := ValidateSpec(spec, specPath)
	var creds *probe.Credentials
	if len(allErrs) == 0 && spec.AuthMethod == v1alpha1.AuthMethodAccessKey {
		var secretErrs field.ErrorList
		creds, secretErrs, err = v.credentials(ctx, req.UserInfo, spec.SecretRef, specPath.Child("secretRef"))
		if err != nil {
			log.Error(err, "cannot check the Secret")
			return ctrladmission.Errored(http.StatusInternalServerError, err)
		}
		allErrs = append(allErrs, secretErrs...)
	}
	if len(allErrs) > 0 {
		return invalid(obj, allErrs).WithWarnings(warnings...)
	}

	if v.ProbeMode == ProbeOff {
		return ctrladmission.Allowed("").WithWarnings(warnings...)
	}
	err = v.Prober.Probe(ctx, target(spec, creds))
	if err == nil {
		return ctrladmission.Allowed("").WithWarnings(warnings...)
	}
	var failure *probe.Failure
	if !errors.As(err, &failure) {
		failure = &probe.Failure{Reason: probe.ReasonUnknown, Message: err.Error(), Err: err}
	}
	log.Info("bucket probe failed", "reason", failure.Reason, "endpoint", spec.Endpoint, "bucket", spec.BucketName, "error", failure.Err)
	if v.ProbeMode == ProbeWarn {
		return ctrladmission.Allowed("").WithWarnings(append(warnings, fmt.Sprintf(warningProbeFailed, failure.Error()))...)
	}
	return invalid(obj, field.ErrorList{probeError(spec, specPath, failure)}).WithWarnings(warnings...)
}

// probeError puts a failed probe on the field the user would change to fix it. spec is
// defaulted.
func probeError(spec *v1alpha1.BucketStateStoreSpec, specPath *field.Path, failure *probe.Failure) *field.Error {
	switch failure.Reason {
	case probe.ReasonBucketNotFound:
		return field.Invalid(specPath.Child("bucketName"), spec.BucketName, failure.Error())
	case probe.ReasonAccessDenied, probe.ReasonInvalidAccessKeyID, probe.ReasonSignatureMismatch, probe.ReasonCredentialsUnavailable:
		if spec.AuthMethod == v1alpha1.AuthMethodIAM {
			return field.Invalid(specPath.Child("authMethod"), spec.AuthMethod, failure.Error())
		}
		return field.Invalid(specPath.Child("secretRef"), secretName(spec.SecretRef), failure.Error())
	case probe.ReasonTLSMismatch:
		return field.Invalid(specPath.Child("insecure"), *spec.Insecure, failure.Error())
	default:
		return field.Invalid(specPath.Child("endpoint"), spec.Endpoint, failure.Error())
	}
}

// maxShownLength is the most of a value that an answer repeats.
const maxShownLength = 256

// shorten cuts s to at most maxShownLength bytes, at a character boundary.
func shorten(s string) string {
	if len(s) <= maxShownLength {
		return s
	}
	cut := maxShownLength
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// target is what the prober checks for a defaulted spec.
func target(spec *v1alpha1.BucketStateStoreSpec, creds *probe.Credentials) probe.Target {
	return probe.Target{
		Endpoint:     spec.Endpoint,
		Bucket:       spec.BucketName,
		Path:         spec.Path,
		Insecure:     *spec.Insecure,
		UseDualStack: spec.UseDualStack,
		AuthMethod:   spec.AuthMethod,
		Credentials:  creds,
	}
}

// invalid answers with a 422 whose causes name each field, as the API server's own
// validation does. String values and the name are cut to maxShownLength, so that an
// answer stays small whatever a request holds.
func invalid(obj *v1alpha1.BucketStateStore, allErrs field.ErrorList) ctrladmission.Response {
	for _, e := range allErrs {
		if s, ok := e.BadValue.(string); ok {
			e.BadValue = shorten(s)
		}
	}
	status := apierrors.NewInvalid(v1alpha1.GroupVersion.WithKind("BucketStateStore").GroupKind(), shorten(obj.Name), allErrs).Status()
	return ctrladmission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: false, Result: &status}}
}
