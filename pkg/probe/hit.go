package probe

import (
	"context"
	"sync/atomic"
)

// cacheReportKey is the context key of a CacheReport.
type cacheReportKey struct{}

// CacheReport tells a caller whether a Cache answered its probe from memory, for the
// audit annotations; the answer itself is the same either way.
type CacheReport struct{ hit atomic.Bool }

// WithCacheReport returns a context that a Cache marks when it answers a probe from
// memory, and the report it marks.
func WithCacheReport(ctx context.Context) (context.Context, *CacheReport) {
	r := &CacheReport{}
	return context.WithValue(ctx, cacheReportKey{}, r), r
}

// Hit reports whether a Cache answered a probe made with the report's context from
// memory. A nil report reports false.
func (r *CacheReport) Hit() bool { return r != nil && r.hit.Load() }

// markCacheHit marks ctx's report, if it has one.
func markCacheHit(ctx context.Context) {
	if r, ok := ctx.Value(cacheReportKey{}).(*CacheReport); ok {
		r.hit.Store(true)
	}
}
