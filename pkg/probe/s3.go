package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

const (
	// DefaultTimeout is the time budget of a probe when S3Options.Timeout is zero.
	DefaultTimeout = 5 * time.Second

	// checkObject is the object Kratix's own write check creates, under the store's path.
	checkObject = ".kratix-write-permission-check"

	// abortTimeout bounds the clean-up of the write check, which runs even when the
	// probe's budget has run out so that no incomplete upload is left in the bucket. It
	// is the longest an endpoint that never answers the clean-up holds a probe's slot
	// past the probe's answer.
	abortTimeout = 2 * time.Second
)

// S3Options configure an S3Prober.
type S3Options struct {
	// Timeout is the time budget of one probe, from the first byte to the last.
	// Zero means DefaultTimeout.
	Timeout time.Duration
	// IAMEndpoint overrides the metadata or STS endpoint authMethod IAM takes
	// credentials from; empty means the AWS defaults.
	IAMEndpoint string
	// IAMEndpoints are the endpoints besides Amazon S3's that authMethod IAM stores may
	// be probed at with the webhook's identity.
	IAMEndpoints HostList
	// DenyUntrustedIAM denies an authMethod IAM store that cannot be probed with the
	// webhook's identity (see checkIAMEndpoint) instead of admitting it unprobed.
	DenyUntrustedIAM bool
	// Guard refuses endpoints the webhook must not reach; nil means a guard with only
	// the built-in rules.
	Guard *Guard
	// MaxConcurrent bounds the probes that run at once; zero means DefaultMaxConcurrent.
	// PerEndpointLimit(MaxConcurrent) of them may run against one endpoint. A probe
	// waits for a slot within its budget and fails with ReasonBusy past it.
	MaxConcurrent int
	// Proxy, when set, chooses the HTTP proxy of each request as http.Transport.Proxy
	// does (http.ProxyFromEnvironment, typically). The guard then checks the host each
	// request names, as written and as resolved by the webhook, before the request
	// leaves through the proxy; it cannot see what the proxy connects to.
	Proxy func(*http.Request) (*url.URL, error)
}

// S3Prober probes buckets the way Kratix uses them: with minio-go, the same client
// options, and the same write check as Kratix's BucketStateStore readiness check. It is
// safe for concurrent use; all probes share one transport and one set of IAM
// credentials.
type S3Prober struct {
	timeout   time.Duration
	guard     *Guard
	transport http.RoundTripper
	iam       *credentials.Credentials
	slots     *slots
	// abortTimeout is the const abortTimeout; tests hold the clean-up with a gate instead.
	abortTimeout time.Duration
	// iamEndpoints and denyUntrustedIAM are S3Options.IAMEndpoints and DenyUntrustedIAM.
	iamEndpoints     HostList
	denyUntrustedIAM bool
}

var _ Prober = &S3Prober{}

// NewS3Prober returns an S3Prober configured by opts. It fails when SSL_CERT_FILE names
// a trust bundle that cannot be read or holds no certificate: probing without the CA
// the operator meant to add would deny every store it signed.
func NewS3Prober(opts S3Options) (*S3Prober, error) {
	p := &S3Prober{
		timeout: opts.Timeout,
		guard:   opts.Guard,
		iam:     newIAMCredentials(opts.IAMEndpoint),
		slots:   newSlots(opts.MaxConcurrent),

		abortTimeout:     abortTimeout,
		iamEndpoints:     opts.IAMEndpoints,
		denyUntrustedIAM: opts.DenyUntrustedIAM,
	}
	if p.timeout <= 0 {
		p.timeout = DefaultTimeout
	}
	if p.guard == nil {
		p.guard, _ = NewGuard(GuardOptions{}) // no options, no error
	}
	next, err := newTransport(p.guard, opts.Proxy)
	if err != nil {
		return nil, err
	}
	p.transport = boundedTransport{next: next}
	return p, nil
}

// Probe checks that t's bucket exists and that its credentials may write to it. It
// returns within the prober's time budget; the clean-up of the write check may finish
// after it returns.
func (p *S3Prober) Probe(ctx context.Context, t Target) (err error) {
	start := time.Now()
	defer func() { observeProbe(err, time.Since(start)) }()

	ctx, cancel := context.WithTimeoutCause(ctx, p.timeout, errBudget)
	defer cancel()
	release, err := p.slots.acquire(ctx, p.timeout, limitKey(t))
	if err != nil {
		return err
	}

	checked := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer release()
		p.run(ctx, t, checked)
	}()

	select {
	case err = <-checked:
	case <-ctx.Done():
		select {
		case err = <-checked:
		default:
			return contextFailure(ctx, p.timeout)
		}
	}
	// Give the clean-up the rest of the budget, so the bucket is tidy when Probe returns.
	select {
	case <-done:
	case <-ctx.Done():
	}
	return err
}

// run sends the outcome of the checks to checked and then aborts the upload the write
// check started, if any. An answer too large to read decides the outcome, whatever
// minio-go made of the failed read.
func (p *S3Prober) run(ctx context.Context, t Target, checked chan<- error) {
	ctx, b := withBounds(ctx)
	ctx = withDialScope(ctx, t.Endpoint, t.Bucket)
	s := scene{ctx: ctx, budget: p.timeout, target: t, key: objectKey(t.Path)}
	client, err := p.client(ctx, s)
	if err != nil {
		checked <- err
		return
	}
	core := minio.Core{Client: client}
	uploadID, err := p.check(ctx, core, s)
	if b.exceeded.Load() {
		err = responseTooLarge(t)
	}
	checked <- err
	if uploadID == "" {
		return
	}
	abortCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.abortTimeout)
	defer cancel()
	// Kratix ignores a failed abort too; the probe's outcome is already decided.
	_ = core.AbortMultipartUpload(abortCtx, t.Bucket, s.key, uploadID)
}

// check runs the two steps of the probe and returns the ID of the upload it started.
func (p *S3Prober) check(ctx context.Context, core minio.Core, s scene) (string, error) {
	t := s.target
	exists, err := core.BucketExists(ctx, t.Bucket)
	if err != nil {
		f := classify(err, s)
		if f.Reason != ReasonAccessDenied {
			return "", f
		}
		// A 403 to HEAD has no body, so a wrong key looks like a denied read. The write
		// check answers with a body that names the real problem.
		s.op = opWrite
		id, werr := core.NewMultipartUpload(ctx, t.Bucket, s.key, minio.PutObjectOptions{})
		if wf := classify(werr, s); wf != nil && (wf.Reason == ReasonInvalidAccessKeyID || wf.Reason == ReasonSignatureMismatch) {
			return id, wf
		}
		return id, f
	}
	if !exists {
		return "", bucketNotFound(t)
	}
	s.op = opWrite
	id, err := core.NewMultipartUpload(ctx, t.Bucket, s.key, minio.PutObjectOptions{})
	if err != nil {
		return "", classify(err, s)
	}
	if id == "" {
		// Anything that answers 200 to every request gets this far.
		return "", notS3Failure(t)
	}
	return id, nil
}

// client builds a minio-go client for t the way Kratix's S3 writer does.
func (p *S3Prober) client(ctx context.Context, s scene) (*minio.Client, error) {
	t := s.target
	if err := p.guard.CheckEndpoint(t.Endpoint); err != nil {
		return nil, err
	}
	if err := s3utils.CheckValidBucketName(t.Bucket); err != nil {
		return nil, &Failure{Reason: ReasonInvalidTarget, Message: fmt.Sprintf("bucketName %q is not a valid S3 bucket name", t.Bucket), Err: err}
	}
	var creds *credentials.Credentials
	switch t.AuthMethod {
	case "", "accessKey":
		c := t.Credentials
		if c == nil || c.AccessKeyID == "" || c.SecretAccessKey == "" {
			return nil, &Failure{Reason: ReasonCredentialsUnavailable, Message: "authMethod accessKey needs accessKeyID and secretAccessKey from the Secret"}
		}
		creds = credentials.NewStaticV4(c.AccessKeyID, c.SecretAccessKey, "")
	case "IAM":
		if err := p.checkIAMEndpoint(t); err != nil {
			return nil, err
		}
		v, err := p.iamCredentials(ctx, s)
		if err != nil {
			return nil, err
		}
		creds = credentials.NewStaticV4(v.AccessKeyID, v.SecretAccessKey, v.SessionToken)
	default:
		return nil, &Failure{Reason: ReasonInvalidTarget, Message: fmt.Sprintf("authMethod %q is not supported; use accessKey or IAM", t.AuthMethod)}
	}
	client, err := minio.New(t.Endpoint, &minio.Options{
		Creds:     creds,
		Secure:    !t.Insecure,
		Transport: p.transport,
		// One attempt: a refused connection or a denial fails the probe at once.
		MaxRetries: 1,
	})
	if err != nil {
		return nil, &Failure{Reason: ReasonInvalidTarget, Message: fmt.Sprintf("endpoint %q is not valid: must be host[:port] without a scheme or path", t.Endpoint), Err: err}
	}
	// minio-go turns dual-stack on for AWS endpoints by default; Kratix's field decides.
	client.SetS3EnableDualstack(t.UseDualStack)
	return client, nil
}

// objectKey is the key of the write check object under the store's path: the key
// Kratix's ValidatePermissions writes, filepath.Join(path, checkObject), which cleans
// the path but keeps a leading "/" (what the server makes of it differs; see
// docs/providers.md).
func objectKey(p string) string {
	return path.Join(p, checkObject)
}

// endpointHost is the host of a host[:port] endpoint.
func endpointHost(endpoint string) string {
	if host, _, err := net.SplitHostPort(endpoint); err == nil {
		return host
	}
	return endpoint
}

// newTransport is the transport all probes share: minio-go's default transport without
// the proxy, because the guard must see the address really dialled, unless proxy is set
// (see S3Options.Proxy). The URL scheme chooses TLS, so one transport serves secure and
// insecure stores alike.
func newTransport(g *Guard, proxy func(*http.Request) (*url.URL, error)) (*http.Transport, error) {
	roots, err := trustedRoots()
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		DialContext:            g.dialContext(dialer),
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots},
		MaxIdleConns:           256,
		MaxIdleConnsPerHost:    16,
		IdleConnTimeout:        time.Minute,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  time.Minute,
		ExpectContinueTimeout:  10 * time.Second,
		DisableCompression:     true,
		MaxResponseHeaderBytes: MaxResponseHeaderBytes,
	}
	if proxy != nil {
		viaProxy(t, g, proxy)
	}
	return t, nil
}

// trustedRoots are the system roots and, as minio-go does, the certificates in
// SSL_CERT_FILE, read when the prober is built; nil when SSL_CERT_FILE is not set.
func trustedRoots() (*x509.CertPool, error) {
	f := os.Getenv("SSL_CERT_FILE")
	if f == "" {
		return nil, nil
	}
	data, err := os.ReadFile(f)
	if err != nil {
		return nil, fmt.Errorf("SSL_CERT_FILE: cannot read the probe's trust bundle: %w; mount it there or unset SSL_CERT_FILE", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("SSL_CERT_FILE: %s holds no PEM certificate; give it the CA bundle the probe should trust or unset SSL_CERT_FILE", f)
	}
	return pool, nil
}
