package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
)

// operation is the step of a probe an error came from; it decides whether a denial
// means "may not read" or "may not write".
type operation int

const (
	opRead operation = iota
	opWrite
)

// scene is what classify needs to know besides the error.
type scene struct {
	// ctx is the probe's context, bounded by budget.
	ctx    context.Context
	budget time.Duration
	target Target
	op     operation
	// key is the object key of the write check.
	key string
}

// errBudget is the cause of a probe context whose own time budget ran out, as opposed
// to its caller's deadline.
var errBudget = errors.New("probe time budget exhausted")

// iamRemedy ends the messages about IAM credentials the endpoint does not accept.
const iamRemedy = "authMethod IAM works only with AWS S3 or an endpoint that accepts AWS IAM credentials"

// classify turns an error from minio-go, net or crypto/tls into a Failure whose message
// tells the person who applied the store what to change. Messages never carry the
// secret access key: they are built from the target's endpoint, bucket and path, and
// any error text they quote is redacted.
func classify(err error, s scene) *Failure {
	if err == nil {
		return nil
	}
	f := classifyRaw(err, s)
	if f.Err == nil {
		f.Err = err
	}
	if c := s.target.Credentials; c != nil && len(c.SecretAccessKey) >= 8 {
		f.Message = strings.ReplaceAll(f.Message, c.SecretAccessKey, "<redacted>")
	}
	return f
}

func classifyRaw(err error, s scene) *Failure {
	t := s.target
	var failure *Failure
	if errors.As(err, &failure) {
		return failure
	}
	if s.ctx != nil && s.ctx.Err() != nil {
		return contextFailure(s.ctx, s.budget)
	}
	var s3err minio.ErrorResponse
	if errors.As(err, &s3err) {
		return classifyS3(s3err, s)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return timeoutFailure(s.budget, err)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return &Failure{Reason: ReasonNameNotResolved, Message: fmt.Sprintf(
			"host %q of endpoint %q could not be resolved; check endpoint and the cluster's DNS", dnsErr.Name, t.Endpoint)}
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return timeoutFailure(s.budget, err)
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return &Failure{Reason: ReasonConnectionRefused, Message: fmt.Sprintf(
			"%q refused the connection; check the host and port in endpoint and that the S3 server is running", t.Endpoint)}
	}
	if detail, ok := untrusted(err); ok {
		return &Failure{Reason: ReasonTLSUntrusted, Message: fmt.Sprintf(
			"the certificate of %q is not trusted (%s); add its CA to the webhook's trust bundle (SSL_CERT_FILE) or fix the certificate; "+
				"insecure: true means plain HTTP, not skipping verification", t.Endpoint, detail)}
	}
	var recordErr tls.RecordHeaderError
	if errors.Is(err, http.ErrSchemeMismatch) || errors.As(err, &recordErr) ||
		strings.Contains(err.Error(), http.ErrSchemeMismatch.Error()) ||
		strings.Contains(err.Error(), "first record does not look like a TLS handshake") {
		return plainHTTPFailure(t)
	}
	// The kernel's words for a failed connection are fixed texts, safe to repeat; any
	// other error may quote what the endpoint sent.
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return &Failure{Reason: ReasonUnknown, Message: fmt.Sprintf(
			"connecting to %q failed: %s; check endpoint and that the webhook can reach it", t.Endpoint, errno.Error())}
	}
	return notS3Failure(t)
}

// classifyS3 reads the error an S3 endpoint answered with.
func classifyS3(e minio.ErrorResponse, s scene) *Failure {
	t := s.target
	iam := t.AuthMethod == "IAM"
	switch e.Code {
	case minio.NoSuchBucket:
		return bucketNotFound(t)
	case minio.InvalidBucketName:
		return &Failure{Reason: ReasonInvalidBucketName, Message: fmt.Sprintf(
			"%q refuses the bucket name %q; correct bucketName to the name of an existing bucket: lower case letters, digits, \".\" and \"-\"", t.Endpoint, t.Bucket)}
	case minio.AccessDenied:
		if s.op == opWrite {
			return &Failure{Reason: ReasonAccessDenied, Message: fmt.Sprintf(
				"the credentials may not write to bucket %q (creating %q was denied); allow s3:PutObject there", t.Bucket, s.key)}
		}
		return &Failure{Reason: ReasonAccessDenied, Message: fmt.Sprintf(
			"the credentials may not read bucket %q; allow s3:ListBucket on it", t.Bucket)}
	case minio.InvalidAccessKeyID:
		if iam {
			return &Failure{Reason: ReasonInvalidAccessKeyID, Message: "the endpoint does not know the webhook's IAM access key; " + iamRemedy}
		}
		return &Failure{Reason: ReasonInvalidAccessKeyID, Message: "the access key ID is not known to the endpoint; check accessKeyID in the Secret"}
	case minio.SignatureDoesNotMatch:
		if iam {
			return &Failure{Reason: ReasonSignatureMismatch, Message: "the endpoint rejected the signature made with the webhook's IAM credentials; " + iamRemedy}
		}
		return &Failure{Reason: ReasonSignatureMismatch, Message: "the secret access key is wrong; check secretAccessKey in the Secret"}
	}
	status := strconv.Itoa(e.StatusCode)
	if e.StatusCode == http.StatusBadRequest && sentHTTPToHTTPS(e.Message) {
		return &Failure{Reason: ReasonTLSMismatch, Message: fmt.Sprintf(
			"%q expects HTTPS, but insecure: true makes the probe use plain HTTP; set insecure: false", t.Endpoint)}
	}
	if e.Code == "" || strings.HasPrefix(e.Code, status+" ") {
		// minio-go names a response without an S3 error body by its status line.
		return notS3Failure(t)
	}
	if !knownS3Codes[e.Code] {
		return &Failure{Reason: ReasonUnknown, Message: fmt.Sprintf(
			"%q answered with an error code that S3 does not use while checking bucket %q; check endpoint", t.Endpoint, t.Bucket)}
	}
	return &Failure{Reason: ReasonUnknown, Message: fmt.Sprintf(
		"%q answered S3 error %s (HTTP %d) while checking bucket %q", t.Endpoint, e.Code, e.StatusCode, t.Bucket)}
}

// notS3Failure is the answer to anything that is not an S3 API's. Its message is fixed:
// repeating what a service said would let a store author read the banners of services
// the webhook can reach. What it said goes to the log, in Failure.Err.
func notS3Failure(t Target) *Failure {
	return &Failure{Reason: ReasonNotS3, Message: fmt.Sprintf(
		"%q did not answer as an S3 API; check that endpoint is the host and port of the S3 API", t.Endpoint)}
}

// sentHTTPToHTTPS recognises the 400 a TLS server answers a plain HTTP request with:
// Go's "Client sent an HTTP request to an HTTPS server." and nginx's "The plain HTTP
// request was sent to HTTPS port".
func sentHTTPToHTTPS(body string) bool {
	b := strings.ToLower(body)
	return strings.Contains(b, "http request to an https server") || strings.Contains(b, "plain http request was sent to https port")
}

// untrusted reports whether err is a failed certificate verification and why.
func untrusted(err error) (string, bool) {
	var hostErr x509.HostnameError
	if errors.As(err, &hostErr) {
		return fmt.Sprintf("it is not valid for %s", hostErr.Host), true
	}
	var invalidErr x509.CertificateInvalidError
	if errors.As(err, &invalidErr) {
		if invalidErr.Reason == x509.Expired {
			return "it has expired or is not valid yet", true
		}
		return "it is not valid", true
	}
	var authorityErr x509.UnknownAuthorityError
	if errors.As(err, &authorityErr) {
		return "it is signed by an unknown authority", true
	}
	var verifyErr *tls.CertificateVerificationError
	if errors.As(err, &verifyErr) {
		return "it failed verification", true
	}
	return "", false
}

func plainHTTPFailure(t Target) *Failure {
	return &Failure{Reason: ReasonTLSMismatch, Message: fmt.Sprintf(
		"%q speaks plain HTTP, not HTTPS; set insecure: true to use plain HTTP, or point endpoint at the HTTPS port", t.Endpoint)}
}

func bucketNotFound(t Target) *Failure {
	return &Failure{Reason: ReasonBucketNotFound, Message: fmt.Sprintf(
		"bucket %q does not exist at %q; create it or correct bucketName", t.Bucket, t.Endpoint)}
}

// timeoutAdvice follows "timed out after <budget>": a probe that runs out of time most
// often cannot reach the endpoint at all.
const timeoutAdvice = "; check that the webhook can reach endpoint (network policies, firewalls, egress proxies) and that it answers S3 requests"

func timeoutFailure(budget time.Duration, err error) *Failure {
	return &Failure{Reason: ReasonTimeout, Message: fmt.Sprintf("timed out after %s", budget) + timeoutAdvice, Err: err}
}

// contextFailure explains why ctx ended: the probe's own budget ran out (budget > 0 and
// the cause is errBudget), the caller's deadline passed, or the caller went away.
func contextFailure(ctx context.Context, budget time.Duration) *Failure {
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, errBudget):
		return timeoutFailure(budget, cause)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &Failure{Reason: ReasonTimeout, Message: "timed out before the probe finished", Err: cause}
	default:
		return &Failure{Reason: ReasonCanceled, Message: "the probe was cancelled before it finished", Err: cause}
	}
}
