package probe

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
)

func TestGitCacheKeysEveryFieldAndKeepsOnlySuccesses(t *testing.T) {
	base := GitTarget{URL: "https://git.example.com/kratix.git", Branch: "main", Path: "dev", AuthMethod: GitAuthBasic,
		Credentials: &GitCredentials{Username: "writer", Password: "password-0123"}}
	changes := map[string]func(*GitTarget){
		"another url":             func(t *GitTarget) { t.URL += "x" },
		"another branch":          func(t *GitTarget) { t.Branch = "dev" },
		"another path":            func(t *GitTarget) { t.Path = "prod" },
		"insecure":                func(t *GitTarget) { t.Insecure = true },
		"another auth method":     func(t *GitTarget) { t.AuthMethod = GitAuthSSH },
		"no credentials":          func(t *GitTarget) { t.Credentials = nil },
		"another username":        func(t *GitTarget) { t.Credentials.Username = "reader" },
		"another password":        func(t *GitTarget) { t.Credentials.Password = "password-0124" },
		"another SSH key":         func(t *GitTarget) { t.Credentials.SSHPrivateKey = []byte("k") },
		"other known hosts":       func(t *GitTarget) { t.Credentials.KnownHosts = []byte("h") },
		"another App ID":          func(t *GitTarget) { t.Credentials.AppID = "1" },
		"another installation ID": func(t *GitTarget) { t.Credentials.InstallationID = "1" },
		"another App key":         func(t *GitTarget) { t.Credentials.PrivateKey = []byte("k") },
	}
	for name, change := range changes {
		t.Run(name+" is probed again", func(t *testing.T) {
			var calls atomic.Int32
			cache := NewGitCache(GitProberFunc(func(context.Context, GitTarget) error { calls.Add(1); return nil }), time.Minute, nil)
			changed := base
			creds := *base.Credentials
			changed.Credentials = &creds
			change(&changed)

			for _, target := range []GitTarget{base, base, changed, changed} {
				if err := cache.Probe(context.Background(), target); err != nil {
					t.Fatal(err)
				}
			}
			if got := calls.Load(); got != 2 {
				t.Errorf("the inner prober ran %d times, want 2: once for each target", got)
			}
		})
	}
	t.Run("a failure is not remembered", func(t *testing.T) {
		var calls atomic.Int32
		cache := NewGitCache(GitProberFunc(func(context.Context, GitTarget) error {
			calls.Add(1)
			return &Failure{Reason: ReasonBranchNotFound}
		}), time.Minute, nil)
		for range 2 {
			if ReasonOf(cache.Probe(context.Background(), base)) != ReasonBranchNotFound {
				t.Fatal("want the failure")
			}
		}
		if got := calls.Load(); got != 2 {
			t.Errorf("the inner prober ran %d times, want 2", got)
		}
	})
}

func TestGitCacheMergesIdenticalProbesInFlight(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	cache := NewGitCache(GitProberFunc(func(context.Context, GitTarget) error {
		calls.Add(1)
		<-release
		return nil
	}), 0, nil)
	const callers = 8
	joined := make(chan struct{}, callers)
	cache.joined = func() { joined <- struct{}{} }
	done := make(chan error, callers)
	target := GitTarget{URL: "https://git.example.com/kratix.git", Branch: "main"}
	for range callers {
		go func() { done <- cache.Probe(context.Background(), target) }()
	}
	for range callers {
		<-joined
	}
	close(release)
	for range callers {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("%d identical probes in flight ran the inner prober %d times, want 1", callers, got)
	}
}

func TestGitProberWaitsForItsEndpointsShareOfTheSlots(t *testing.T) {
	s := startGitServers(t)
	p := mustGitProber(t, s, GitOptions{MaxConcurrent: 1, Timeout: 300 * time.Millisecond})
	target := s.basicTarget(localenv.GitWriter)
	ep, err := p.endpoint(target)
	if err != nil {
		t.Fatal(err)
	}
	// Another probe of the same endpoint holds its only slot.
	release, err := p.slots.acquire(context.Background(), time.Second, gitLimitKey(ep))
	if err != nil {
		t.Fatal(err)
	}
	defer release()

	err = p.Probe(context.Background(), target)

	checkFailure(t, err, &Failure{Reason: ReasonBusy, Message: `the webhook is busy: it runs at most 1 probes at once against one endpoint, "` +
		gitHostPort(ep) + `" has that many running, and no slot came free within the budget of 300ms; apply the store again in a moment`})
}
