package admission

import (
	"context"
	"fmt"
	"net/http"
	"unicode/utf8"

	admissionv1 "k8s.io/api/admission/v1"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	ctrladmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kratix-community/statestore-webhook/pkg/probe"
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

	warningProbeFailed = "the probe failed but --probe=warn admits the store: %s (reason: %s)"
)

// maxWarningLength is the longest warning the webhook gives. The API server may cut a
// longer one (it allows 256 bytes, and the API recommends 120); details go to the log.
const maxWarningLength = 255

// Validator is the validating webhook for the StoreKinds.
type Validator struct {
	// Secrets reads the Secret that an accessKey store names.
	Secrets SecretGetter
	// Access, when set, is asked before any Secret is read.
	Access AccessReviewer
	// SecretNamespaces, when set, are the only namespaces whose Secrets are read; a store
	// naming a Secret elsewhere is denied before any access review or read.
	SecretNamespaces []string
	// Prober checks the bucket of a BucketStateStore. It is not called when ProbeMode is
	// ProbeOff.
	Prober probe.Prober
	// GitProber checks the repository of a GitStateStore, as Prober a bucket; nil: not
	// probed.
	GitProber probe.GitProber
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
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return ctrladmission.Allowed("")
	}
	obj, err := decodeStore(req.AdmissionRequest, req.Object.Raw)
	if err != nil {
		return ctrladmission.Errored(http.StatusBadRequest, err)
	}
	if req.Operation == admissionv1.Update {
		old, err := decodeStore(req.AdmissionRequest, req.OldObject.Raw)
		if err != nil {
			return ctrladmission.Errored(http.StatusBadRequest, err)
		}
		// Metadata-only updates, such as Kratix removing its finalizer from a store whose
		// bucket is gone, must never be blocked by a probe.
		if obj.sameSpec(old) {
			return ctrladmission.Allowed("spec unchanged")
		}
	}
	out := obj.evaluate(ctx, v.pipeline(), req.UserInfo)
	return respond(ctx, out, note)
}

// pipeline is the evaluation the validator's fields describe.
func (v *Validator) pipeline() *Pipeline {
	return &Pipeline{Secrets: v.Secrets, Access: v.Access, SecretNamespaces: v.SecretNamespaces, Prober: v.Prober, GitProber: v.GitProber, ProbeMode: v.ProbeMode}
}

// respond turns the pipeline's outcome into the webhook's response, and notes in note
// how the probe went.
func respond(ctx context.Context, out *Outcome, note auditNote) ctrladmission.Response {
	if out.probed {
		note.probed(out.probeErr, out.probeCached)
	}
	switch {
	case out.Err != nil:
		logf.FromContext(ctx).Error(out.Err, "cannot check the Secret")
		return ctrladmission.Errored(http.StatusInternalServerError, out.Err)
	case out.denial != nil:
		return ctrladmission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: false, Result: out.denial}}.WithWarnings(out.Warnings...)
	}
	return ctrladmission.Allowed("").WithWarnings(out.Warnings...)
}

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
