package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/spf13/pflag"

	"github.com/kratix-community/statestore-webhook/internal/testkit"
	"github.com/kratix-community/statestore-webhook/pkg/admission"
	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

// The docs, relative to this package's directory, where go test runs: the reference holds
// the flags table; messages and reasons may be quoted in any of them.
const (
	referencePath = "../../docs/reference.md"
	securityPath  = "../../docs/security.md"
	operatingPath = "../../docs/operating.md"
)

// The reference documents controller-runtime's zap flags as a group, not in its flags table.
const zapPrefix = "zap-"

// TestReferenceFlagsTableMatchesAddFlags keeps the reference's flags table honest: it lists exactly
// the flags AddFlags registers (the zap flags apart), each with the default NewOptions gives.
func TestReferenceFlagsTableMatchesAddFlags(t *testing.T) {
	md := readDocs(t, referencePath)
	var flagTables []testkit.MarkdownTable
	for _, tb := range testkit.MarkdownTables(md) {
		if len(tb.Header) > 0 && tb.Header[0] == "Flag" {
			flagTables = append(flagTables, tb)
		}
	}
	if len(flagTables) != 1 {
		t.Fatalf("docs/reference.md has %d tables whose first column is Flag, want 1", len(flagTables))
	}
	fs := pflag.NewFlagSet("readme", pflag.ContinueOnError)
	NewOptions().AddFlags(fs)

	documented := map[string]string{} // flag name -> default as the reference writes it
	for _, row := range flagTables[0].Rows {
		if len(row) < 3 {
			t.Errorf("flags table row %q has %d cells, want 3 (flag, default, meaning)", row, len(row))
			continue
		}
		spans := testkit.CodeSpans(row[0])
		if len(spans) != 1 || !strings.HasPrefix(spans[0], "--") {
			t.Errorf("flags table row %q: the first cell must be one flag in backticks, like `--probe`", row)
			continue
		}
		name := strings.TrimPrefix(spans[0], "--")
		if _, dup := documented[name]; dup {
			t.Errorf("flag --%s is listed twice", name)
		}
		documented[name] = readmeDefault(row[1])
	}

	var zapFlags []string
	fs.VisitAll(func(f *pflag.Flag) {
		if strings.HasPrefix(f.Name, zapPrefix) {
			zapFlags = append(zapFlags, f.Name)
			return
		}
		got, ok := documented[f.Name]
		if !ok {
			t.Errorf("flag --%s (default %q) is registered but missing from the reference's flags table", f.Name, f.DefValue)
			return
		}
		delete(documented, f.Name)
		if !sameDefault(f, got) {
			t.Errorf("flag --%s: docs/reference.md says default %q, AddFlags sets %q", f.Name, got, f.DefValue)
		}
	})
	for name := range documented {
		t.Errorf("the reference's flags table lists --%s, which AddFlags does not register", name)
	}

	// The zap flags are documented as a group: each must at least be named.
	if len(zapFlags) == 0 {
		t.Fatal("no zap flags registered; drop the zap exception from this test and the docs")
	}
	for _, name := range zapFlags {
		if !strings.Contains(md, "`--"+name+"`") {
			t.Errorf("zap flag --%s is not named in the docs", name)
		}
	}
}

// TestDocsQuoteMessagesThatExist checks that what the docs quote as a message is
// what the code says. The warnings are exported constants and must appear verbatim. Every
// other message, in a table column named Message, is checked piece by piece against the
// string literals of pkg/admission and pkg/probe: a <placeholder> stands for a formatted
// value, and "; " separates clauses that the code may build from separate literals. A
// clause that spells out a value the code formats in (such as a key name) must match a
// clause of a format string, its verbs standing for any text.
func TestDocsQuoteMessagesThatExist(t *testing.T) {
	md := readDocs(t, referencePath, securityPath, operatingPath)
	for name, warning := range map[string]string{
		"WarningInsecure":              admission.WarningInsecure,
		"WarningIAMWithSecretRef":      admission.WarningIAMWithSecretRef,
		"WarningEndpointUnderscore":    admission.WarningEndpointUnderscore,
		"WarningGitInsecure":           admission.WarningGitInsecure,
		"WarningGitURLCredentials":     admission.WarningGitURLCredentials,
		"WarningGitBranchEmpty":        admission.WarningGitBranchEmpty,
		"WarningIAMNotProbed":          probe.WarningIAMNotProbed,
		"WarningIAMNotProbedPlainHTTP": probe.WarningIAMNotProbedPlainHTTP,
	} {
		if !strings.Contains(md, "`"+warning+"`") {
			t.Errorf("the docs do not quote %s verbatim: %q", name, warning)
		}
	}

	literals := stringLiterals(t, "../../pkg/admission", "../../pkg/probe")
	clauses := formatClauses(literals)
	checked := 0
	for _, tb := range testkit.MarkdownTables(md) {
		col := slices.Index(tb.Header, "Message")
		if col < 0 {
			continue
		}
		for _, row := range tb.Rows {
			if col >= len(row) {
				continue
			}
			for _, msg := range testkit.CodeSpans(row[col]) {
				checked++
				for _, piece := range messagePieces(msg) {
					inLiteral := slices.ContainsFunc(literals, func(l string) bool { return strings.Contains(l, piece) })
					formatted := slices.ContainsFunc(clauses, func(c *regexp.Regexp) bool { return c.MatchString(piece) })
					if !inLiteral && !formatted {
						t.Errorf("docs message %q: %q is in no string literal of pkg/admission or pkg/probe", msg, piece)
					}
				}
			}
		}
	}
	if checked < 30 {
		t.Fatalf("checked only %d messages; did the docs' Message columns get renamed?", checked)
	}
}

// TestReferenceNamesEveryReasonAndProbeMode checks that the reference documents every probe
// Reason (they are part of the webhook's interface) and every --probe mode.
func TestReferenceNamesEveryReasonAndProbeMode(t *testing.T) {
	md := readDocs(t, referencePath)
	for _, reason := range probe.Reasons {
		if reason != probe.ReasonOK && !strings.Contains(md, "`"+string(reason)+"`") {
			t.Errorf("probe reason %q is not documented in docs/reference.md", reason)
		}
	}
	for _, mode := range admission.ProbeModes {
		if !strings.Contains(md, "`"+string(mode)+"`") {
			t.Errorf("probe mode %q is not documented in the docs", mode)
		}
	}
}

// readDocs returns the named docs, one after the other.
func readDocs(t *testing.T, paths ...string) string {
	t.Helper()
	var md strings.Builder
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		md.Write(b)
		md.WriteString("\n")
	}
	return md.String()
}

func letters(s string) int {
	n := 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			n++
		}
	}
	return n
}

// readmeDefault reads a default cell: a value in backticks, or "(empty)".
func readmeDefault(cell string) string {
	if spans := testkit.CodeSpans(cell); len(spans) > 0 {
		return spans[0]
	}
	if cell == "(empty)" {
		return ""
	}
	return cell
}

// sameDefault compares a docs default with a flag's: durations by value, so that 1m
// matches 1m0s, and an empty list as empty.
func sameDefault(f *pflag.Flag, readme string) bool {
	switch f.Value.Type() {
	case "duration":
		want, err1 := time.ParseDuration(f.DefValue)
		got, err2 := time.ParseDuration(readme)
		return err1 == nil && err2 == nil && want == got
	case "stringSlice":
		if f.DefValue == "[]" {
			return readme == ""
		}
	}
	return f.DefValue == readme
}

var (
	// apimachineryPrefix is what field.Error prints before a message: the error type and,
	// for Invalid, the value (always a placeholder in the docs).
	apimachineryPrefix = regexp.MustCompile(`^(Required value|Forbidden|Invalid value: (?:"<[^<>]+>"|<[^<>]+>)): `)
	// placeholder is a formatted value, with the quotes %q would add.
	// placeholder is a formatted value, with the quotes %q would add and any text glued to
	// it, as in "<scheme>://".
	placeholder = regexp.MustCompile(`"?<[^<>]+>[^\s"]*"?`)
	// formatVerb is a fmt verb in a format string.
	formatVerb = regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z]`)
)

// formatClauses turns each "; "-separated clause of the literals that hold fmt verbs into
// a regular expression that matches the clause with any values formatted in.
func formatClauses(literals []string) []*regexp.Regexp {
	var res []*regexp.Regexp
	for _, l := range literals {
		if !formatVerb.MatchString(l) {
			continue
		}
		for _, clause := range strings.Split(l, "; ") {
			clause = strings.Trim(clause, " ")
			parts := formatVerb.Split(clause, -1)
			if letters(strings.Join(parts, "")) < 8 {
				continue // too little fixed text to match on, like "write %q"
			}
			for i, p := range parts {
				parts[i] = regexp.QuoteMeta(p)
			}
			res = append(res, regexp.MustCompile("^"+strings.Join(parts, ".+?")+"$"))
		}
	}
	return res
}

// messagePieces returns the literal parts of a docs message that must appear in the
// code's string literals. Messages whose text apimachinery writes have none.
func messagePieces(msg string) []string {
	// Messages that apimachinery's field errors write whole.
	if strings.HasPrefix(msg, "Not found: ") || strings.HasPrefix(msg, "Unsupported value: ") || strings.HasPrefix(msg, "Too long: ") {
		return nil
	}
	msg = apimachineryPrefix.ReplaceAllString(msg, "")
	var pieces []string
	for _, part := range placeholder.Split(msg, -1) {
		for _, clause := range strings.Split(part, "; ") {
			clause = strings.Trim(clause, " \"'():;,.")
			if len(clause) >= 3 && strings.ContainsFunc(clause, unicode.IsLetter) {
				pieces = append(pieces, clause)
			}
		}
	}
	return pieces
}

// stringLiterals returns the values of the string literals in the non-test Go files of
// dirs, and of every concatenation of literals, such as a message split over two lines.
func stringLiterals(t *testing.T, dirs ...string) []string {
	t.Helper()
	var literals []string
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				if e, ok := n.(ast.Expr); ok {
					if s, ok := constString(e); ok {
						literals = append(literals, s)
					}
				}
				return true
			})
		}
	}
	if len(literals) == 0 {
		t.Fatalf("no string literals found in %v", dirs)
	}
	return literals
}

// constString evaluates a string literal or a + of string literals.
func constString(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.ParenExpr:
		return constString(e.X)
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", false
		}
		x, ok1 := constString(e.X)
		y, ok2 := constString(e.Y)
		return x + y, ok1 && ok2
	}
	return "", false
}
