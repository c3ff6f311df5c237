package main

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// maxKeptErrors bounds the error messages a Run keeps for the report.
const maxKeptErrors = 3

// Run is what one side measured in one repetition of one figure. It is safe for
// concurrent use while it records.
type Run struct {
	// Side names what was measured, for messages: "webhook", "bare".
	Side string

	mu        sync.Mutex
	ok        int
	errs      int
	wrong     int
	latencies []time.Duration
	messages  []string
	elapsed   time.Duration
}

// NewRun returns an empty Run for side.
func NewRun(side string) *Run { return &Run{Side: side} }

// Record adds one request: a latency when err is nil, an error otherwise. Errors that
// wrap testkit.ErrWrongVerdict count as wrong verdicts.
func (r *Run) Record(d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err == nil:
		r.ok++
		r.latencies = append(r.latencies, d)
		return
	case errors.Is(err, testkit.ErrWrongVerdict):
		r.wrong++
	default:
		r.errs++
	}
	if len(r.messages) < maxKeptErrors {
		r.messages = append(r.messages, err.Error())
	}
}

// SetElapsed is the length of the window the requests were started in, for throughput.
func (r *Run) SetElapsed(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.elapsed = d
}

// OK is the number of requests answered as expected.
func (r *Run) OK() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ok
}

// Percentile returns the p-th percentile (0 < p <= 100, nearest rank; 0 is the fastest)
// of the latencies of the requests answered as expected, or 0 when there are none.
func (r *Run) Percentile(p float64) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return percentile(r.latencies, p)
}

// Throughput is requests answered as expected per second of the window.
func (r *Run) Throughput() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

// Check fails when the run cannot be trusted: any request failed or got the wrong
// verdict, or nothing was answered at all.
func (r *Run) Check() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.errs > 0 || r.wrong > 0:
		return fmt.Errorf("%s: %d of %d requests failed and %d got the wrong verdict; first: %q",
			r.Side, r.errs, r.ok+r.errs+r.wrong, r.wrong, r.messages)
	case r.ok == 0:
		return fmt.Errorf("%s: no request was answered, nothing was measured", r.Side)
	}
	return nil
}

// percentile is the nearest-rank percentile of ds, which it does not modify.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// median of the values of xs that are not NaN; NaN when there are none.
func median(xs []float64) float64 {
	s := slices.DeleteFunc(slices.Clone(xs), math.IsNaN)
	if len(s) == 0 {
		return math.NaN()
	}
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ratio is ours/base, NaN when base is not positive: a baseline that measured nothing
// gives no ratio rather than an infinite one.
func ratio(ours, base float64) float64 {
	if base <= 0 || math.IsNaN(base) || math.IsNaN(ours) {
		return math.NaN()
	}
	return ours / base
}

// latency is d as a value for Pairs: NaN when there is none (a run that answered
// nothing has no percentiles), so that it gives no ratio instead of a ratio of 0.
func latency(d time.Duration) float64 {
	if d <= 0 {
		return math.NaN()
	}
	return float64(d)
}

// Pairs collects what two sides measured repetition by repetition, so ratios are taken
// pair by pair and then their median, which cancels drift in a noisy machine's speed.
type Pairs struct {
	ours, base []float64
}

// Add records one repetition's value for each side.
func (p *Pairs) Add(ours, base float64) {
	p.ours = append(p.ours, ours)
	p.base = append(p.base, base)
}

// Ours and Base are the medians of each side's values.
func (p *Pairs) Ours() float64 { return median(p.ours) }
func (p *Pairs) Base() float64 { return median(p.base) }

// Ratio is the median of the pair-by-pair ratios, NaN when no pair has one.
func (p *Pairs) Ratio() float64 {
	var rs []float64
	for i := range p.ours {
		if r := ratio(p.ours[i], p.base[i]); !math.IsNaN(r) {
			rs = append(rs, r)
		}
	}
	return median(rs)
}

// Len is the number of pairs.
func (p *Pairs) Len() int { return len(p.ours) }
