package probe

import (
	"context"
	"testing"
	"time"
)

// BenchmarkCacheHit measures a probe answered from the cache: the keyed hash of the
// target, the map lookup and the hit counter. Run with -benchmem: a hit should not
// allocate.
func BenchmarkCacheHit(b *testing.B) {
	cache := NewCache(&fakeProber{}, time.Hour, nil)
	target := testTarget("s3.eu-west-1.amazonaws.com")
	ctx := context.Background()
	if err := cache.Probe(ctx, target); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := cache.Probe(ctx, target); err != nil {
			b.Fatal(err)
		}
	}
}
