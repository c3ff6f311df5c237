package admission

import (
	"context"
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
