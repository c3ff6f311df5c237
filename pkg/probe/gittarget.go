package probe

import (
	"context"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
)

// GitProber checks that Kratix could use a Git repository: Probe returns nil when the
// branch exists and the credentials may read and push to it, a *Failure when they may
// not, and a *NotProbed when it could not find out for a reason that is not the store's.
// It writes nothing.
type GitProber interface {
	Probe(ctx context.Context, t GitTarget) error
}

// GitProberFunc adapts a function to a GitProber.
type GitProberFunc func(ctx context.Context, t GitTarget) error

// Probe calls f.
func (f GitProberFunc) Probe(ctx context.Context, t GitTarget) error { return f(ctx, t) }

// Git auth methods, as a GitStateStore's spec.authMethod spells them (the API's own
// constants, under the probe's names).
const (
	GitAuthBasic     = v1alpha1.GitAuthMethodBasicAuth
	GitAuthSSH       = v1alpha1.GitAuthMethodSSH
	GitAuthGitHubApp = v1alpha1.GitAuthMethodGitHubApp
)

// GitTarget is what a GitStateStore asks Kratix to write to, with its credentials resolved.
type GitTarget struct {
	// URL is the repository as the store names it: https://, http://, ssh:// or the
	// scp-like user@host:path.
	URL string
	// Branch is the branch Kratix clones and pushes.
	Branch string
	// Path is where in the repository Kratix writes.
	Path string
	// Insecure skips TLS verification, as Kratix's spec.insecure does.
	Insecure bool
	// AuthMethod is GitAuthBasic, GitAuthSSH or GitAuthGitHubApp.
	AuthMethod string
	// Credentials are the Secret's keys for AuthMethod; nil when the store names none.
	Credentials *GitCredentials
}

// GitCredentials are the Secret's values for one auth method; the others are empty.
type GitCredentials struct {
	// basicAuth
	Username string
	Password string
	// ssh
	SSHPrivateKey []byte
	KnownHosts    []byte
	// githubApp
	AppID          string
	InstallationID string
	PrivateKey     []byte
}

// String keeps credentials out of logs and error messages printed with %v.
func (GitCredentials) String() string { return "<redacted>" }

// GoString keeps credentials out of %#v.
func (GitCredentials) GoString() string { return "<redacted>" }
