package check

import (
	"fmt"
	"strings"

	"github.com/jstemmer/go-junit-report/v2/junit"
)

// junitName is the name of the report, and of the suite of findings that concern no file.
const junitName = "statestore-check"

// junit is r as a JUnit XML report, as CI systems (GitLab's test reports, Jenkins)
// show test results, and as kubeconform writes it: a suite per file, a test case per
// store, failed when the webhook would refuse it (or when it has warnings and warnings
// fail the run) with its causes on their lines; warnings and notices as the case's
// output; an input that could not be read as a case in error, and one skipped as a
// skipped case.
func (r *Result) junit() *junit.Testsuites {
	report := &junit.Testsuites{Name: junitName}
	var order []string
	suites := map[string]*junit.Testsuite{}
	suite := func(file string) *junit.Testsuite {
		if s, ok := suites[file]; ok {
			return s
		}
		name := junitName
		if file != "" {
			name = escapeControl(displayName(file))
		}
		s := &junit.Testsuite{Name: name, Time: "0"}
		if file != "" && file != Stdin {
			s.File = escapeControl(file)
		}
		suites[file] = s
		order = append(order, file)
		return s
	}
	for _, st := range r.Stores {
		s := suite(st.File)
		tc := junit.Testcase{Name: escapeControl(st.Kind + "/" + st.Name), Classname: s.Name}
		var out []string
		for _, w := range st.Warnings {
			out = append(out, "warning: "+escapeControl(w))
		}
		for _, n := range st.Notices {
			out = append(out, "notice: "+escapeControl(n))
		}
		switch {
		case !st.Valid:
			tc.Failure = &junit.Result{Message: escapeControl(st.Message), Type: "Invalid", Data: strings.Join(causeLines(st), "\n")}
		case r.FailOnWarnings && len(st.Warnings) > 0:
			tc.Failure = &junit.Result{Message: escapeControl(st.Warnings[0]), Type: "Warning", Data: strings.Join(out, "\n")}
		}
		if len(out) > 0 {
			tc.SystemOut = &junit.Output{Data: strings.Join(out, "\n")}
		}
		s.AddTestcase(tc)
	}
	for _, e := range r.Skipped {
		suite(e.File).AddTestcase(junit.Testcase{Name: inputCaseName(e), Classname: suite(e.File).Name, Skipped: &junit.Result{Message: escapeControl(e.Message)}})
	}
	for _, e := range r.Errors {
		suite(e.File).AddTestcase(junit.Testcase{Name: inputCaseName(e), Classname: suite(e.File).Name, Error: &junit.Result{Message: escapeControl(e.Message), Type: "InputError"}})
	}
	for i, file := range order {
		s := suites[file]
		s.ID = i
		report.AddSuite(*s)
	}
	return report
}

// causeLines are a refused store's causes, one a line, with the line of the file.
func causeLines(st *Store) []string {
	if len(st.Causes) == 0 {
		return []string{fmt.Sprintf("line %d: %s", st.Line, escapeControl(st.Message))}
	}
	lines := make([]string, 0, len(st.Causes))
	for _, c := range st.Causes {
		lines = append(lines, fmt.Sprintf("line %d: %s", c.Line, escapeControl(c.String())))
	}
	return lines
}

// inputCaseName names the test case of an input that was not checked.
func inputCaseName(e InputError) string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d", e.Line)
	}
	return "input"
}
