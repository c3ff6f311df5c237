package admission

import (
	"context"
	"encoding/binary"
	"maps"
	"slices"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	utilcache "k8s.io/apimachinery/pkg/util/cache"
)

// CachedAccess merges identical reviews and remembers an AccessReviewer's "allowed"
// answers for TTL, as the API server's own webhook authorizer does with its
// authorized-TTL: a burst of stores applied by one user costs a review or two instead of
// one each. Reviews are merged only into a review not yet sent (freshReads), and denials
// are not remembered, so a user who has just been granted access is admitted at once; a
// revoked grant takes effect after at most TTL.
type CachedAccess struct {
	reviewer AccessReviewer
	ttl      time.Duration
	allowed  *utilcache.LRUExpireCache
	// reviews merges identical reviews asked at the same moment.
	reviews freshReads[bool]
}

// AccessReviewTTL is how long the webhook remembers that a SubjectAccessReview allowed a
// user to get a Secret (denials are not remembered): a revoked grant stops working within
// it.
const AccessReviewTTL = 10 * time.Second

// accessCacheSize bounds the remembered answers: one per user and Secret.
const accessCacheSize = 4096

// NewCachedAccess wraps reviewer. A TTL of 0 or less remembers nothing.
func NewCachedAccess(reviewer AccessReviewer, ttl time.Duration) *CachedAccess {
	return &CachedAccess{reviewer: reviewer, ttl: ttl, allowed: utilcache.NewLRUExpireCache(accessCacheSize)}
}

// CanGetSecret implements AccessReviewer.
func (c *CachedAccess) CanGetSecret(ctx context.Context, user authenticationv1.UserInfo, namespace, name string) (bool, error) {
	key := accessKey(user, namespace, name)
	if _, ok := c.allowed.Get(key); ok {
		return true, nil
	}
	return c.reviews.do(ctx, key, func(ctx context.Context) (bool, error) {
		// ctx is not cancelled with the first caller, whose answer the others share.
		ok, err := c.reviewer.CanGetSecret(ctx, user, namespace, name)
		if err == nil && ok && c.ttl > 0 {
			c.allowed.Add(key, struct{}{}, c.ttl)
		}
		return ok, err
	})
}

// accessKey encodes everything a review depends on, each part prefixed with its length
// so that no two questions share a key.
func accessKey(user authenticationv1.UserInfo, namespace, name string) string {
	var b []byte
	field := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	field(user.Username)
	field(user.UID)
	b = binary.AppendUvarint(b, uint64(len(user.Groups)))
	for _, g := range user.Groups {
		field(g)
	}
	b = binary.AppendUvarint(b, uint64(len(user.Extra)))
	for _, k := range slices.Sorted(maps.Keys(user.Extra)) {
		field(k)
		b = binary.AppendUvarint(b, uint64(len(user.Extra[k])))
		for _, v := range user.Extra[k] {
			field(v)
		}
	}
	field(namespace)
	field(name)
	return string(b)
}
