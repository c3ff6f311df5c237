package admission

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrladmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kratix-community/statestore-webhook/internal/text"
)

// GuardMode says what a guard does when a request would break a store that is in use.
type GuardMode string

const (
	// GuardDeny refuses the request.
	GuardDeny GuardMode = "deny"
	// GuardWarn allows the request with a warning.
	GuardWarn GuardMode = "warn"
	// GuardOff allows every request without looking.
	GuardOff GuardMode = "off"
)

// GuardModes lists the valid modes of the delete guard and the Secret guard, for flags and
// their validation.
var GuardModes = []GuardMode{GuardDeny, GuardWarn, GuardOff}

// Findings of the guards, the value of their AuditGuard annotation.
const (
	// GuardFindingOff: the guard is turned off by its flag.
	GuardFindingOff = "off"
	// GuardFindingUnknown: the guard's cache is not ready (or, for the delete guard, the
	// Destination CRD is not installed), so it cannot tell and lets the request through.
	GuardFindingUnknown = "unknown"
	// GuardFindingUnused: no store (or no Destination) depends on the object.
	GuardFindingUnused = "unused"
	// GuardFindingSafe: stores depend on the object, and the change keeps them working.
	GuardFindingSafe = "safe"
	// GuardFindingBreaks: the request would break what depends on the object.
	GuardFindingBreaks = "breaks"
	// GuardFindingAllowDelete: the store carries AllowDeleteAnnotation.
	GuardFindingAllowDelete = "allow-delete-annotation"
)

// runGuard is what both guards do around their own check: requests of other operations
// and a guard turned off are allowed without looking, and every answer is counted and
// carries its audit annotations.
func runGuard(ctx context.Context, req ctrladmission.Request, webhook string, mode GuardMode,
	check func(context.Context, ctrladmission.Request, auditNote) ctrladmission.Response, ops ...admissionv1.Operation) ctrladmission.Response {
	note := auditNote{}
	var resp ctrladmission.Response
	switch {
	case !slices.Contains(ops, req.Operation):
		resp = ctrladmission.Allowed("")
	case mode == GuardOff:
		note[AuditGuard] = GuardFindingOff
		resp = ctrladmission.Allowed("")
	default:
		resp = check(ctx, req, note)
	}
	recordAdmission(webhook, req.Operation, resp)
	note.annotate(&resp)
	return resp
}

// inUse notes the finding when nothing is known to depend on the object (known is false
// while the guard's cache is not in sync), and reports whether something does.
func (n auditNote) inUse(known bool, dependents int) bool {
	switch {
	case !known:
		n[AuditGuard] = GuardFindingUnknown
	case dependents == 0:
		n[AuditGuard] = GuardFindingUnused
	}
	return known && dependents > 0
}

// guardAnswer is a guard's answer to a request that breaks what depends on the object:
// in warn mode, or when there is no denial, the request is allowed with the problems as
// warnings; otherwise it is refused with a 403 on resource gr's object name that says
// denial.
func guardAnswer(mode GuardMode, gr schema.GroupResource, name string, problems []string, denial string) ctrladmission.Response {
	if mode == GuardWarn || denial == "" {
		return ctrladmission.Allowed("").WithWarnings(asWarnings(problems)...)
	}
	status := apierrors.NewForbidden(gr, name, errors.New(denial)).Status()
	return ctrladmission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: false, Result: &status}}
}

// maxNamesShown is how many names an answer lists before it says how many there are.
const maxNamesShown = 3

// listNames shows the first maxNamesShown names, each cut to text.MaxLabel bytes, and how many
// there are in all when that is more: `"a", "b", "c" and 2 more`.
func listNames(names []string) string {
	shown := make([]string, 0, min(len(names), maxNamesShown))
	for _, n := range names[:min(len(names), maxNamesShown)] {
		shown = append(shown, fmt.Sprintf("%q", text.Cut(n, text.MaxLabel)))
	}
	s := strings.Join(shown, ", ")
	if more := len(names) - len(shown); more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}

// asWarnings cuts each message to maxWarningLength.
func asWarnings(messages []string) []string {
	warnings := make([]string, len(messages))
	for i, m := range messages {
		warnings[i] = text.Cut(m, maxWarningLength)
	}
	return warnings
}
