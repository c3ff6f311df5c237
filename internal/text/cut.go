package text

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// The limits strings are cut to, each named for what it bounds.
const (
	// MaxLabel is a DNS label's length, and so a store's name as answers show it: a
	// name longer than that is not one a user reads through.
	MaxLabel = 63
	// MaxQuoted is the most Quote gives for a value a warning repeats: a warning that
	// repeats one stays under the API server's warning limit whatever the value.
	MaxQuoted = 66
	// MaxName is a DNS subdomain's length, the longest name of most Kubernetes objects
	// (a Secret's, for one).
	MaxName = 253
	// MaxProblem is the most one problem of a guard's answer shows (its message with the
	// probe's, which may repeat what an endpoint said).
	MaxProblem = 512
	// MaxLogValue is the most a log line shows of its message or of any one value:
	// enough for any error the webhook makes, and a bound on what a request or an
	// endpoint can put in the log.
	MaxLogValue = 1024
)

// ellipsis marks where a string was cut.
const ellipsis = "..."

// Cut shortens s to at most n bytes, at a character boundary, marking the cut with "...".
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	end := max(n-len(ellipsis), 0)
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end] + ellipsis
}

// Quote quotes s as %q does, cut at a character so that it is at most n bytes, quotes
// and "..." included.
func Quote(s string, n int) string {
	if q := strconv.Quote(s); len(q) <= n {
		return q
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		q := strconv.Quote(string(r))
		q = q[1 : len(q)-1]
		if b.Len()+len(q)+len(ellipsis+`"`) > n {
			break
		}
		b.WriteString(q)
	}
	b.WriteString(ellipsis + `"`)
	return b.String()
}
