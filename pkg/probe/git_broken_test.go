package probe

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
)

// writerAt is a basicAuth store at url with the writer's credentials, insecure: true so
// that a test server's own certificate is taken.
func writerAt(url string) GitTarget {
	return GitTarget{URL: url, Branch: localenv.GitBranch, AuthMethod: GitAuthBasic, Insecure: true,
		Credentials: &GitCredentials{Username: localenv.GitWriter.Name, Password: localenv.GitWriter.Password}}
}

// writerServedBy serves h over HTTPS and returns writerAt its kratix.git, and its address.
func writerServedBy(t *testing.T, h http.HandlerFunc) (GitTarget, string) {
	t.Helper()
	addr := startTLSHandler(t, h).Listener.Addr().String()
	return writerAt("https://" + addr + "/kratix.git"), addr
}

// s3Error answers every request as an S3 API refuses one: status, and an XML error with
// code and a message the probe must not repeat.
func s3Error(status int, code string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message>secret-banner</Message></Error>`))
	}
}

func TestGitProberAgainstBrokenEndpoints(t *testing.T) {
	s := startGitServers(t)
	tlsHostPort := strings.TrimPrefix(s.http.URL, "https://")
	tests := map[string]struct {
		// target returns the store to probe and the message's ADDR.
		target func(t *testing.T) (GitTarget, string)
		// untrusted leaves the HTTPS server's CA out of the prober's trust.
		untrusted bool
		want      *Failure
	}{
		"a closed port over HTTPS is reported as ConnectionRefused": {
			target: func(t *testing.T) (GitTarget, string) {
				addr := closedPort(t)
				return writerAt("https://" + addr + "/kratix.git"), addr
			},
			want: &Failure{Reason: ReasonConnectionRefused,
				Message: `"{ADDR}" refused the connection; check the host and port in url and that the Git server is running`},
		},
		"a closed port over SSH is reported as ConnectionRefused": {
			target: func(t *testing.T) (GitTarget, string) {
				addr := closedPort(t)
				target := s.sshTarget(s.ssh.WriterKey)
				target.URL = "ssh://git@" + addr + "/kratix.git"
				return target, addr
			},
			want: &Failure{Reason: ReasonConnectionRefused,
				Message: `"{ADDR}" refused the connection; check the host and port in url and that the Git server is running`},
		},
		"a certificate the webhook does not trust is reported as TLSCertificateUntrusted": {
			target: func(t *testing.T) (GitTarget, string) {
				return s.basicTarget(localenv.GitWriter), tlsHostPort
			},
			untrusted: true,
			want: &Failure{Reason: ReasonTLSUntrusted,
				Message: `the certificate of "{ADDR}" is not trusted (it is signed by an unknown authority); add its CA to the webhook's trust bundle (SSL_CERT_FILE) or fix the certificate, ` +
					`or set insecure: true to skip verification as Kratix does`},
		},
		"insecure: true skips the verification of a certificate the webhook does not trust, as Kratix does": {
			target: func(t *testing.T) (GitTarget, string) {
				target := s.basicTarget(localenv.GitWriter)
				target.Insecure = true
				return target, ""
			},
			untrusted: true,
		},
		"a web server that is not Git is reported as NotGitServer without its page": {
			target: func(t *testing.T) (GitTarget, string) {
				return writerServedBy(t, func(w http.ResponseWriter, _ *http.Request) {
					w.Header().Set("Content-Type", "text/html")
					_, _ = w.Write([]byte("<html>secret-banner</html>"))
				})
			},
			want: &Failure{Reason: ReasonNotGit,
				Message: `"{ADDR}" did not answer as a Git server; check that url is the repository's smart HTTP or SSH URL`},
		},
		"an S3 API's XML error is reported as NotGitServer, not as Unknown by its status": {
			target: func(t *testing.T) (GitTarget, string) {
				return writerServedBy(t, s3Error(http.StatusBadRequest, "InvalidRequest")) // MinIO's answer to basic auth
			},
			want: &Failure{Reason: ReasonNotGit,
				Message: `"{ADDR}" did not answer as a Git server; check that url is the repository's smart HTTP or SSH URL`},
		},
		"an S3 API's XML error to a request without credentials is reported as NotGitServer, not AuthenticationFailed": {
			target: func(t *testing.T) (GitTarget, string) {
				target, addr := writerServedBy(t, s3Error(http.StatusForbidden, "AccessDenied"))
				target.Credentials.Password = "" // Kratix sends no credentials then
				return target, addr
			},
			want: &Failure{Reason: ReasonNotGit,
				Message: `"{ADDR}" did not answer as a Git server; check that url is the repository's smart HTTP or SSH URL`},
		},
		"a service that is not SSH is reported as NotGitServer without its banner": {
			target: func(t *testing.T) (GitTarget, string) {
				addr := bannerService(t, "HTTP/1.1 400 secret-banner\r\n\r\n")
				target := s.sshTarget(s.ssh.WriterKey)
				target.URL = "ssh://git@" + addr + "/kratix.git"
				return target, addr
			},
			want: &Failure{Reason: ReasonNotGit,
				Message: `"{ADDR}" did not answer as a Git server; check that url is the repository's smart HTTP or SSH URL`},
		},
		"an ERR line instead of an advertisement is reported as RepositoryNotFound without its text": {
			target: func(t *testing.T) (GitTarget, string) {
				return writerServedBy(t, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
					_, _ = w.Write([]byte("001e# service=git-upload-pack\n0000001bERR secret-banner text\n"))
				})
			},
			want: &Failure{Reason: ReasonRepositoryNotFound,
				Message: `there is no repository at "https://{ADDR}/kratix.git", or the credentials may not see it (the server refused the upload-pack advertisement); create it or correct url`},
		},
		"a server error is reported as Unknown with its status only": {
			target: func(t *testing.T) (GitTarget, string) {
				return writerServedBy(t, func(w http.ResponseWriter, r *http.Request) {
					http.Error(w, "secret-banner", http.StatusInternalServerError)
				})
			},
			want: &Failure{Reason: ReasonUnknown,
				Message: `"https://{ADDR}/kratix.git" answered HTTP 500 to the ref advertisement; check url`},
		},
		"an endless header is reported as ResponseTooLarge": {
			target: func(t *testing.T) (GitTarget, string) {
				return writerServedBy(t, localenv.HostileAnswers["an endless header"].ServeHTTP)
			},
			want: &Failure{Reason: ReasonResponseTooLarge,
				Message: `"{ADDR}" answered with more than 64 KiB of headers, far more than any Git server sends; check url`},
		},
		"an endless advertisement without the branch is reported as ResponseTooLarge": {
			target: func(t *testing.T) (GitTarget, string) {
				return writerServedBy(t, localenv.EndlessAdvertisement(false))
			},
			want: &Failure{Reason: ReasonResponseTooLarge,
				Message: `"https://{ADDR}/kratix.git" advertised more than 16 MiB of refs before branch "main"; the probe reads no more`},
		},
		"an endless advertisement whose branch comes first passes: the probe stops reading at the branch": {
			target: func(t *testing.T) (GitTarget, string) {
				srv := startTLSHandler(t, localenv.EndlessAdvertisement(true))
				return writerAt("https://" + srv.Listener.Addr().String() + "/kratix.git"), ""
			},
		},
		"an SSH key that needs a passphrase is reported as CredentialsUnavailable": {
			target: func(t *testing.T) (GitTarget, string) {
				target := s.sshTarget(encryptedKey(t))
				return target, ""
			},
			want: &Failure{Reason: ReasonCredentialsUnavailable,
				Message: "sshPrivateKey in the Secret needs a passphrase, which Kratix cannot give; use a key without one"},
		},
		"an SSH key that does not parse is reported as CredentialsUnavailable": {
			target: func(t *testing.T) (GitTarget, string) {
				return s.sshTarget([]byte("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n-----END OPENSSH PRIVATE KEY-----\n")), ""
			},
			want: &Failure{Reason: ReasonCredentialsUnavailable,
				Message: "sshPrivateKey in the Secret is not an SSH private key"},
		},
		"basicAuth without credentials is reported as CredentialsUnavailable without a request": {
			target: func(t *testing.T) (GitTarget, string) {
				target := s.basicTarget(localenv.GitWriter)
				target.Credentials = nil
				return target, ""
			},
			want: &Failure{Reason: ReasonCredentialsUnavailable,
				Message: "authMethod basicAuth needs username and password from the Secret"},
		},
		"a GitHub App key that is not PEM is reported as CredentialsUnavailable": {
			target: func(t *testing.T) (GitTarget, string) {
				target := s.appTarget(s.app)
				target.Credentials.PrivateKey = []byte("not a key")
				return target, ""
			},
			want: &Failure{Reason: ReasonCredentialsUnavailable,
				Message: "privateKey in the Secret is not a PEM RSA private key, as GitHub gives an App"},
		},
		"an installation ID that is not a number is reported as CredentialsUnavailable": {
			target: func(t *testing.T) (GitTarget, string) {
				target := s.appTarget(s.app)
				target.Credentials.InstallationID = "7890\n"
				return target, ""
			},
			want: &Failure{Reason: ReasonCredentialsUnavailable,
				Message: "installationID in the Secret must be the installation's number"},
		},
		"a file URL is reported as InvalidTarget": {
			target: func(t *testing.T) (GitTarget, string) { return writerAt("file:///etc/passwd"), "" },
			want: &Failure{Reason: ReasonInvalidTarget,
				Message: `url "file:///etc/passwd" is not a Git URL Kratix can use: use https://, ssh:// or user@host:path`},
		},
		"ssh against an https URL is reported as InvalidTarget": {
			target: func(t *testing.T) (GitTarget, string) {
				target := s.sshTarget(s.ssh.WriterKey)
				target.URL = "https://example.com/kratix.git"
				return target, ""
			},
			want: &Failure{Reason: ReasonInvalidTarget,
				Message: `authMethod ssh needs an ssh://user@host/path or user@host:path url, not "https://example.com/kratix.git"`},
		},
		"an SSH URL without a user is reported as InvalidTarget": {
			target: func(t *testing.T) (GitTarget, string) {
				target := s.sshTarget(s.ssh.WriterKey)
				target.URL = "ssh://" + s.ssh.Addr + "/kratix.git"
				return target, ""
			},
			want: &Failure{Reason: ReasonInvalidTarget,
				Message: `authMethod ssh needs an ssh://user@host/path or user@host:path url, not "ssh://{SSHADDR}/kratix.git"`},
		},
		"plain HTTP is reported as InvalidTarget, as Kratix refuses it for basicAuth": {
			target: func(t *testing.T) (GitTarget, string) {
				target := s.basicTarget(localenv.GitWriter)
				target.URL = s.http.InsecureURL + "/kratix.git"
				return target, strings.TrimPrefix(s.http.InsecureURL, "http://")
			},
			want: &Failure{Reason: ReasonInvalidTarget,
				Message: `authMethod basicAuth needs an https:// url, not "http://{ADDR}/kratix.git"`},
		},
		"an upper-case scheme is reported as InvalidTarget, as Kratix matches https:// exactly": {
			target: func(t *testing.T) (GitTarget, string) {
				target := s.basicTarget(localenv.GitWriter)
				target.URL = strings.Replace(target.URL, "https://", "HTTPS://", 1)
				return target, strings.TrimPrefix(s.http.URL, "https://")
			},
			want: &Failure{Reason: ReasonInvalidTarget,
				Message: `authMethod basicAuth needs an https:// url, not "HTTPS://{ADDR}/kratix.git"`},
		},
		"an SSH key with CRLF line ends, which OpenSSH cannot load, is reported as CredentialsUnavailable": {
			target: func(t *testing.T) (GitTarget, string) {
				return s.sshTarget([]byte(strings.ReplaceAll(string(s.ssh.WriterKey), "\n", "\r\n"))), ""
			},
			want: &Failure{Reason: ReasonCredentialsUnavailable,
				Message: "sshPrivateKey in the Secret must start with -----BEGIN and have LF line ends, or Kratix's ssh cannot load it"},
		},
		"an App ID that is not a number is reported as CredentialsUnavailable": {
			target: func(t *testing.T) (GitTarget, string) {
				target := s.appTarget(s.app)
				target.Credentials.AppID = "my-app"
				return target, ""
			},
			want: &Failure{Reason: ReasonCredentialsUnavailable,
				Message: "appID in the Secret must be the App's number"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			target, addr := tc.target(t)
			p := mustGitProber(t, s, GitOptions{GitHubAPIURL: s.app.URL, Timeout: 10 * time.Second})
			if tc.untrusted {
				t.Setenv("SSL_CERT_FILE", "")
				var err error
				if p, err = NewGitProber(GitOptions{}); err != nil {
					t.Fatal(err)
				}
			}

			err := p.Probe(context.Background(), target)

			want := s.withURL(tc.want)
			if want != nil {
				want.Message = strings.ReplaceAll(want.Message, "{ADDR}", addr)
			}
			checkFailure(t, err, want)
		})
	}
}

func TestGitProberTimesOutWithinItsBudget(t *testing.T) {
	s := startGitServers(t)
	const budget = 300 * time.Millisecond
	for name, target := range map[string]func(addr string) GitTarget{
		"a black hole over HTTPS times out at the budget": func(addr string) GitTarget { return writerAt("https://" + addr + "/kratix.git") },
		"a black hole over SSH times out at the budget": func(addr string) GitTarget {
			t := s.sshTarget(s.ssh.WriterKey)
			t.URL = "ssh://git@" + addr + "/kratix.git"
			return t
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := mustGitProber(t, s, GitOptions{Timeout: budget}).Probe(context.Background(), target(blackHole(t)))

			checkFailure(t, err, &Failure{Reason: ReasonTimeout, Message: "timed out after 300ms" + gitTimeoutAdvice})
			// The budget ended the probe, not one of the transport's own, longer, timeouts.
			if !errors.Is(err, errBudget) {
				t.Errorf("the probe ended with %v, want its budget's end", err)
			}
		})
	}
}

func TestGitProberGuardsEveryDial(t *testing.T) {
	s := startGitServers(t)
	apiAddr := netip.MustParseAddrPort(strings.TrimPrefix(s.app.URL, "http://"))
	gitAddr := netip.MustParseAddrPort(strings.TrimPrefix(s.http.URL, "https://"))
	redirectTo := func(location string) string {
		srv := startTLSHandler(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, location+r.URL.RequestURI(), http.StatusFound)
		})
		return "https://" + srv.Listener.Addr().String()
	}
	tests := map[string]struct {
		target GitTarget
		guard  GuardOptions
		want   *Failure
	}{
		"a denied Git host over HTTPS is refused before anything is dialled": {
			target: writerAt("https://localhost:" + port(strings.TrimPrefix(s.http.URL, "https://")) + "/kratix.git"),
			guard:  GuardOptions{Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}},
			want: &Failure{Reason: ReasonEndpointForbidden,
				Message: `endpoint "localhost" is refused: it resolves to 127.0.0.1, denied range 127.0.0.0/8`},
		},
		"a denied SSH host is refused before anything is dialled": {
			target: func() GitTarget {
				t := s.sshTarget(s.ssh.WriterKey)
				t.URL = "ssh://git@localhost:" + port(s.ssh.Addr) + "/kratix.git"
				return t
			}(),
			guard: GuardOptions{Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}},
			want: &Failure{Reason: ReasonEndpointForbidden,
				Message: `endpoint "localhost" is refused: it resolves to 127.0.0.1, denied range 127.0.0.0/8`},
		},
		"the metadata address as an SSH host is refused": {
			target: func() GitTarget {
				t := s.sshTarget(s.ssh.WriterKey)
				t.URL = "git@169.254.169.254:kratix.git"
				return t
			}(),
			want: &Failure{Reason: ReasonEndpointForbidden,
				Message: `endpoint "169.254.169.254" is refused: link-local address 169.254.0.0/16 (cloud metadata)`},
		},
		"a GitHub API the guard refuses is not asked for a token": {
			target: s.appTarget(s.app),
			guard:  GuardOptions{ControlPlane: []netip.AddrPort{apiAddr}},
			want: &Failure{Reason: ReasonEndpointForbidden,
				Message: `minting the App's installation token: endpoint "127.0.0.1" is refused: ` + apiAddr.String() + ` belongs to the cluster's control plane`},
		},
		"a redirect to the metadata address is refused": {
			target: writerAt(redirectTo("https://169.254.169.254") + "/kratix.git"),
			want: &Failure{Reason: ReasonEndpointForbidden,
				Message: `endpoint "169.254.169.254" is refused: link-local address 169.254.0.0/16 (cloud metadata)`},
		},
		"a redirect to a port the guard refuses is refused": {
			target: writerAt(redirectTo(s.http.URL) + "/kratix.git"),
			guard:  GuardOptions{ControlPlane: []netip.AddrPort{gitAddr}},
			want: &Failure{Reason: ReasonEndpointForbidden,
				Message: `endpoint "127.0.0.1" is refused: ` + gitAddr.String() + ` belongs to the cluster's control plane`},
		},
		"a redirect to the real repository is followed": {
			target: writerAt(redirectTo(s.http.URL) + "/kratix.git"),
		},
		"a redirect from HTTPS to plain HTTP is refused": {
			target: writerAt(redirectTo(s.http.InsecureURL) + "/kratix.git"),
			want: &Failure{Reason: ReasonURLSchemeMismatch,
				Message: `"REDIRECTOR/kratix.git" redirected the probe from HTTPS to plain HTTP, which it does not follow; write the url the server redirects to, over HTTPS`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g, err := NewGuard(tc.guard)
			if err != nil {
				t.Fatal(err)
			}

			err = mustGitProber(t, s, GitOptions{Guard: g, GitHubAPIURL: s.app.URL}).Probe(context.Background(), tc.target)

			want := tc.want
			if want != nil {
				want = &Failure{Reason: want.Reason, Message: strings.ReplaceAll(want.Message, "REDIRECTOR/kratix.git", tc.target.URL)}
			}
			checkFailure(t, err, want)
		})
	}
}

// encryptedKey is an SSH private key protected by a passphrase.
func encryptedKey(t *testing.T) []byte {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block)
}

func TestGitProberStopsWhenItsCallerGoesAway(t *testing.T) {
	s := startGitServers(t)
	hole, err := localenv.StartBlackHole()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hole.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_ = hole.WaitAccepted(context.Background(), 1)
		cancel()
	}()

	err = mustGitProber(t, s, GitOptions{Timeout: time.Minute}).Probe(ctx, writerAt("https://"+hole.Endpoint+"/kratix.git"))

	checkFailure(t, err, &Failure{Reason: ReasonCanceled, Message: "the probe was cancelled before it finished"})
}
