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

// ProbeMode says what a failed live probe does to the admission.
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
// docs/reference.md lists them. Each stays under maxWarningLength.
const (
	WarningInsecure           = "spec.insecure is true: Kratix will use plain HTTP, so the documents it writes and its access key ID travel unencrypted and can be altered on the way"
	WarningIAMWithSecretRef   = "spec.secretRef is ignored when authMethod is IAM: Kratix takes credentials from where it runs"
	WarningEndpointUnderscore = `spec.endpoint has "_" in its host: Go's resolver, which Kratix uses, looks it up, but host names may not contain it, and public CAs no longer put it in certificates`
)

// Warnings that name a value, formats for fmt.Sprintf. A value that can be long is
// formatted with quoteShort.
const (
	// WarningBucketNameLegacy takes the bucket name, at most 63 bytes.
	WarningBucketNameLegacy = `spec.bucketName %q has upper case, "_" or ":": only legacy Amazon S3 buckets (us-east-1, before March 2018) take such names; MinIO and newer buckets refuse them`
	// WarningEndpointUpperCase takes the endpoint in lower case.
	WarningEndpointUpperCase = "spec.endpoint has upper case in its host: Kratix uses it, as host names are case-insensitive, but certificates and allowlists spell them in lower case; write %s"
	// WarningPathLeadingSlash takes the path Kratix writes under, without the leading "/".
	WarningPathLeadingSlash = `spec.path starts with "/": Kratix then writes keys that start with "/", and S3 servers differ on whether the key keeps it; write %s`
	// WarningPathDotDot takes the path Kratix writes under: the path, cleaned.
	WarningPathDotDot = `spec.path has a ".." segment: Kratix cleans the path and writes under what is left; write %s`

	warningProbeFailed = "the bucket probe failed but --probe=warn admits the store: %s (reason: %s)"
)

// maxWarningLength is the longest warning the webhook gives. The API server may cut a
// longer one (it allows 256 bytes, and the API recommends 120); details go to the log.
const maxWarningLength = 255

// Validator is the validating webhook for BucketStateStores.
type Validator struct {
	// Secrets reads the Secret that an accessKey store names.
	Secrets SecretGetter
	// Access, when set, is asked before any Secret is read.
	Access AccessReviewer
	// SecretNamespaces, when set, are the only namespaces whose Secrets are read; a store
	// naming a Secret elsewhere is denied before any access review or read.
	SecretNamespaces []string
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
	note := auditNote{AuditProbe: AuditProbeNotRun}
	resp := v.handle(ctx, req, note)
	recordAdmission("validate", req.Operation, resp)
	note.annotate(&resp)
	return resp
}

// handle answers req and notes in note how the probe went, for the audit log.
func (v *Validator) handle(ctx context.Context, req ctrladmission.Request, note auditNote) ctrladmission.Response {
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
	probeCtx, report := probe.WithCacheReport(ctx)
	err = v.Prober.Probe(probeCtx, ProbeTarget(spec, creds))
	note.probed(err, report)
	if err == nil {
		return ctrladmission.Allowed("").WithWarnings(warnings...)
	}
	var notProbed *probe.NotProbed
	if errors.As(err, &notProbed) {
		log.Info("bucket not probed", "reason", notProbed.Reason, "endpoint", spec.Endpoint, "bucket", spec.BucketName)
		return ctrladmission.Allowed("").WithWarnings(append(warnings, notProbed.Warning)...)
	}
	failure := probe.AsFailure(err)
	log.Info("bucket probe failed", "reason", failure.Reason, "endpoint", spec.Endpoint, "bucket", spec.BucketName, "message", failure.Message, "error", failure.Err)
	if v.ProbeMode == ProbeWarn {
		return ctrladmission.Allowed("").WithWarnings(append(warnings, probeWarning(failure))...)
	}
	return invalid(obj, field.ErrorList{ProbeError(spec, specPath, failure)}).WithWarnings(warnings...)
}

// ProbeError puts a failed probe on the field the user would change to fix it. spec is
// defaulted.
func ProbeError(spec *v1alpha1.BucketStateStoreSpec, specPath *field.Path, failure *probe.Failure) *field.Error {
	switch failure.Reason {
	case probe.ReasonBucketNotFound, probe.ReasonInvalidBucketName:
		return field.Invalid(specPath.Child("bucketName"), spec.BucketName, failure.Error())
	case probe.ReasonIAMNotTrusted:
		return field.Invalid(specPath.Child("authMethod"), spec.AuthMethod, failure.Error())
	case probe.ReasonAccessDenied, probe.ReasonInvalidAccessKeyID, probe.ReasonSignatureMismatch, probe.ReasonCredentialsUnavailable:
		if spec.AuthMethod == v1alpha1.AuthMethodIAM {
			return field.Invalid(specPath.Child("authMethod"), spec.AuthMethod, failure.Error())
		}
		return field.Invalid(specPath.Child("secretRef"), secretName(spec.SecretRef), failure.Error())
	case probe.ReasonTLSMismatch:
		return field.Invalid(specPath.Child("insecure"), *spec.Insecure, failure.Error())
	case probe.ReasonEndpointForbidden:
		// A denial of a store Kratix could use: say so.
		return field.Invalid(specPath.Child("endpoint"), spec.Endpoint, fmt.Sprintf("%s; %s (reason: %s)", failure.Message, messageGuardRule, failure.Reason))
	default:
		return field.Invalid(specPath.Child("endpoint"), spec.Endpoint, failure.Error())
	}
}

// messageGuardRule ends the denial of an endpoint the guard refuses. The other denials,
// but for the Secret access review's, stand for a store Kratix cannot use; this one is a
// security rule: Kratix could reach the address, but no store may point there
// (docs/security.md).
const messageGuardRule = "this is the webhook's endpoint guard, a security rule, not a store Kratix cannot use"

// maxShownLength is the most of a value that an answer repeats.
const maxShownLength = 256

// shorten cuts s to at most maxShownLength bytes, at a character boundary.
func shorten(s string) string { return shortenTo(s, maxShownLength) }

// shortenTo cuts s to at most n bytes, at a character boundary, and marks the cut with
// "..." (three bytes more).
func shortenTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// probeWarning is the warning of --probe=warn: the probe's message, cut so that the
// warning keeps its reason and stays under maxWarningLength. The whole message is in
// the log.
func probeWarning(failure *probe.Failure) string {
	room := maxWarningLength - len(fmt.Sprintf(warningProbeFailed, "", failure.Reason)) - len("...")
	return fmt.Sprintf(warningProbeFailed, shortenTo(failure.Message, room), failure.Reason)
}

// ProbeTarget is what the prober checks for a defaulted spec.
func ProbeTarget(spec *v1alpha1.BucketStateStoreSpec, creds *probe.Credentials) probe.Target {
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
// validation does.
func invalid(obj *v1alpha1.BucketStateStore, allErrs field.ErrorList) ctrladmission.Response {
	status := InvalidError(obj.Name, allErrs).Status()
	return ctrladmission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: false, Result: &status}}
}

// InvalidError is the webhook's answer to the store name with allErrs, as the API server
// passes it on. String values and the name are cut to maxShownLength, so that an answer
// stays small whatever a request holds.
func InvalidError(name string, allErrs field.ErrorList) *apierrors.StatusError {
	for _, e := range allErrs {
		if s, ok := e.BadValue.(string); ok {
			e.BadValue = shorten(s)
		}
	}
	return apierrors.NewInvalid(v1alpha1.GroupVersion.WithKind("BucketStateStore").GroupKind(), shorten(name), allErrs)
}
