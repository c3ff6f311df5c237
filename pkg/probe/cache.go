package probe

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	utilcache "k8s.io/apimachinery/pkg/util/cache"
)

// maxCacheEntries bounds the cache. Only successes are stored, each needs a real bucket
// and valid credentials, so the bound is a backstop: when full, the least recently used
// success is forgotten.
const maxCacheEntries = 10000

// cacheKey identifies a probe without holding any of its credentials.
type cacheKey [sha256.Size]byte

// Cache is a Prober that merges identical probes in flight into one call of the inner
// prober and remembers successes for a while, so a burst of admissions of one store, or
// a store applied again, does not probe S3 each time. Failures are never remembered: a
// fixed bucket or Secret is seen at once.
//
// Probes are identical when every field of the Target is, credentials included. The key
// is an HMAC under a key that exists only in this process, so neither the cache nor the
// singleflight group ever holds a secret, and a changed Secret never finds the success
// of the old one.
type Cache struct{ memo[Target] }

var _ Prober = &Cache{}

// NewCache returns a Cache in front of inner that remembers successes for ttl, reading
// the time from now (time.Now when nil). A ttl of zero remembers nothing but still
// merges probes in flight.
func NewCache(inner Prober, ttl time.Duration, now func() time.Time) *Cache {
	c := &Cache{}
	c.init(inner.Probe, targetKey, ttl, now)
	return c
}

// Probe answers from the cache or joins, or starts, the probe of t. The inner probe runs
// detached from ctx, so a caller that goes away does not fail the others waiting for
// it; each caller stops waiting when its own ctx ends.
func (c *Cache) Probe(ctx context.Context, t Target) error { return c.probe(ctx, t) }

// targetKey writes every field of t.
func targetKey(h *keyHasher, t Target) {
	h.str(t.Endpoint)
	h.str(t.Bucket)
	h.str(t.Path)
	h.flag(t.Insecure)
	h.flag(t.UseDualStack)
	h.flag(t.Credentials != nil)
	h.str(t.AuthMethod)
	if t.Credentials != nil {
		h.str(t.Credentials.AccessKeyID)
		h.str(t.Credentials.SecretAccessKey)
	}
}

// memo is the cache of one kind of probe target T: the merging of identical probes in
// flight and the successes, keyed by an HMAC of what keyOf writes of a target.
type memo[T any] struct {
	inner func(context.Context, T) error
	keyOf func(*keyHasher, T)
	ttl   time.Duration
	now   func() time.Time

	macs  sync.Pool // of *keyHasher
	group singleflight.Group

	// successes is apimachinery's LRU cache with expiry, as the access reviews use; each
	// value is the success's expiry, so that a success ends exactly ttl after it was
	// stored (the LRU cache itself keeps an entry up to and including that instant).
	successes *utilcache.LRUExpireCache

	// joined, when set, is called each time a caller has joined or started a probe in
	// flight: tests wait for it instead of guessing how long joining takes.
	joined func()
}

// keyHasher is an HMAC with a scratch buffer, pooled so a cache hit does not allocate.
type keyHasher struct {
	mac hash.Hash
	buf []byte
	sum []byte
}

// str writes s, prefixed with its length so that no two targets share an encoding.
func (h *keyHasher) str(s string) {
	h.buf = binary.BigEndian.AppendUint32(h.buf, uint32(len(s)))
	h.buf = append(h.buf, s...)
}

// bytes writes b as str writes a string.
func (h *keyHasher) bytes(b []byte) {
	h.buf = binary.BigEndian.AppendUint32(h.buf, uint32(len(b)))
	h.buf = append(h.buf, b...)
}

func (h *keyHasher) flag(v bool) { h.buf = append(h.buf, boolByte(v)) }

func (c *memo[T]) init(inner func(context.Context, T) error, keyOf func(*keyHasher, T), ttl time.Duration, now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	secret := make([]byte, 32)
	// crypto/rand.Read never returns an error; it crashes the program if it cannot read.
	_, _ = rand.Read(secret)
	c.inner, c.keyOf, c.ttl, c.now = inner, keyOf, ttl, now
	c.successes = utilcache.NewLRUExpireCacheWithClock(maxCacheEntries, clockFunc(now))
	c.macs.New = func() any { return &keyHasher{mac: hmac.New(sha256.New, secret)} }
}

func (c *memo[T]) probe(ctx context.Context, t T) error {
	k := c.key(t)
	if c.lookup(k) {
		cacheHits.Inc()
		markCacheHit(ctx)
		return nil
	}
	cacheMisses.Inc()
	return c.join(ctx, t, k)
}

// join waits for the probe of t in flight, or starts it. It is apart from probe so that
// a hit does not pay for the closure's copy of k.
func (c *memo[T]) join(ctx context.Context, t T, k cacheKey) error {
	ch := c.group.DoChan(string(k[:]), func() (any, error) {
		err := c.inner(context.WithoutCancel(ctx), t)
		if err == nil {
			c.store(k)
		}
		return nil, err
	})
	if c.joined != nil {
		c.joined()
	}
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return contextFailure(ctx, 0)
	}
}

// key is the HMAC of what keyOf writes of t.
func (c *memo[T]) key(t T) cacheKey {
	h := c.macs.Get().(*keyHasher)
	defer c.macs.Put(h)
	h.buf = h.buf[:0]
	c.keyOf(h, t)
	h.mac.Reset()
	h.mac.Write(h.buf)
	h.sum = h.mac.Sum(h.sum[:0])
	var k cacheKey
	copy(k[:], h.sum)
	clear(h.buf) // the scratch buffer held the secret
	return k
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// lookup reports whether k is a success that has not expired.
func (c *memo[T]) lookup(k cacheKey) bool {
	if c.ttl <= 0 {
		return false
	}
	expiry, ok := c.successes.Get(k)
	return ok && c.now().Before(expiry.(time.Time))
}

// store remembers a success for ttl.
func (c *memo[T]) store(k cacheKey) {
	if c.ttl > 0 {
		c.successes.Add(k, c.now().Add(c.ttl), c.ttl)
	}
}

// clockFunc adapts a time source to the cache's clock.
type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }
