package probe

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeProber counts its calls, answers err, and, when gate is set, blocks every call
// until gate is closed.
type fakeProber struct {
	calls   atomic.Int32
	err     error
	gate    chan struct{}
	started chan struct{} // receives once per call, when gate is set
	// ctxErr is what the context of the last call said when the call returned.
	ctxErr atomic.Value
}

func (f *fakeProber) Probe(ctx context.Context, _ Target) error {
	f.calls.Add(1)
	if f.gate != nil {
		f.started <- struct{}{}
		<-f.gate
	}
	f.ctxErr.Store(errString(ctx.Err()))
	return f.err
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func blockingProber() *fakeProber {
	return &fakeProber{gate: make(chan struct{}), started: make(chan struct{}, 100)}
}

// fakeClock is a time source tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestCache(t *testing.T) {
	const ttl = time.Minute
	denied := &Failure{Reason: ReasonAccessDenied, Message: "denied"}

	tests := map[string]func(t *testing.T, clock *fakeClock){
		"identical probes in flight are merged into one inner call": func(t *testing.T, clock *fakeClock) {
			inner := blockingProber()
			cache := NewCache(inner, ttl, clock.Now)
			const callers = 10
			joined := make(chan struct{}, callers)
			cache.joined = func() { joined <- struct{}{} }
			misses := testutil.ToFloat64(cacheMisses)

			errs := make(chan error, callers)
			for range callers {
				go func() { errs <- cache.Probe(context.Background(), testTarget("s3:9000")) }()
			}
			<-inner.started
			for range callers {
				<-joined
			}
			close(inner.gate)

			for range callers {
				if err := <-errs; err != nil {
					t.Errorf("want success, got %v", err)
				}
			}
			if got := inner.calls.Load(); got != 1 {
				t.Errorf("inner prober called %d times, want 1", got)
			}
			if got := testutil.ToFloat64(cacheMisses) - misses; got != callers {
				t.Errorf("misses grew by %v, want %d", got, callers)
			}
		},
		"a success is answered from the cache until its ttl has passed": func(t *testing.T, clock *fakeClock) {
			inner := &fakeProber{}
			cache := NewCache(inner, ttl, clock.Now)
			hits, misses := testutil.ToFloat64(cacheHits), testutil.ToFloat64(cacheMisses)

			probeN(t, cache, testTarget("s3:9000"), 1)
			clock.Advance(ttl - time.Second)
			probeN(t, cache, testTarget("s3:9000"), 2)
			clock.Advance(time.Second)
			probeN(t, cache, testTarget("s3:9000"), 1)

			if got := inner.calls.Load(); got != 2 {
				t.Errorf("inner prober called %d times, want 2", got)
			}
			if got := testutil.ToFloat64(cacheHits) - hits; got != 2 {
				t.Errorf("hits grew by %v, want 2", got)
			}
			if got := testutil.ToFloat64(cacheMisses) - misses; got != 2 {
				t.Errorf("misses grew by %v, want 2", got)
			}
		},
		"a failure is not cached": func(t *testing.T, clock *fakeClock) {
			inner := &fakeProber{err: denied}
			cache := NewCache(inner, ttl, clock.Now)

			for range 2 {
				if err := cache.Probe(context.Background(), testTarget("s3:9000")); err != denied {
					t.Errorf("got %v, want the inner failure", err)
				}
			}
			if got := inner.calls.Load(); got != 2 {
				t.Errorf("inner prober called %d times, want 2", got)
			}
		},
		"a changed secret misses the cache": func(t *testing.T, clock *fakeClock) {
			inner := &fakeProber{}
			cache := NewCache(inner, ttl, clock.Now)
			old := testTarget("s3:9000")
			changed := testTarget("s3:9000")
			changed.Credentials = &Credentials{AccessKeyID: old.Credentials.AccessKeyID, SecretAccessKey: "another-secret"}

			probeN(t, cache, old, 1)
			probeN(t, cache, changed, 1)
			probeN(t, cache, old, 1)

			if got := inner.calls.Load(); got != 2 {
				t.Errorf("inner prober called %d times, want 2", got)
			}
		},
		"every field of the target is part of the key": func(t *testing.T, clock *fakeClock) {
			cache := NewCache(&fakeProber{}, ttl, clock.Now)
			base := testTarget("s3:9000")
			variants := []func(*Target){
				func(t *Target) { t.Endpoint = "s3:9001" },
				func(t *Target) { t.Bucket = "other" },
				func(t *Target) { t.Path = "other" },
				func(t *Target) { t.Insecure = !t.Insecure },
				func(t *Target) { t.UseDualStack = !t.UseDualStack },
				func(t *Target) { t.AuthMethod = "IAM" },
				func(t *Target) { t.Credentials = nil },
				func(t *Target) { t.Credentials = &Credentials{AccessKeyID: "other", SecretAccessKey: testSecret} },
				// The same bytes split differently between fields.
				func(t *Target) { t.Endpoint, t.Bucket = "s3:9000k", "ratix" },
			}
			seen := map[cacheKey]int{cache.key(base): -1}
			for i, vary := range variants {
				target := base
				vary(&target)
				k := cache.key(target)
				if j, dup := seen[k]; dup {
					t.Errorf("variant %d has the key of %d", i, j)
				}
				seen[k] = i
			}
		},
		"a caller that goes away does not fail the others": func(t *testing.T, clock *fakeClock) {
			inner := blockingProber()
			cache := NewCache(inner, ttl, clock.Now)
			joined := make(chan struct{}, 2)
			cache.joined = func() { joined <- struct{}{} }
			first, cancel := context.WithCancel(context.Background())
			firstErr := make(chan error, 1)
			go func() { firstErr <- cache.Probe(first, testTarget("s3:9000")) }()
			<-inner.started
			secondErr := make(chan error, 1)
			go func() { secondErr <- cache.Probe(context.Background(), testTarget("s3:9000")) }()
			<-joined
			<-joined

			cancel()
			select {
			case err := <-firstErr:
				checkFailure(t, err, &Failure{Reason: ReasonCanceled, Message: "the probe was cancelled before it finished"})
			case <-time.After(2 * time.Second):
				t.Fatal("the cancelled caller is still waiting")
			}
			close(inner.gate)

			if err := <-secondErr; err != nil {
				t.Errorf("the other caller got %v, want success", err)
			}
			if got := inner.ctxErr.Load(); got != "" {
				t.Errorf("the inner probe's context ended with %q, want it alive", got)
			}
			if got := inner.calls.Load(); got != 1 {
				t.Errorf("inner prober called %d times, want 1", got)
			}
		},
		"a ttl of zero caches nothing": func(t *testing.T, clock *fakeClock) {
			inner := &fakeProber{}
			cache := NewCache(inner, 0, clock.Now)

			probeN(t, cache, testTarget("s3:9000"), 2)

			if got := inner.calls.Load(); got != 2 {
				t.Errorf("inner prober called %d times, want 2", got)
			}
		},
		"expired successes are forgotten": func(t *testing.T, clock *fakeClock) {
			cache := NewCache(&fakeProber{}, ttl, clock.Now)
			for _, endpoint := range []string{"a:1", "b:1", "c:1"} {
				probeN(t, cache, testTarget(endpoint), 1)
			}
			clock.Advance(ttl + time.Nanosecond)
			probeN(t, cache, testTarget("d:1"), 1)

			if got := len(cache.successes.Keys()); got != 1 {
				t.Errorf("the cache holds %d unexpired entries, want 1", got)
			}
		},
		"a full cache forgets the least recently used success": func(t *testing.T, clock *fakeClock) {
			inner := &fakeProber{}
			cache := NewCache(inner, ttl, clock.Now)
			for i := range maxCacheEntries + 1 {
				probeN(t, cache, testTarget(fmt.Sprintf("s3-%d:9000", i)), 1)
			}
			probeN(t, cache, testTarget("s3-1:9000"), 1) // still cached
			probeN(t, cache, testTarget("s3-0:9000"), 1) // evicted: probed again

			if got, want := inner.calls.Load(), int32(maxCacheEntries+2); got != want {
				t.Errorf("inner prober called %d times, want %d", got, want)
			}
		},
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) {
			test(t, &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
		})
	}
}

func probeN(t *testing.T, p Prober, target Target, n int) {
	t.Helper()
	for range n {
		if err := p.Probe(context.Background(), target); err != nil {
			t.Fatalf("want success, got %v", err)
		}
	}
}
