package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// gitUserAgent is the User-Agent of the probe's Git requests: servers serve smart HTTP
// to clients whose agent starts with "git/".
const gitUserAgent = "git/2.0 (statestore-webhook probe)"

// httpCredentials are the user and password the probe sends in basic auth: the Secret's
// for basicAuth, x-access-token and an installation token minted for githubApp.
func (p *GitRepoProber) httpCredentials(s gitScene) (user, password string, err error) {
	c := s.target.Credentials
	if s.target.AuthMethod == GitAuthGitHubApp {
		if c == nil {
			return "", "", &Failure{Reason: ReasonCredentialsUnavailable, Message: "authMethod githubApp needs appID, installationID and privateKey from the Secret"}
		}
		token, err := p.installationToken(s, c)
		if err != nil {
			return "", "", err
		}
		return "x-access-token", token, nil
	}
	if c == nil {
		return "", "", &Failure{Reason: ReasonCredentialsUnavailable, Message: "authMethod basicAuth needs username and password from the Secret"}
	}
	return c.Username, c.Password, nil
}

// probeHTTP reads the upload-pack advertisement and checks the branch in it, and asks
// for the receive-pack advertisement and reads its first line. The two requests go out
// together, so a probe takes one round trip to the server, not two (most of a Git
// probe's time is the server's: git http-backend starts a git process per request), and
// the verdict is the one the two in turn would give: the upload-pack's failure first,
// which also ends the receive-pack request.
func (p *GitRepoProber) probeHTTP(s gitScene, user, password string) error {
	ctx, cancel := context.WithCancelCause(s.ctx)
	defer cancel(nil)
	read, push := s, make(chan error, 1)
	s.ctx, s.service = ctx, transport.ReceivePackServiceName
	go func() { push <- p.advertisementHTTP(s, user, password) }()
	read.service = transport.UploadPackServiceName
	err := p.advertisementHTTP(read, user, password)
	if err != nil {
		cancel(errUploadPackFailed)
	}
	pushErr := <-push
	if err != nil {
		return err // the upload-pack's failure comes first
	}
	return pushErr
}

// errUploadPackFailed ends the receive-pack request of a probe whose upload-pack
// advertisement already failed.
var errUploadPackFailed = errors.New("the upload-pack advertisement failed")

func (p *GitRepoProber) advertisementHTTP(s gitScene, user, password string) error {
	u, err := url.Parse(s.target.URL)
	if err != nil {
		return &Failure{Reason: ReasonInvalidTarget, Message: fmt.Sprintf("url %q is not a valid URL", shownURL(s.target)), Err: err}
	}
	u.User = nil
	u.Path = strings.TrimSuffix(u.Path, "/") + "/info/refs"
	u.RawPath = ""
	u.RawQuery = "service=" + s.service
	req, err := http.NewRequestWithContext(s.ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return &Failure{Reason: ReasonInvalidTarget, Message: fmt.Sprintf("url %q is not a valid URL", shownURL(s.target)), Err: err}
	}
	if password != "" {
		// Kratix sends no credentials at all when the password is empty (util/git/http.go).
		req.SetBasicAuth(user, password)
	}
	req.Header.Set("User-Agent", gitUserAgent)
	req.Header.Set("Accept", "application/x-"+s.service+"-advertisement")
	client := p.verified
	if s.target.Insecure {
		client = p.unverified
	}
	resp, err := client.Do(req)
	if err != nil {
		return classifyGit(err, s)
	}
	defer func() { _ = resp.Body.Close() }()
	if f := gitStatusFailure(resp, s); f != nil {
		return f
	}
	ar, err := readAdvertisement(resp.Body, s.wantRef())
	return s.checkAdvertisement(ar, err)
}

// gitStatusFailure reads the status and content type of an answer to the advertisement
// request; nil means a smart-HTTP advertisement follows.
func gitStatusFailure(resp *http.Response, s gitScene) *Failure {
	shown := shownURL(s.target)
	push := s.service == transport.ReceivePackServiceName
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch code := resp.StatusCode; {
	case code == http.StatusOK && ct != "application/x-"+s.service+"-advertisement":
		return notGitFailure(s, fmt.Errorf("HTTP 200 with Content-Type %q", ct))
	case code == http.StatusOK:
		return nil
	case ct == "application/xml" || ct == "text/xml":
		// An XML error is an object store's (S3, MinIO, GCS, Azure Blob): MinIO answers
		// basic auth with 400 and no credentials with 403. Git servers answer errors in
		// plain text, HTML or JSON, so its status says nothing about Git credentials or
		// repositories.
		return notGitFailure(s, fmt.Errorf("HTTP %d with Content-Type %q", code, ct))
	case push && (code == http.StatusUnauthorized || code == http.StatusForbidden || code == http.StatusNotFound):
		return noPushFailure(s, fmt.Sprintf("HTTP %d to the receive-pack advertisement", code))
	case code == http.StatusUnauthorized:
		return &Failure{Reason: ReasonAuthenticationFailed, Message: fmt.Sprintf(
			"%q refused the credentials (HTTP 401); %s", shown, credentialsAdvice(s.target))}
	case code == http.StatusForbidden:
		return &Failure{Reason: ReasonAuthenticationFailed, Message: fmt.Sprintf(
			"the credentials may not read %q (HTTP 403); %s", shown, credentialsAdvice(s.target))}
	case code == http.StatusNotFound:
		return repositoryNotFound(s, "HTTP 404")
	default:
		return &Failure{Reason: ReasonUnknown, Message: fmt.Sprintf(
			"%q answered HTTP %d to the ref advertisement; check url", shown, code)}
	}
}

// credentialsAdvice says which of the Secret's values to check.
func credentialsAdvice(t GitTarget) string {
	if t.AuthMethod == GitAuthGitHubApp {
		return "the App's installation token was refused: check that the App is installed on the repository and may read its contents"
	}
	return "check username and password in the Secret"
}

func noPushFailure(s gitScene, what string) *Failure {
	return &Failure{Reason: ReasonNoPushPermission, Message: fmt.Sprintf(
		"the credentials may read %q but not push to it (%s); give them write access", shownURL(s.target), what)}
}

func repositoryNotFound(s gitScene, what string) *Failure {
	return &Failure{Reason: ReasonRepositoryNotFound, Message: fmt.Sprintf(
		"there is no repository at %q, or the credentials may not see it (%s); create it or correct url", shownURL(s.target), what)}
}

// notGitFailure is the answer to anything that is not a Git server's. Its message is
// fixed, as notS3Failure's is; what the server said goes to the log, in Failure.Err.
func notGitFailure(s gitScene, err error) *Failure {
	return &Failure{Reason: ReasonNotGit, Message: fmt.Sprintf(
		"%q did not answer as a Git server; check that url is the repository's smart HTTP or SSH URL", gitHostPort(s.ep)), Err: err}
}

// wantRef is the ref the advertisement being read must hold: the branch for
// upload-pack, nothing for receive-pack, whose first line is enough.
func (s gitScene) wantRef() string {
	if s.service == transport.ReceivePackServiceName {
		return ""
	}
	if s.target.Branch == "" {
		return "HEAD" // Kratix clones the remote's default branch
	}
	return "refs/heads/" + s.target.Branch
}

// branch is the branch named in messages.
func (s gitScene) branch() string {
	if s.target.Branch == "" {
		return "HEAD"
	}
	return s.target.Branch
}

// checkAdvertisement reads the outcome of readAdvertisement for the service being read.
func (s gitScene) checkAdvertisement(ar *packp.AdvRefs, err error) error {
	push := s.service == transport.ReceivePackServiceName
	var errLine *pktline.ErrorLine
	switch {
	case errors.Is(err, errAdvertisementTooLarge):
		return &Failure{Reason: ReasonResponseTooLarge, Message: fmt.Sprintf(
			"%q advertised more than %d MiB of refs before branch %q; the probe reads no more", shownURL(s.target), MaxRefAdvertisementBytes>>20, s.branch()), Err: err}
	case errors.Is(err, packp.ErrEmptyAdvRefs) && push:
		return nil // an empty repository may be pushed to
	case errors.Is(err, packp.ErrEmptyAdvRefs):
		return &Failure{Reason: ReasonBranchNotFound, Message: fmt.Sprintf(
			"repository %q is empty: branch %q does not exist; push it or correct branch", shownURL(s.target), s.branch())}
	case errors.As(err, &errLine) && push:
		return noPushFailure(s, "the server refused the receive-pack advertisement")
	case errors.As(err, &errLine):
		return repositoryNotFound(s, "the server refused the upload-pack advertisement")
	case err != nil && s.ctx.Err() != nil:
		return gitContextFailure(s)
	case err != nil && err != io.ErrUnexpectedEOF:
		return notGitFailure(s, err)
	case err != nil:
		return classifyGit(err, s)
	}
	if push {
		return nil
	}
	if s.wantRef() == "HEAD" && ar.Head == nil {
		return &Failure{Reason: ReasonBranchNotFound, Message: fmt.Sprintf(
			"%q has no default branch (HEAD) for an empty branch to clone; set branch", shownURL(s.target))}
	}
	if _, ok := ar.References[s.wantRef()]; !ok && s.wantRef() != "HEAD" {
		if _, tag := ar.References["refs/tags/"+s.branch()]; tag {
			return &Failure{Reason: ReasonBranchNotFound, Message: fmt.Sprintf(
				"%q is a tag in %q, not a branch: Kratix clones it, then fails to reset to origin/%s before every write; name a branch", s.branch(), shownURL(s.target), s.branch())}
		}
		return &Failure{Reason: ReasonBranchNotFound, Message: fmt.Sprintf(
			"branch %q does not exist in %q; push it or correct branch", s.branch(), shownURL(s.target))}
	}
	return nil
}
