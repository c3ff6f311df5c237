package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

// DefaultGitHubAPIURL is the GitHub API that githubApp stores mint installation tokens
// from when GitOptions.GitHubAPIURL is empty; GitHub Enterprise Server has its own.
const DefaultGitHubAPIURL = "https://api.github.com"

// GitOptions configure a GitProber. Timeout, Guard, MaxConcurrent and Proxy mean what
// they mean in S3Options.
type GitOptions struct {
	Timeout       time.Duration
	Guard         *Guard
	MaxConcurrent int
	// Proxy chooses the HTTP proxy of each HTTP(S) request, as S3Options.Proxy does; SSH
	// connects directly.
	Proxy func(*http.Request) (*url.URL, error)
	// GitHubAPIURL is the GitHub API githubApp stores mint installation tokens from;
	// empty means DefaultGitHubAPIURL.
	GitHubAPIURL string
}

// GitRepoProber probes Git repositories the way Kratix uses them, and writes nothing:
// the upload-pack ref advertisement shows read access and the branch, the receive-pack
// advertisement, which servers give only to those who may push, the right to push. It
// speaks smart HTTP (basicAuth, and githubApp with an installation token) and SSH
// itself, over the guarded dialer, and decodes what servers send with go-git. It is
// safe for concurrent use.
type GitRepoProber struct {
	timeout time.Duration
	guard   *Guard
	slots   *slots
	// verified and unverified are the HTTP clients for insecure false and true.
	verified, unverified *http.Client
	apiURL               *url.URL
	// dial is the guarded dialer, for SSH.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

var _ GitProber = &GitRepoProber{}

// NewGitProber returns a GitRepoProber configured by opts. It fails as NewS3Prober does
// on an unusable SSL_CERT_FILE, and on a GitHubAPIURL that is not an absolute http(s) URL.
func NewGitProber(opts GitOptions) (*GitRepoProber, error) {
	p := &GitRepoProber{timeout: opts.Timeout, guard: opts.Guard, slots: newSlots(opts.MaxConcurrent)}
	if p.timeout <= 0 {
		p.timeout = DefaultTimeout
	}
	if p.guard == nil {
		p.guard, _ = NewGuard(GuardOptions{}) // no options, no error
	}
	api := opts.GitHubAPIURL
	if api == "" {
		api = DefaultGitHubAPIURL
	}
	if err := CheckGitHubAPIURL(api); err != nil {
		return nil, err
	}
	p.apiURL, _ = url.Parse(strings.TrimSuffix(api, "/"))
	p.dial = p.guard.dialContext(&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second})
	verified, err := newTransport(p.guard, opts.Proxy)
	if err != nil {
		return nil, err
	}
	unverified := verified.Clone()
	unverified.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true} //nolint:gosec // Kratix's spec.insecure
	p.verified = &http.Client{Transport: verified, CheckRedirect: p.checkRedirect}
	p.unverified = &http.Client{Transport: unverified, CheckRedirect: p.checkRedirect}
	return p, nil
}

// CheckGitHubAPIURL refuses a GitHub API URL that is not an absolute http(s) URL
// without a query; GitHub Enterprise Server's is https://<host>/api/v3.
func CheckGitHubAPIURL(api string) error {
	u, err := url.Parse(api)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("%q is not an absolute https:// URL such as %s or https://<host>/api/v3", api, DefaultGitHubAPIURL)
	}
	return nil
}

// maxRedirects is how many redirects a Git probe follows, as git's own default
// (http.followRedirects=initial) follows them for the first request.
const maxRedirects = 5

// checkRedirect refuses a redirect past maxRedirects, one to plain HTTP from HTTPS, and
// one to a host the guard refuses, before the request is sent. net/http drops the
// credentials when a redirect leaves the host.
func (p *GitRepoProber) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if req.URL.Scheme == "http" && via[0].URL.Scheme == "https" {
		return errRedirectToPlainHTTP
	}
	return p.guard.CheckEndpoint(req.URL.Host)
}

var errRedirectToPlainHTTP = fmt.Errorf("redirect from HTTPS to plain HTTP refused")

// Probe checks that t's branch exists and that its credentials may read and push to it.
// It returns within the prober's time budget.
func (p *GitRepoProber) Probe(ctx context.Context, t GitTarget) (err error) {
	start := time.Now()
	defer func() { observeProbe(err, time.Since(start)) }()

	ep, err := p.endpoint(t)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, p.timeout, errBudget)
	defer cancel()
	release, err := p.slots.acquire(ctx, p.timeout, gitLimitKey(ep))
	if err != nil {
		return err
	}
	checked := make(chan error, 1)
	go func() {
		defer release()
		checked <- p.run(ctx, t, ep)
	}()
	select {
	case err = <-checked:
		return err
	case <-ctx.Done():
		select {
		case err = <-checked:
			return err
		default:
			return gitContextFailure(gitScene{ctx: ctx, budget: p.timeout})
		}
	}
}

// gitScene is what the steps of a Git probe and its classification need.
type gitScene struct {
	ctx    context.Context
	budget time.Duration
	target GitTarget
	ep     *transport.Endpoint
	// service is the advertisement being read: transport.UploadPackServiceName or
	// transport.ReceivePackServiceName.
	service string
}

// run probes t at ep: both advertisements over HTTP or SSH.
func (p *GitRepoProber) run(ctx context.Context, t GitTarget, ep *transport.Endpoint) error {
	s := gitScene{ctx: ctx, budget: p.timeout, target: t, ep: ep}
	if err := p.guard.CheckEndpoint(gitHostPort(ep)); err != nil {
		return err
	}
	if ep.Protocol == "ssh" {
		return p.probeSSH(s)
	}
	user, password, err := p.httpCredentials(s)
	if err != nil {
		return err
	}
	return p.probeHTTP(s, user, password)
}

// endpoint parses t's URL with go-git and checks it against the forms Kratix's git
// client takes (util/git/git.go): an https:// URL, exactly, for basicAuth and githubApp
// (so never plain HTTP), and for ssh an ssh:// or scp-like URL with a user. An scp-like
// URL has no port: OpenSSH reads "git@host:2222/repo.git" as the path 2222/repo.git on
// port 22, and so does the probe.
func (p *GitRepoProber) endpoint(t GitTarget) (*transport.Endpoint, error) {
	if t.AuthMethod == GitAuthSSH && !strings.HasPrefix(t.URL, "ssh://") && kratixSSHURL.MatchString(t.URL) {
		// go-git reads no bracketed host; git does.
		scp, problem := ParseSCPLike(t.URL)
		if problem != "" {
			return nil, &Failure{Reason: ReasonInvalidTarget, Message: fmt.Sprintf("url %q %s", t.URL, problem)}
		}
		port := 22
		if scp.Port != "" {
			port, _ = strconv.Atoi(scp.Port) // ParseSCPLike checked it
		}
		return &transport.Endpoint{Protocol: "ssh", User: scp.User, Host: scp.Host, Port: port, Path: scp.Path}, nil
	}
	ep, err := transport.NewEndpoint(t.URL)
	if err != nil || ep.Host == "" || (ep.Protocol != "https" && ep.Protocol != "http" && ep.Protocol != "ssh") {
		return nil, &Failure{Reason: ReasonInvalidTarget, Message: fmt.Sprintf(
			"url %q is not a Git URL Kratix can use: use https://, ssh:// or user@host:path", t.URL)}
	}
	switch t.AuthMethod {
	case GitAuthBasic, GitAuthGitHubApp, "":
		if !strings.HasPrefix(t.URL, "https://") {
			return nil, authMismatch(t, "an https:// url")
		}
	case GitAuthSSH:
		if !kratixSSHURL.MatchString(t.URL) {
			return nil, authMismatch(t, "an ssh://user@host/path or user@host:path url")
		}
	default:
		return nil, &Failure{Reason: ReasonInvalidTarget, Message: fmt.Sprintf(
			"authMethod %q is not supported; use basicAuth, ssh or githubApp", t.AuthMethod)}
	}
	return ep, nil
}

// kratixSSHURL is the form Kratix's git client takes for authMethod ssh (util/git/git.go).
var kratixSSHURL = regexp.MustCompile(`^(ssh://)?([^/:]*?)@[^@]+$`)

func authMismatch(t GitTarget, needs string) *Failure {
	return &Failure{Reason: ReasonInvalidTarget, Message: fmt.Sprintf("authMethod %s needs %s, not %q", t.AuthMethod, needs, t.URL)}
}

// gitPort is the port the probe connects to for ep.
func gitPort(ep *transport.Endpoint) int {
	if ep.Port != 0 {
		return ep.Port
	}
	return map[string]int{"https": 443, "http": 80, "ssh": 22}[ep.Protocol]
}

// gitLimitKey is the endpoint a Git probe shares slots by, as limitKey is for buckets.
func gitLimitKey(ep *transport.Endpoint) string {
	return limitKey(Target{Endpoint: gitHostPort(ep)})
}

// shownURL is t's URL without any user information, for messages.
func shownURL(t GitTarget) string {
	u, err := url.Parse(t.URL)
	if err != nil || u.User == nil {
		return t.URL
	}
	if _, has := u.User.Password(); has {
		u.User = url.User(u.User.Username())
	}
	return u.String()
}
