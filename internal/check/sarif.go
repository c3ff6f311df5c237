package check

import (
	"path/filepath"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
)

// informationURI is where a SARIF reader learns about the tool.
const informationURI = "https://github.com/kratix-community/statestore-webhook/blob/main/docs/ci.md"

// sarifRules are the rules a finding of each kind is reported under, with their levels.
var sarifRules = []struct {
	id, level, description string
}{
	{"invalid-store", "error", "The webhook would refuse this BucketStateStore."},
	{"store-warning", "warning", "The webhook would admit this BucketStateStore with a warning."},
	{"not-checked-offline", "note", "Part of this BucketStateStore cannot be checked offline."},
	{"input-error", "error", "This input could not be read."},
	{"input-skipped", "note", "This input was not checked."},
}

// sarif is r as a SARIF 2.1.0 log, which GitHub code scanning
// (github/codeql-action/upload-sarif) and other analysers read: one result per finding,
// located on its file and line.
func (r *Result) sarif() *sarif.Report {
	run := sarif.NewRunWithInformationURI(junitName, informationURI)
	for _, rule := range sarifRules {
		run.AddRule(rule.id).WithDescription(rule.description)
	}
	add := func(rule int, file string, line int, text string) {
		res := run.CreateResultForRule(sarifRules[rule].id).
			WithLevel(sarifRules[rule].level).
			WithMessage(sarif.NewTextMessage(escapeControl(text)))
		if file != "" && file != Stdin {
			loc := sarif.NewPhysicalLocation().WithArtifactLocation(sarif.NewSimpleArtifactLocation(filepath.ToSlash(escapeControl(file))))
			if line > 0 {
				loc.WithRegion(sarif.NewRegion().WithStartLine(line))
			}
			res.AddLocation(sarif.NewLocationWithPhysicalLocation(loc))
		}
	}
	for _, st := range r.Stores {
		subject := st.Kind + "/" + st.Name + ": "
		for _, c := range st.Causes {
			add(0, st.File, c.Line, subject+c.String())
		}
		if len(st.Causes) == 0 && st.Message != "" {
			add(0, st.File, st.Line, subject+st.Message)
		}
		for _, w := range st.Warnings {
			add(1, st.File, st.Line, subject+w)
		}
		for _, n := range st.Notices {
			add(2, st.File, st.Line, subject+n)
		}
	}
	for _, e := range r.Errors {
		add(3, e.File, e.Line, e.Message)
	}
	for _, e := range r.Skipped {
		add(4, e.File, e.Line, e.Message)
	}
	return sarif.NewReport().AddRun(run)
}
