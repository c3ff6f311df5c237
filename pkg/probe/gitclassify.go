package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

// gitTimeoutAdvice follows "timed out after <budget>" for a Git store.
const gitTimeoutAdvice = "; check that the webhook can reach the Git server (network policies, firewalls, egress proxies) and that it answers"

// classifyGit turns an error from net/http, net, crypto/tls or x/crypto/ssh into a
// Failure whose message tells the person who applied the store what to change. Messages
// quote no text the server sent: they are built from the store's URL and fixed words.
func classifyGit(err error, s gitScene) *Failure {
	hostPort := gitHostPort(s.ep)
	var failure *Failure
	if errors.As(err, &failure) {
		return failure
	}
	if s.ctx != nil && s.ctx.Err() != nil {
		return gitContextFailure(s)
	}
	if strings.Contains(err.Error(), headersTooLarge) {
		return &Failure{Reason: ReasonResponseTooLarge, Message: fmt.Sprintf(
			"%q answered with more than %d KiB of headers, far more than any Git server sends; check url", hostPort, MaxResponseHeaderBytes>>10), Err: err}
	}
	if errors.Is(err, errRedirectToPlainHTTP) {
		return &Failure{Reason: ReasonURLSchemeMismatch, Message: fmt.Sprintf(
			"%q redirected the probe from HTTPS to plain HTTP, which it does not follow; write the url the server redirects to, over HTTPS", shownURL(s.target)), Err: err}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return &Failure{Reason: ReasonNameNotResolved, Message: fmt.Sprintf(
			"host %q of url %q could not be resolved; check url and the cluster's DNS", dnsErr.Name, shownURL(s.target))}
	}
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout() {
		return &Failure{Reason: ReasonTimeout, Message: fmt.Sprintf("timed out after %s", s.budget) + gitTimeoutAdvice, Err: err}
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return &Failure{Reason: ReasonConnectionRefused, Message: fmt.Sprintf(
			"%q refused the connection; check the host and port in url and that the Git server is running", hostPort)}
	}
	if detail, ok := untrusted(err); ok {
		return &Failure{Reason: ReasonTLSUntrusted, Message: fmt.Sprintf(
			"the certificate of %q is not trusted (%s); add its CA to the webhook's trust bundle (SSL_CERT_FILE) or fix the certificate, "+
				"or set insecure: true to skip verification as Kratix does", hostPort, detail)}
	}
	var recordErr tls.RecordHeaderError
	if errors.Is(err, http.ErrSchemeMismatch) || errors.As(err, &recordErr) ||
		strings.Contains(err.Error(), "first record does not look like a TLS handshake") {
		return &Failure{Reason: ReasonURLSchemeMismatch, Message: fmt.Sprintf(
			"%q speaks plain HTTP, not HTTPS, and Kratix takes only https:// urls for basicAuth and githubApp; point url at the server's HTTPS port", hostPort)}
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return &Failure{Reason: ReasonUnknown, Message: fmt.Sprintf(
			"connecting to %q failed: %s; check url and that the webhook can reach it", hostPort, errno.Error())}
	}
	return notGitFailure(s, err)
}

// gitContextFailure explains why the probe's context ended, in a Git store's words.
func gitContextFailure(s gitScene) *Failure {
	f := contextFailure(s.ctx, s.budget)
	if errors.Is(f.Err, errBudget) {
		f.Message = fmt.Sprintf("timed out after %s", s.budget) + gitTimeoutAdvice
	}
	return f
}

// gitHostPort is the host:port the probe connects to for ep.
func gitHostPort(ep *transport.Endpoint) string {
	return net.JoinHostPort(strings.Trim(ep.Host, "[]"), strconv.Itoa(gitPort(ep)))
}
