package probe

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/crypto/ssh"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
)

// gitServers are the real Git servers a test probes: git http-backend over HTTPS and
// HTTP, an SSH server running git-upload-pack and git-receive-pack, and the GitHub
// token endpoint's stand-in, whose tokens the HTTP server lets in.
type gitServers struct {
	http   *localenv.GitServer
	ssh    *localenv.GitSSHServer
	app    *localenv.GitHubApp
	reader *localenv.GitHubApp // an App whose tokens may not push
}

// gitTestTag is a tag of the test servers' repository.
const gitTestTag = "v1"

func startGitServers(t *testing.T) *gitServers {
	t.Helper()
	dir := t.TempDir()
	g, err := localenv.StartGitServer(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Stop() })
	// A tag beside the branch, for the store that names a tag as its branch.
	if out, err := exec.Command("git", "-C", filepath.Join(g.Root, localenv.GitRepository), "tag", gitTestTag, localenv.GitBranch).CombinedOutput(); err != nil {
		t.Fatalf("tagging the repository: %v: %s", err, out)
	}
	s, err := localenv.StartGitSSHServer(g.Root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	app, err := localenv.StartGitHubApp(g, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.Stop() })
	reader, err := localenv.StartGitHubApp(g, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reader.Stop() })
	return &gitServers{http: g, ssh: s, app: app, reader: reader}
}

// basicTarget is a basicAuth store of the HTTPS server's repository, as user.
func (s *gitServers) basicTarget(user localenv.GitUser) GitTarget {
	return GitTarget{
		URL: s.http.URL + "/" + localenv.GitRepository, Branch: localenv.GitBranch, Path: "stores/dev",
		AuthMethod: GitAuthBasic, Credentials: &GitCredentials{Username: user.Name, Password: user.Password},
	}
}

// sshTarget is an ssh store of the SSH server's repository, with key.
func (s *gitServers) sshTarget(key []byte) GitTarget {
	return GitTarget{
		URL: s.ssh.URL, Branch: localenv.GitBranch, AuthMethod: GitAuthSSH,
		Credentials: &GitCredentials{SSHPrivateKey: key, KnownHosts: s.ssh.KnownHosts},
	}
}

// appTarget is a githubApp store of the HTTPS server's repository, with app's keys.
func (s *gitServers) appTarget(app *localenv.GitHubApp) GitTarget {
	return GitTarget{
		URL: s.http.URL + "/" + localenv.GitRepository, Branch: localenv.GitBranch, AuthMethod: GitAuthGitHubApp,
		Credentials: &GitCredentials{AppID: app.AppID, InstallationID: app.InstallationID, PrivateKey: app.PrivateKey},
	}
}

// mustGitProber is NewGitProber trusting the HTTPS server's CA, for the App at app.
func mustGitProber(t *testing.T, s *gitServers, opts GitOptions) *GitRepoProber {
	t.Helper()
	t.Setenv("SSL_CERT_FILE", s.http.CA.CertFile)
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	p, err := NewGitProber(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// withURL fills in the test servers' addresses for "{URL}", "{SSHADDR}" and "{APIHOST}" in a message.
func (s *gitServers) withURL(f *Failure) *Failure {
	if f == nil {
		return nil
	}
	r := strings.NewReplacer("{URL}", s.http.URL, "{SSHADDR}", s.ssh.Addr, "{APIHOST}", strings.TrimPrefix(s.app.URL, "http://"))
	return &Failure{Reason: f.Reason, Message: r.Replace(f.Message)}
}

func TestGitProberAgainstRealServers(t *testing.T) {
	s := startGitServers(t)
	otherKey := func() []byte {
		_, k, err := localenv.NewSSHKey()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}()
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := ssh.NewPublicKey(&rsaPriv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		target func() GitTarget
		app    string // the App the prober asks for tokens: "" for the writer's, "reader", or an API URL
		want   *Failure
	}{
		"a writer over HTTPS passes": {
			target: func() GitTarget { return s.basicTarget(localenv.GitWriter) },
		},
		"an scp-like URL with its host and port in brackets passes over SSH, as git reads it": {
			target: func() GitTarget {
				t := s.sshTarget(s.ssh.WriterKey)
				t.URL = "git@[" + s.ssh.Addr + "]:kratix.git"
				return t
			},
		},
		"a tag as the branch is reported as BranchNotFound, naming the tag": {
			target: func() GitTarget {
				t := s.basicTarget(localenv.GitWriter)
				t.Branch = gitTestTag
				return t
			},
			want: &Failure{Reason: ReasonBranchNotFound,
				Message: `"v1" is a tag in "{URL}/kratix.git", not a branch: Kratix clones it, then fails to reset to origin/v1 before every write; name a branch`},
		},
		"an empty branch passes when the repository has a default branch, which Kratix then clones": {
			target: func() GitTarget {
				t := s.basicTarget(localenv.GitWriter)
				t.Branch = ""
				return t
			},
		},
		"an empty password is reported as AuthenticationFailed: Kratix then sends no credentials": {
			target: func() GitTarget {
				t := s.basicTarget(localenv.GitWriter)
				t.Credentials.Password = ""
				return t
			},
			want: &Failure{Reason: ReasonAuthenticationFailed,
				Message: `"{URL}/kratix.git" refused the credentials (HTTP 401); check username and password in the Secret`},
		},
		"a reader over HTTPS is reported as NoPushPermission": {
			target: func() GitTarget { return s.basicTarget(localenv.GitReader) },
			want: &Failure{Reason: ReasonNoPushPermission,
				Message: `the credentials may read "{URL}/kratix.git" but not push to it (HTTP 403 to the receive-pack advertisement); give them write access`},
		},
		"a wrong password is reported as AuthenticationFailed": {
			target: func() GitTarget {
				t := s.basicTarget(localenv.GitWriter)
				t.Credentials.Password = "wrong-password-0123"
				return t
			},
			want: &Failure{Reason: ReasonAuthenticationFailed,
				Message: `"{URL}/kratix.git" refused the credentials (HTTP 401); check username and password in the Secret`},
		},
		"a missing repository is reported as RepositoryNotFound": {
			target: func() GitTarget {
				t := s.basicTarget(localenv.GitWriter)
				t.URL = s.http.URL + "/missing.git"
				return t
			},
			want: &Failure{Reason: ReasonRepositoryNotFound,
				Message: `there is no repository at "{URL}/missing.git", or the credentials may not see it (HTTP 404); create it or correct url`},
		},
		"a missing branch is reported as BranchNotFound": {
			target: func() GitTarget {
				t := s.basicTarget(localenv.GitWriter)
				t.Branch = "nope"
				return t
			},
			want: &Failure{Reason: ReasonBranchNotFound,
				Message: `branch "nope" does not exist in "{URL}/kratix.git"; push it or correct branch`},
		},
		"an empty repository is reported as BranchNotFound": {
			target: func() GitTarget {
				t := s.basicTarget(localenv.GitWriter)
				t.URL = s.http.URL + "/" + localenv.GitEmptyRepository
				return t
			},
			want: &Failure{Reason: ReasonBranchNotFound,
				Message: `repository "{URL}/empty.git" is empty: branch "main" does not exist; push it or correct branch`},
		},
		"https:// at the plain HTTP port is reported as URLSchemeMismatch": {
			target: func() GitTarget {
				t := s.basicTarget(localenv.GitWriter)
				t.URL = strings.Replace(s.http.InsecureURL, "http://", "https://", 1) + "/" + localenv.GitRepository
				return t
			},
			want: &Failure{Reason: ReasonURLSchemeMismatch,
				Message: `"` + strings.TrimPrefix(s.http.InsecureURL, "http://") + `" speaks plain HTTP, not HTTPS, and Kratix takes only https:// urls for basicAuth and githubApp; point url at the server's HTTPS port`},
		},
		"a writer's key over SSH passes": {
			target: func() GitTarget { return s.sshTarget(s.ssh.WriterKey) },
		},
		"a knownHosts line for the plain host passes on another port, as OpenSSH takes it": {
			target: func() GitTarget {
				t := s.sshTarget(s.ssh.WriterKey)
				_, key, _ := strings.Cut(strings.TrimSpace(string(s.ssh.KnownHosts)), " ")
				t.Credentials.KnownHosts = []byte("127.0.0.1 " + key + "\n")
				return t
			},
		},
		"a read-only key over SSH is reported as NoPushPermission": {
			target: func() GitTarget { return s.sshTarget(s.ssh.ReaderKey) },
			want: &Failure{Reason: ReasonNoPushPermission,
				Message: `the credentials may read "ssh://git@{SSHADDR}/kratix.git" but not push to it (the SSH server ended git-receive-pack without an advertisement); give them write access`},
		},
		"an unauthorized key over SSH is reported as AuthenticationFailed": {
			target: func() GitTarget { return s.sshTarget(otherKey) },
			want: &Failure{Reason: ReasonAuthenticationFailed,
				Message: `the SSH server at "{SSHADDR}" refused sshPrivateKey for user "git"; authorize the key for the repository, or fix sshPrivateKey`},
		},
		"a missing repository over SSH is reported as RepositoryNotFound": {
			target: func() GitTarget {
				t := s.sshTarget(s.ssh.WriterKey)
				t.URL = "ssh://git@" + s.ssh.Addr + "/missing.git"
				return t
			},
			want: &Failure{Reason: ReasonRepositoryNotFound,
				Message: `there is no repository at "ssh://git@{SSHADDR}/missing.git", or the credentials may not see it (the SSH server ended git-upload-pack without an advertisement); create it or correct url`},
		},
		"a missing branch over SSH is reported as BranchNotFound": {
			target: func() GitTarget {
				t := s.sshTarget(s.ssh.WriterKey)
				t.Branch = "nope"
				return t
			},
			want: &Failure{Reason: ReasonBranchNotFound,
				Message: `branch "nope" does not exist in "ssh://git@{SSHADDR}/kratix.git"; push it or correct branch`},
		},
		"a host missing from knownHosts is reported as HostKeyUnknown": {
			target: func() GitTarget {
				t := s.sshTarget(s.ssh.WriterKey)
				t.Credentials.KnownHosts = []byte("github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n")
				return t
			},
			want: &Failure{Reason: ReasonHostKeyUnknown,
				Message: `knownHosts has no key for "[127.0.0.1]:` + port(s.ssh.Addr) + `"; add the SSH server's host key for it, as ssh-keyscan prints it`},
		},
		"another key for the host in knownHosts is reported as HostKeyMismatch": {
			target: func() GitTarget {
				t := s.sshTarget(s.ssh.WriterKey)
				t.Credentials.KnownHosts = []byte("[127.0.0.1]:" + port(s.ssh.Addr) + " ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n")
				return t
			},
			want: &Failure{Reason: ReasonHostKeyMismatch,
				Message: `the host key of "{SSHADDR}" is not the one knownHosts holds for it; if the server's key really changed, replace its line in knownHosts`},
		},
		"a knownHosts key of another type than the server's is reported as HostKeyMismatch, as OpenSSH reports it": {
			target: func() GitTarget {
				t := s.sshTarget(s.ssh.WriterKey)
				t.Credentials.KnownHosts = []byte("[127.0.0.1]:" + port(s.ssh.Addr) + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(rsaKey))) + "\n")
				return t
			},
			want: &Failure{Reason: ReasonHostKeyMismatch,
				Message: `the host key of "{SSHADDR}" is not the one knownHosts holds for it; if the server's key really changed, replace its line in knownHosts`},
		},
		"a GitHub App whose installation may push passes": {
			target: func() GitTarget { return s.appTarget(s.app) },
		},
		"a GitHub App whose installation may only read is reported as NoPushPermission": {
			target: func() GitTarget { return s.appTarget(s.reader) },
			app:    "reader",
			want: &Failure{Reason: ReasonNoPushPermission,
				Message: `the credentials may read "{URL}/kratix.git" but not push to it (HTTP 403 to the receive-pack advertisement); give them write access`},
		},
		"another App's key is reported as GitHubAppTokenRefused": {
			target: func() GitTarget {
				t := s.appTarget(s.app)
				t.Credentials.PrivateKey = s.reader.PrivateKey
				return t
			},
			want: &Failure{Reason: ReasonGitHubAppTokenRefused,
				Message: `the GitHub API at "{APIHOST}" refused an installation token for App "123456", installation 7890 (HTTP 401); the JWT was not accepted: check appID and privateKey`},
		},
		"a GitHub API whose host does not resolve is reported as NameNotResolved, naming the API": {
			target: func() GitTarget { return s.appTarget(s.app) },
			app:    "https://github-api.invalid",
			want: &Failure{Reason: ReasonNameNotResolved,
				Message: `minting the App's installation token: host "github-api.invalid" of the GitHub API (https://github-api.invalid) could not be resolved; check the cluster's DNS, or ask the operator to set --github-api-url`},
		},
		"another installation is reported as GitHubAppTokenRefused": {
			target: func() GitTarget {
				t := s.appTarget(s.app)
				t.Credentials.InstallationID = "1"
				return t
			},
			want: &Failure{Reason: ReasonGitHubAppTokenRefused,
				Message: `the GitHub API at "{APIHOST}" refused an installation token for App "123456", installation 1 (HTTP 404); the App has no such installation: check installationID`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			api := s.app.URL
			switch {
			case tc.app == "reader":
				api = s.reader.URL
			case tc.app != "":
				api = tc.app
			}
			target := tc.target()
			reason := string(ReasonOK)
			if tc.want != nil {
				reason = string(tc.want.Reason)
			}
			before := testutil.ToFloat64(probesTotal.WithLabelValues(reason))

			err := mustGitProber(t, s, GitOptions{GitHubAPIURL: api}).Probe(context.Background(), target)

			want := s.withURL(tc.want)
			if tc.app == "reader" && want != nil {
				want.Message = strings.ReplaceAll(want.Message, strings.TrimPrefix(s.app.URL, "http://"), strings.TrimPrefix(s.reader.URL, "http://"))
			}
			checkFailure(t, err, want)
			if got := testutil.ToFloat64(probesTotal.WithLabelValues(reason)) - before; got != 1 {
				t.Errorf("probes_total{reason=%q} grew by %v, want 1", reason, got)
			}
			if c := target.Credentials; err != nil && c.Password != "" && strings.Contains(err.Error(), c.Password) {
				t.Errorf("the failure names the password: %v", err)
			}
		})
	}
}

// port is the port of a host:port.
func port(addr string) string {
	_, p, _ := strings.Cut(addr, ":")
	return p
}

func TestGitEndpointReadsURLsAsKratixDoes(t *testing.T) {
	p, err := NewGitProber(GitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		url, wantHost, wantPath string
		wantPort                int
	}{
		"an ssh:// URL takes its port":                                     {"ssh://git@git.example.com:2222/org/repo.git", "git.example.com", "/org/repo.git", 2222},
		"an scp-like URL is port 22":                                       {"git@git.example.com:org/repo.git", "git.example.com", "org/repo.git", 22},
		"an scp-like URL with digits first is a path, as OpenSSH reads it": {"git@git.example.com:2222/repo.git", "git.example.com", "2222/repo.git", 22},
		"an scp-like URL with an absolute path keeps it":                   {"git@git.example.com:/srv/repo.git", "git.example.com", "/srv/repo.git", 22},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ep, err := p.endpoint(GitTarget{URL: tc.url, AuthMethod: GitAuthSSH})
			if err != nil {
				t.Fatal(err)
			}
			if ep.Host != tc.wantHost || ep.Path != tc.wantPath || gitPort(ep) != tc.wantPort {
				t.Errorf("got host %q path %q port %d, want %q %q %d", ep.Host, ep.Path, gitPort(ep), tc.wantHost, tc.wantPath, tc.wantPort)
			}
		})
	}
}
