package probe

import (
	"context"
	"time"
)

// GitCache is Cache for Git stores: a GitProber that merges identical probes in flight
// and remembers successes for a while, keyed by an HMAC of every field of the GitTarget,
// credentials included, so that it never holds a secret and a changed Secret is probed
// again.
type GitCache struct{ memo[GitTarget] }

var _ GitProber = &GitCache{}

// NewGitCache returns a GitCache in front of inner, as NewCache does for buckets.
func NewGitCache(inner GitProber, ttl time.Duration, now func() time.Time) *GitCache {
	c := &GitCache{}
	c.init(inner.Probe, gitTargetKey, ttl, now)
	return c
}

// Probe answers from the cache or joins, or starts, the probe of t, as Cache.Probe does.
func (c *GitCache) Probe(ctx context.Context, t GitTarget) error { return c.probe(ctx, t) }

// gitTargetKey writes every field of t.
func gitTargetKey(h *keyHasher, t GitTarget) {
	h.str(t.URL)
	h.str(t.Branch)
	h.str(t.Path)
	h.flag(t.Insecure)
	h.str(t.AuthMethod)
	h.flag(t.Credentials != nil)
	if c := t.Credentials; c != nil {
		h.str(c.Username)
		h.str(c.Password)
		h.bytes(c.SSHPrivateKey)
		h.bytes(c.KnownHosts)
		h.str(c.AppID)
		h.str(c.InstallationID)
		h.bytes(c.PrivateKey)
	}
}
