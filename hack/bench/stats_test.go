package main

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

func TestRunCheck(t *testing.T) {
	wrong := fmt.Errorf("%w: allowed=false, want true", testkit.ErrWrongVerdict)
	tests := map[string]struct {
		latencies []time.Duration
		errs      []error
		wantErr   string
	}{
		"a run where every request was answered as expected is sound": {
			latencies: []time.Duration{time.Millisecond, 2 * time.Millisecond},
		},
		"a run with one failed request among good ones fails": {
			latencies: []time.Duration{time.Millisecond},
			errs:      []error{errors.New("connection refused")},
			wantErr:   `side: 1 of 2 requests failed and 0 got the wrong verdict; first: ["connection refused"]`,
		},
		"a run with a wrong verdict fails": {
			latencies: []time.Duration{time.Millisecond},
			errs:      []error{wrong},
			wantErr:   `side: 0 of 2 requests failed and 1 got the wrong verdict; first: ["wrong verdict: allowed=false, want true"]`,
		},
		"a run whose every request failed fails": {
			errs:    []error{errors.New("timeout"), errors.New("timeout")},
			wantErr: `side: 2 of 2 requests failed and 0 got the wrong verdict; first: ["timeout" "timeout"]`,
		},
		"a run that sent nothing fails: it measured nothing": {
			wantErr: "side: no request was answered, nothing was measured",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			run := NewRun("side")
			for _, d := range tc.latencies {
				run.Record(d, nil)
			}
			for _, err := range tc.errs {
				run.Record(0, err)
			}
			err := run.Check()
			if got := errString(err); got != tc.wantErr {
				t.Fatalf("Check() = %q, want %q", got, tc.wantErr)
			}
		})
	}
}

func TestRunKeepsOnlyTheFirstErrorMessages(t *testing.T) {
	run := NewRun("side")
	for i := range 10 {
		run.Record(0, fmt.Errorf("error %d", i))
	}
	want := `side: 10 of 10 requests failed and 0 got the wrong verdict; first: ["error 0" "error 1" "error 2"]`
	if got := errString(run.Check()); got != want {
		t.Fatalf("Check() = %q, want %q", got, want)
	}
}

func TestReportFailsWhenASideCannotBeTrusted(t *testing.T) {
	good, bad, empty := NewRun("webhook"), NewRun("bare webhook"), NewRun("webhook")
	good.Record(time.Millisecond, nil)
	bad.Record(time.Millisecond, nil)
	bad.Record(0, errors.New("HTTP 500: boom"))

	r := &Report{}
	if !r.CheckRuns("sound figure", good) {
		t.Errorf("CheckRuns of a sound run = false, want true")
	}
	if r.CheckRuns("figure with an error", good, bad) {
		t.Errorf("CheckRuns with a failed request = true, want false")
	}
	if r.CheckRuns("figure with nothing", empty) {
		t.Errorf("CheckRuns of an empty run = true, want false")
	}
	want := []string{
		`figure with an error: bare webhook: 1 of 2 requests failed and 0 got the wrong verdict; first: ["HTTP 500: boom"]`,
		"figure with nothing: webhook: no request was answered, nothing was measured",
	}
	if strings.Join(r.Failures, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Failures = %q, want %q", r.Failures, want)
	}
	var out strings.Builder
	r.Print(&out)
	if !strings.Contains(out.String(), "FAILED: 2 measurements cannot be trusted") {
		t.Errorf("the printed report does not say it failed:\n%s", out.String())
	}
}

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var ds []time.Duration
		for _, n := range ns {
			ds = append(ds, time.Duration(n)*time.Millisecond)
		}
		return ds
	}
	tests := map[string]struct {
		ds   []time.Duration
		p    float64
		want time.Duration
	}{
		"no samples have no percentile":        {ds: nil, p: 50, want: 0},
		"the median of an odd count is middle": {ds: ms(5, 1, 3), p: 50, want: 3 * time.Millisecond},
		"p99 of 100 samples is the 99th":       {ds: ms(seq(100)...), p: 99, want: 99 * time.Millisecond},
		"p99 of 10 samples is the slowest":     {ds: ms(seq(10)...), p: 99, want: 10 * time.Millisecond},
		"p100 is the slowest":                  {ds: ms(2, 9, 4), p: 100, want: 9 * time.Millisecond},
		"p0 is the fastest":                    {ds: ms(2, 9, 4), p: 0, want: 2 * time.Millisecond},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := percentile(tc.ds, tc.p); got != tc.want {
				t.Fatalf("percentile(%v, %v) = %v, want %v", tc.ds, tc.p, got, tc.want)
			}
		})
	}
}

func TestPairs(t *testing.T) {
	t.Run("the ratio is the median of the pair-by-pair ratios", func(t *testing.T) {
		var p Pairs
		p.Add(2, 1)   // 2x
		p.Add(30, 10) // 3x
		p.Add(10, 1)  // 10x
		if got := p.Ratio(); got != 3 {
			t.Fatalf("Ratio() = %v, want 3", got)
		}
		if p.Ours() != 10 || p.Base() != 1 {
			t.Fatalf("Ours(), Base() = %v, %v, want 10, 1", p.Ours(), p.Base())
		}
	})
	t.Run("a baseline that measured nothing gives no ratio rather than an infinite one", func(t *testing.T) {
		var p Pairs
		p.Add(5, latency(0))
		p.Add(5, 0)
		if got := p.Ratio(); !math.IsNaN(got) {
			t.Fatalf("Ratio() = %v, want NaN", got)
		}
		if got := fmtRatio(p.Ratio()); got != "-" {
			t.Fatalf("printed ratio = %q, want -", got)
		}
	})
	t.Run("a side without latencies has no median", func(t *testing.T) {
		var p Pairs
		p.Add(latency(0), 1)
		if got := fmtDurF(p.Ours()); got != "-" {
			t.Fatalf("printed median = %q, want -", got)
		}
	})
}

func TestTargets(t *testing.T) {
	tests := map[string]struct {
		met  *bool
		want string
	}{
		"a ratio under the limit meets it":   {met: atMost(1.1, 1.2), want: "met"},
		"a ratio over the limit misses it":   {met: atMost(1.3, 1.2), want: "MISSED"},
		"a throughput above the floor":       {met: atLeast(0.9, 0.85), want: "met"},
		"a throughput below the floor":       {met: atLeast(0.5, 0.85), want: "MISSED"},
		"nothing measured is not a verdict":  {met: atMost(math.NaN(), 1.2), want: "not measured"},
		"nothing measured is not met either": {met: atLeast(math.NaN(), 0.85), want: "not measured"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := verdict(Row{Target: "x", Met: tc.met}); got != tc.want {
				t.Fatalf("verdict = %q, want %q", got, tc.want)
			}
		})
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i + 1
	}
	return s
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
