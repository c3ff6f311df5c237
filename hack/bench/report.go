package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// Row is one figure: what this project measured, what its baseline measured, their
// ratio, and the target when the figure has one (docs/BENCHMARKS.md lists them).
type Row struct {
	Figure string
	Ours   string
	Base   string
	// Ratio is NaN when the figure has none.
	Ratio float64
	// Target says what is wanted, e.g. "<= 1.20x"; empty when there is none.
	Target string
	// Met is whether the target was met; nil when there is no target or no measurement.
	Met *bool
}

// Section is the rows of one kind of measurement.
type Section struct {
	Title string
	// Columns name the two sides, e.g. "webhook" and "bare webhook".
	Ours, Base string
	Rows       []Row
	// Notes are printed under the table: how it was measured, diagnostics.
	Notes []string
}

// Report is everything one run printed, and the reasons it must fail.
type Report struct {
	Header   []string
	Sections []*Section
	// Failures make the harness exit non-zero: a side that answered errors, a wrong
	// verdict, a figure that measured nothing. A missed target is not a failure.
	Failures []string
}

// Section starts a new section and returns it.
func (r *Report) Section(title, ours, base string) *Section {
	s := &Section{Title: title, Ours: ours, Base: base}
	r.Sections = append(r.Sections, s)
	return s
}

// Fail records why the run cannot be trusted.
func (r *Report) Fail(format string, args ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
}

// CheckRuns records a failure for every run that failed or measured nothing and reports
// whether all of them are sound.
func (r *Report) CheckRuns(figure string, runs ...*Run) bool {
	ok := true
	for _, run := range runs {
		if err := run.Check(); err != nil {
			r.Fail("%s: %v", figure, err)
			ok = false
		}
	}
	return ok
}

// Add appends a row.
func (s *Section) Add(row Row) { s.Rows = append(s.Rows, row) }

// Note appends a line printed under the table.
func (s *Section) Note(format string, args ...any) {
	s.Notes = append(s.Notes, fmt.Sprintf(format, args...))
}

// atMost is a target on a ratio or a value: met when v <= limit. A NaN v (nothing
// measured) meets nothing.
func atMost(v, limit float64) *bool {
	if math.IsNaN(v) {
		return nil
	}
	met := v <= limit
	return &met
}

// atLeast is met when v >= limit.
func atLeast(v, limit float64) *bool {
	if math.IsNaN(v) {
		return nil
	}
	met := v >= limit
	return &met
}

// Print writes the report as aligned plain-text tables.
func (r *Report) Print(w io.Writer) {
	for _, h := range r.Header {
		fmt.Fprintln(w, h)
	}
	for _, s := range r.Sections {
		fmt.Fprintf(w, "\n== %s ==\n", s.Title)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
		fmt.Fprintf(tw, "figure\t%s\t%s\tratio\ttarget\tverdict\t\n", s.Ours, s.Base)
		for _, row := range s.Rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", row.Figure, row.Ours, row.Base, fmtRatio(row.Ratio), row.Target, verdict(row))
		}
		_ = tw.Flush()
		for _, n := range s.Notes {
			fmt.Fprintf(w, "  - %s\n", n)
		}
	}
	fmt.Fprintln(w)
	met, missed, unknown := r.tally()
	fmt.Fprintf(w, "targets: %d met, %d missed, %d not measured\n", met, missed, unknown)
	if len(r.Failures) == 0 {
		fmt.Fprintln(w, "every side answered every request with the expected verdict")
		return
	}
	fmt.Fprintf(w, "FAILED: %d measurements cannot be trusted:\n", len(r.Failures))
	for _, f := range r.Failures {
		fmt.Fprintf(w, "  - %s\n", f)
	}
}

func (r *Report) tally() (met, missed, unknown int) {
	for _, s := range r.Sections {
		for _, row := range s.Rows {
			switch {
			case row.Target == "":
			case row.Met == nil:
				unknown++
			case *row.Met:
				met++
			default:
				missed++
			}
		}
	}
	return met, missed, unknown
}

func verdict(row Row) string {
	switch {
	case row.Target == "":
		return ""
	case row.Met == nil:
		return "not measured"
	case *row.Met:
		return "met"
	default:
		return "MISSED"
	}
}

func fmtRatio(r float64) string {
	switch {
	case math.IsNaN(r):
		return "-"
	case r >= 100:
		return fmt.Sprintf("%.0fx", r)
	case r >= 0.1:
		return fmt.Sprintf("%.2fx", r)
	default:
		return fmt.Sprintf("%.4fx", r)
	}
}

// fmtDur prints a duration with three significant digits in a unit that suits it.
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.3gms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.3gs", d.Seconds())
	}
}

// fmtDurF prints a duration held as float64 nanoseconds, such as a median.
func fmtDurF(ns float64) string {
	if math.IsNaN(ns) {
		return "-"
	}
	return fmtDur(time.Duration(ns))
}

// fmtRate prints requests per second.
func fmtRate(v float64) string {
	if math.IsNaN(v) || v <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f/s", v)
}

// indent prefixes every line of s, for output of other processes in failures.
func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix)
}
