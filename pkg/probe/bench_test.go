package probe

import (
	"context"
	"fmt"
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

// BenchmarkCacheHitParallel is BenchmarkCacheHit with every CPU asking at once, as
// concurrent admissions of one store do: it shows what the cache's lock and the shared
// hit counter cost under contention.
func BenchmarkCacheHitParallel(b *testing.B) {
	cache := NewCache(&fakeProber{}, time.Hour, nil)
	target := testTarget("s3.eu-west-1.amazonaws.com")
	ctx := context.Background()
	if err := cache.Probe(ctx, target); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := cache.Probe(ctx, target); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCacheHitFull is a hit in a cache holding maxCacheEntries successes, the most
// it ever holds.
func BenchmarkCacheHitFull(b *testing.B) {
	cache := NewCache(&fakeProber{}, time.Hour, nil)
	ctx := context.Background()
	for i := range maxCacheEntries {
		if err := cache.Probe(ctx, testTarget(fmt.Sprintf("s3-%d.example.com", i))); err != nil {
			b.Fatal(err)
		}
	}
	target := testTarget("s3-42.example.com")
	b.ReportAllocs()
	for b.Loop() {
		if err := cache.Probe(ctx, target); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCacheKey is the keyed hash of a target alone, which every probe pays before
// the lookup.
func BenchmarkCacheKey(b *testing.B) {
	cache := NewCache(&fakeProber{}, time.Hour, nil)
	target := testTarget("s3.eu-west-1.amazonaws.com")
	b.ReportAllocs()
	for b.Loop() {
		_ = cache.key(target)
	}
}
