package admission

import (
	"strconv"

	ctrladmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

// Audit annotation keys. Every answer of the validating webhook and of the guards carries
// some of them; the API server writes them into its audit log prefixed with the name of
// the webhook that answered, e.g.
// validate.bucketstatestores.webhook.kratix-community.io/verdict.
const (
	// AuditVerdict is the answer: one of the Verdict* values.
	AuditVerdict = "verdict"
	// AuditProbe is how the bucket probe went: its probe.Reason (OK when it passed), or
	// AuditProbeNotRun.
	AuditProbe = "probe"
	// AuditProbeCached is "true" when the probe's success came from the cache.
	AuditProbeCached = "probe-cached"
	// AuditGuard is a guard's finding: one of the Guard* findings below.
	AuditGuard = "guard"
)

// Values of AuditVerdict.
const (
	VerdictAllowed = "allowed"
	VerdictWarned  = "allowed-with-warnings"
	VerdictDenied  = "denied"
	VerdictError   = "error"
)

// AuditProbeNotRun is AuditProbe's value when no probe ran: the probe is off, or the
// request was answered before it.
const AuditProbeNotRun = "not-run"

// auditNote collects what an answer's audit annotations say besides the verdict.
type auditNote map[string]string

// probed notes the outcome of a probe, and whether its success came from the cache.
func (n auditNote) probed(err error, cached bool) {
	n[AuditProbe] = string(probe.ReasonOf(err))
	n[AuditProbeCached] = strconv.FormatBool(cached)
}

// annotate puts the note and the verdict of resp into resp's audit annotations.
func (n auditNote) annotate(resp *ctrladmission.Response) {
	annotations := make(map[string]string, len(n)+1)
	for k, v := range n {
		annotations[k] = v
	}
	annotations[AuditVerdict] = verdict(resp)
	resp.AuditAnnotations = annotations
}

// verdict names what resp says, as the admissions metric counts it.
func verdict(resp *ctrladmission.Response) string {
	switch admissionResult(resp) {
	case "denied":
		return VerdictDenied
	case "error":
		return VerdictError
	}
	if len(resp.Warnings) > 0 {
		return VerdictWarned
	}
	return VerdictAllowed
}
