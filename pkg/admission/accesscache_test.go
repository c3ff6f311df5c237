package admission

import (
	"context"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
)

// countingAccess answers from allowed and counts the questions.
type countingAccess struct {
	allowed map[string]bool
	asked   int
}

func (c *countingAccess) CanGetSecret(_ context.Context, user authenticationv1.UserInfo, namespace, name string) (bool, error) {
	c.asked++
	return c.allowed[user.Username+":"+namespace+"/"+name], nil
}

func TestCachedAccess(t *testing.T) {
	alice := authenticationv1.UserInfo{Username: "alice", Groups: []string{"platform"}}
	ask := func(c *CachedAccess, user authenticationv1.UserInfo, name string) bool {
		t.Helper()
		ok, err := c.CanGetSecret(context.Background(), user, "default", name)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	t.Run("an allowed answer is remembered for the same user and Secret", func(t *testing.T) {
		inner := &countingAccess{allowed: map[string]bool{"alice:default/creds": true}}
		c := NewCachedAccess(inner, time.Minute)
		for range 3 {
			if !ask(c, alice, "creds") {
				t.Fatal("allowed = false, want true")
			}
		}
		if inner.asked != 1 {
			t.Errorf("the reviewer was asked %d times, want 1", inner.asked)
		}
	})

	t.Run("a denial is asked again every time", func(t *testing.T) {
		inner := &countingAccess{}
		c := NewCachedAccess(inner, time.Minute)
		ask(c, alice, "creds")
		inner.allowed = map[string]bool{"alice:default/creds": true}
		if !ask(c, alice, "creds") {
			t.Error("a user granted access after a denial is still denied")
		}
	})

	t.Run("another Secret, group or extra value is another question", func(t *testing.T) {
		inner := &countingAccess{allowed: map[string]bool{"alice:default/creds": true, "alice:default/other": true}}
		c := NewCachedAccess(inner, time.Minute)
		ask(c, alice, "creds")
		ask(c, alice, "other")
		ask(c, authenticationv1.UserInfo{Username: "alice", Groups: []string{"admins"}}, "creds")
		ask(c, authenticationv1.UserInfo{Username: "alice", Groups: []string{"platform"}, Extra: map[string]authenticationv1.ExtraValue{"scopes": {"a"}}}, "creds")
		if inner.asked != 4 {
			t.Errorf("the reviewer was asked %d times, want 4", inner.asked)
		}
	})

	t.Run("a TTL of zero remembers nothing", func(t *testing.T) {
		inner := &countingAccess{allowed: map[string]bool{"alice:default/creds": true}}
		c := NewCachedAccess(inner, 0)
		ask(c, alice, "creds")
		ask(c, alice, "creds")
		if inner.asked != 2 {
			t.Errorf("the reviewer was asked %d times, want 2", inner.asked)
		}
	})
}

// heldAccess answers from allowed as it stands when a review is served, then waits for
// release before answering, so that a test can grant access while a review is in flight.
type heldAccess struct {
	mu      sync.Mutex
	allowed bool
	served  chan struct{}
	release chan struct{}
}

func (h *heldAccess) CanGetSecret(context.Context, authenticationv1.UserInfo, string, string) (bool, error) {
	h.mu.Lock()
	ok := h.allowed
	h.mu.Unlock()
	h.served <- struct{}{}
	<-h.release
	return ok, nil
}

func TestCachedAccessAfterAGrant(t *testing.T) {
	t.Run("a review asked after access was granted sees the grant, even while an older review is in flight", func(t *testing.T) {
		inner := &heldAccess{served: make(chan struct{}, 10), release: make(chan struct{})}
		c := NewCachedAccess(inner, time.Minute)
		alice := authenticationv1.UserInfo{Username: "alice"}
		ask := func() <-chan bool {
			got := make(chan bool, 1)
			go func() {
				ok, err := c.CanGetSecret(context.Background(), alice, "default", "creds")
				if err != nil {
					t.Error(err)
				}
				got <- ok
			}()
			return got
		}
		first := ask()
		<-inner.served // the first review has its answer, a denial, on its way back
		inner.mu.Lock()
		inner.allowed = true
		inner.mu.Unlock()
		second := ask()
		// Give the second review time to join the first, which it must not do.
		time.Sleep(50 * time.Millisecond)
		close(inner.release)
		if <-first {
			t.Error("the review asked before the grant allowed alice")
		}
		if !<-second {
			t.Error("a review asked after alice was granted access denied her")
		}
	})
}
