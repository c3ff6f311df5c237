package check

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The output formats of --output.
const (
	OutputText   = "text"
	OutputJSON   = "json"
	OutputGitHub = "github"
	OutputJUnit  = "junit"
	OutputSARIF  = "sarif"
)

// Outputs lists the formats, for the flag and its validation.
var Outputs = []string{OutputText, OutputJSON, OutputGitHub, OutputJUnit, OutputSARIF}

// Summary counts what a check found.
type Summary struct {
	Files        int `json:"files"`
	Stores       int `json:"stores"`
	Invalid      int `json:"invalid"`
	WithWarnings int `json:"withWarnings"`
	InputErrors  int `json:"inputErrors"`
	Skipped      int `json:"skipped"`
}

// Summary counts r.
func (r *Result) Summary() Summary {
	s := Summary{Files: r.Files, Stores: len(r.Stores), InputErrors: len(r.Errors), Skipped: len(r.Skipped)}
	for _, st := range r.Stores {
		if !st.Valid {
			s.Invalid++
		}
		if len(st.Warnings) > 0 {
			s.WithWarnings++
		}
	}
	return s
}

// The exit codes.
const (
	ExitValid   = 0
	ExitInvalid = 1
	ExitUsage   = 2
)

// ExitCode is 2 when an input could not be read, else 1 when a store is invalid (or has
// warnings, with FailOnWarnings), else 0.
func (r *Result) ExitCode() int {
	sum := r.Summary()
	switch {
	case sum.InputErrors > 0:
		return ExitUsage
	case sum.Invalid > 0, r.FailOnWarnings && sum.WithWarnings > 0:
		return ExitInvalid
	default:
		return ExitValid
	}
}

// finding is one line of the text and GitHub outputs.
type finding struct {
	level string // error, warning or notice
	file  string
	line  int
	// subject is "<Kind>/<name>", or empty for an input error.
	subject string
	message string
}

// findings lists what r reports, in input order: for each store its causes (or its
// message when it has none), warnings and notices; then the input errors.
func (r *Result) findings() []finding {
	var fs []finding
	for _, s := range r.Stores {
		subject := s.Kind + "/" + s.Name
		for _, c := range s.Causes {
			fs = append(fs, finding{"error", s.File, c.Line, subject, c.String()})
		}
		if len(s.Causes) == 0 && s.Message != "" {
			fs = append(fs, finding{"error", s.File, s.Line, subject, s.Message})
		}
		for _, w := range s.Warnings {
			fs = append(fs, finding{"warning", s.File, s.Line, subject, w})
		}
		for _, n := range s.Notices {
			fs = append(fs, finding{"notice", s.File, s.Line, subject, n})
		}
	}
	for _, e := range r.Skipped {
		fs = append(fs, finding{"notice", e.File, e.Line, "", e.Message})
	}
	for _, e := range r.Errors {
		fs = append(fs, finding{"error", e.File, e.Line, "", e.Message})
	}
	return fs
}

// Write prints r in format to w. The text format prints one line per finding, as
// `file:line: BucketStateStore/name: spec.field: message`, errors without a level as
// kubectl prints them; github prints GitHub Actions workflow commands, which annotate
// the line in a pull request; json prints the Result and its Summary; junit and sarif
// print those formats' reports (see junit.go and sarif.go).
//
// What the input controls (file and store names, values quoted in messages) is printed
// with its control characters escaped (see escapeControl) in every format, so that a
// manifest can neither start a workflow command line nor send a terminal escape.
func (r *Result) Write(w io.Writer, format string) error {
	switch format {
	case OutputJSON:
		// encoding/json escapes C0 control characters, U+2028 and U+2029, but not C1
		// controls or bidirectional overrides: those can only be in strings, where a
		// \u escape stands for the same character, so a reader gets the name as it is.
		b, err := json.MarshalIndent(struct {
			*Result
			Summary Summary `json:"summary"`
		}{r, r.Summary()}, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, jsonEscaper(string(b)))
		return err
	case OutputJUnit:
		return r.junit().WriteXML(w)
	case OutputSARIF:
		return r.sarif().PrettyWrite(w)
	case OutputGitHub:
		for _, f := range r.findings() {
			if _, err := fmt.Fprintln(w, f.github()); err != nil {
				return err
			}
		}
		return nil
	default:
		for _, f := range r.findings() {
			if _, err := fmt.Fprintln(w, f.plain()); err != nil {
				return err
			}
		}
		return nil
	}
}

func (f finding) plain() string {
	var b strings.Builder
	if f.file != "" {
		b.WriteString(lineSafeName(f.file))
		if f.line > 0 {
			fmt.Fprintf(&b, ":%d", f.line)
		}
		b.WriteString(": ")
	}
	if f.subject != "" {
		b.WriteString(escapeControl(f.subject) + ": ")
	}
	if f.level != "error" {
		b.WriteString(f.level + ": ")
	}
	b.WriteString(escapeControl(f.message))
	return b.String()
}

// github is the finding as a workflow command: ::error file=...,line=...,title=...::text.
func (f finding) github() string {
	var props []string
	if f.file != Stdin && f.file != "" {
		props = append(props, "file="+escapeProperty(f.file))
		if f.line > 0 {
			props = append(props, fmt.Sprintf("line=%d", f.line))
		}
	}
	if f.subject != "" {
		props = append(props, "title="+escapeProperty(f.subject))
	}
	text := f.message
	if f.file == Stdin && f.line > 0 {
		text = fmt.Sprintf("%s:%d: %s", displayName(f.file), f.line, text)
	}
	cmd := "::" + f.level
	if len(props) > 0 {
		cmd += " " + strings.Join(props, ",")
	}
	return cmd + "::" + escapeData(text)
}

// displayName is how findings name a file.
func displayName(file string) string {
	if file == Stdin {
		return "<stdin>"
	}
	return file
}

// lineSafeName is a file's name as the text output starts a line with it: escaped, and
// with "./" before a relative name that starts with ':' or '#', which GitHub Actions
// would read as a workflow command (`::add-mask::`) or a log command (`##[group]`).
func lineSafeName(file string) string {
	name := escapeControl(displayName(file))
	if t := strings.TrimLeft(name, " \t"); t != "" && (t[0] == ':' || t[0] == '#') && !filepath.IsAbs(name) {
		return "./" + name
	}
	return name
}

// escapeControl writes the characters that could change how a line is read, or what a
// terminal does, as Go escapes them (\n, \x1b, \u202e): control characters, line and
// paragraph separators, the marks and overrides that reorder bidirectional text, and
// bytes that are not UTF-8.
func escapeControl(s string) string {
	if !strings.ContainsFunc(s, needsEscape) && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case needsEscape(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// jsonEscaper writes the characters escapeControl escapes as \u escapes in encoded JSON,
// outside of which they cannot be.
func jsonEscaper(j string) string {
	if !strings.ContainsFunc(j, needsEscape) {
		return j
	}
	var b strings.Builder
	for _, r := range j {
		if needsEscape(r) && r != '\n' {
			fmt.Fprintf(&b, "\\u%04x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func needsEscape(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp, unicode.Bidi_Control)
}

// escapeData and escapeProperty escape as GitHub documents for workflow commands (and
// its toolkit, @actions/core, does): %, \r and \n in the message, and : and , as well
// in properties. The other control characters are escaped first, as in every format.
var (
	dataEscaper     = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	propertyEscaper = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
)

func escapeData(s string) string     { return dataEscaper.Replace(escapeControl(s)) }
func escapeProperty(s string) string { return propertyEscaper.Replace(escapeControl(s)) }

// WriteSummary prints one line saying what was checked, for people: nothing is printed
// for a valid store without warnings, so this line says that the command ran.
func (r *Result) WriteSummary(w io.Writer) {
	s := r.Summary()
	fmt.Fprintf(w, "%d state stores in %d files: %d invalid, %d with warnings", s.Stores, s.Files, s.Invalid, s.WithWarnings)
	if s.Skipped > 0 {
		fmt.Fprintf(w, "; %d skipped", s.Skipped)
	}
	if s.InputErrors > 0 {
		fmt.Fprintf(w, "; %d inputs could not be read", s.InputErrors)
	}
	fmt.Fprintln(w)
}
