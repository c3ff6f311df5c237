package admission

import (
	"fmt"
	"strings"

	"github.com/kratix-community/bucketstatestore-webhook/internal/text"
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
