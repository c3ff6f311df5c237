package check

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// The output formats of --output.
const (
	OutputText   = "text"
	OutputJSON   = "json"
	OutputGitHub = "github"
)

// Outputs lists the formats, for the flag and its validation.
var Outputs = []string{OutputText, OutputJSON, OutputGitHub}

// Summary counts what a check found.
type Summary struct {
	Files        int `json:"files"`
	Stores       int `json:"stores"`
	Invalid      int `json:"invalid"`
	WithWarnings int `json:"withWarnings"`
	InputErrors  int `json:"inputErrors"`
}

// Summary counts r.
func (r *Result) Summary() Summary {
	s := Summary{Files: r.Files, Stores: len(r.Stores), InputErrors: len(r.Errors)}
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

// ExitCode is 2 when an input could not be read, else 1 when a store is invalid, else 0.
func (r *Result) ExitCode() int {
	sum := r.Summary()
	switch {
	case sum.InputErrors > 0:
		return ExitUsage
	case sum.Invalid > 0:
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
	// subject is "BucketStateStore/<name>", or empty for an input error.
	subject string
	message string
}

// findings lists what r reports, in input order: for each store its causes (or its
// message when it has none), warnings and notices; then the input errors.
func (r *Result) findings() []finding {
	var fs []finding
	for _, s := range r.Stores {
		subject := storeGVK.Kind + "/" + s.Name
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
	for _, e := range r.Errors {
		fs = append(fs, finding{"error", e.File, e.Line, "", e.Message})
	}
	return fs
}

// Write prints r in format to w. The text format prints one line per finding, as
// `file:line: BucketStateStore/name: spec.field: message`, errors without a level as
// kubectl prints them; github prints GitHub Actions workflow commands, which annotate
// the line in a pull request; json prints the Result and its Summary.
func (r *Result) Write(w io.Writer, format string) error {
	switch format {
	case OutputJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			*Result
			Summary Summary `json:"summary"`
		}{r, r.Summary()})
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
	b.WriteString(displayName(f.file))
	if f.line > 0 {
		fmt.Fprintf(&b, ":%d", f.line)
	}
	b.WriteString(": ")
	if f.subject != "" {
		b.WriteString(f.subject + ": ")
	}
	if f.level != "error" {
		b.WriteString(f.level + ": ")
	}
	b.WriteString(f.message)
	return b.String()
}

// github is the finding as a workflow command: ::error file=...,line=...,title=...::text.
func (f finding) github() string {
	var props []string
	if f.file != Stdin {
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
	return fmt.Sprintf("::%s %s::%s", f.level, strings.Join(props, ","), escapeData(text))
}

// displayName is how findings name a file.
func displayName(file string) string {
	if file == Stdin {
		return "<stdin>"
	}
	return file
}

// escapeData and escapeProperty escape as GitHub's toolkit does (@actions/core).
var (
	dataEscaper     = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	propertyEscaper = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
)

func escapeData(s string) string     { return dataEscaper.Replace(s) }
func escapeProperty(s string) string { return propertyEscaper.Replace(s) }

// WriteSummary prints one line saying what was checked, for people: nothing is printed
// for a valid store without warnings, so this line says that the command ran.
func (r *Result) WriteSummary(w io.Writer) {
	s := r.Summary()
	fmt.Fprintf(w, "%d BucketStateStores in %d files: %d invalid, %d with warnings", s.Stores, s.Files, s.Invalid, s.WithWarnings)
	if s.InputErrors > 0 {
		fmt.Fprintf(w, "; %d inputs could not be read", s.InputErrors)
	}
	fmt.Fprintln(w)
}
