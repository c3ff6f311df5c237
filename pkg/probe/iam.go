package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7/pkg/credentials"
)

// iamProvider is the credential chain of authMethod IAM: static keys from the AWS_*
// environment first, then minio-go's IAM provider, which covers web identity (IRSA,
// AWS_WEB_IDENTITY_TOKEN_FILE), EKS Pod Identity, ECS task roles and EC2 instance
// profiles. Unlike credentials.Chain it keeps the IAM provider's error, which is what
// an operator needs to see in the logs when credentials cannot be obtained.
type iamProvider struct {
	env     credentials.EnvAWS
	iam     credentials.IAM
	fromEnv bool
}

// newIAMCredentials returns the shared, caching credentials of authMethod IAM. endpoint
// overrides the metadata or STS endpoint; empty means the provider's own defaults.
func newIAMCredentials(endpoint string) *credentials.Credentials {
	return credentials.New(&iamProvider{iam: credentials.IAM{Endpoint: endpoint, Client: newIAMClient()}})
}

// RetrieveWithCredContext implements credentials.Provider.
func (p *iamProvider) RetrieveWithCredContext(cc *credentials.CredContext) (credentials.Value, error) {
	if v, err := p.env.RetrieveWithCredContext(cc); err == nil && v.AccessKeyID != "" && v.SecretAccessKey != "" {
		p.fromEnv = true
		return v, nil
	}
	p.fromEnv = false
	v, err := p.iam.RetrieveWithCredContext(cc)
	if err == nil && (v.AccessKeyID == "" || v.SecretAccessKey == "") {
		err = errors.New("the IAM provider returned empty credentials")
	}
	return v, err
}

// Retrieve implements credentials.Provider.
func (p *iamProvider) Retrieve() (credentials.Value, error) {
	return p.RetrieveWithCredContext(nil)
}

// IsExpired implements credentials.Provider.
func (p *iamProvider) IsExpired() bool {
	if p.fromEnv {
		return p.env.IsExpired()
	}
	return p.iam.IsExpired()
}

// newIAMClient is the HTTP client for the metadata service and STS. It must not use
// the guarded transport: reaching 169.254.169.254 is its whole point. Its answers are
// bounded as the probe's are: minio-go reads them whole (a credentials document or an
// STS answer is 1 to 3 KiB), and --iam-endpoint or a web identity's STS endpoint could
// stream without end.
func newIAMClient() *http.Client {
	return &http.Client{Transport: boundedTransport{next: &http.Transport{
		Proxy:                  proxyUnlessLinkLocal,
		DialContext:            (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    5 * time.Second,
		MaxIdleConns:           4,
		IdleConnTimeout:        time.Minute,
		ResponseHeaderTimeout:  10 * time.Second,
		MaxResponseHeaderBytes: MaxResponseHeaderBytes,
	}}}
}

// proxyUnlessLinkLocal sends STS requests through the environment's proxy, as AWS SDKs
// do, but never metadata requests: a proxy cannot reach the node's link-local service.
func proxyUnlessLinkLocal(req *http.Request) (*url.URL, error) {
	if a, err := netip.ParseAddr(req.URL.Hostname()); err == nil && a.Unmap().IsLinkLocalUnicast() {
		return nil, nil
	}
	return http.ProxyFromEnvironment(req)
}

// iamCredentials obtains the shared IAM credentials within ctx. The credentials object
// holds a lock while it fetches, so the fetch runs aside and the caller stops waiting
// when ctx ends.
func (p *S3Prober) iamCredentials(ctx context.Context, s scene) (credentials.Value, error) {
	type result struct {
		v   credentials.Value
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := p.iam.GetWithContext(&credentials.CredContext{Context: ctx})
		ch <- result{v, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		return credentials.Value{}, contextFailure(ctx, s.budget)
	}
	if r.err == nil && r.v.AccessKeyID != "" {
		return r.v, nil
	}
	if ctx.Err() != nil {
		return credentials.Value{}, contextFailure(ctx, s.budget)
	}
	err := r.err
	if err == nil {
		err = errors.New("no credentials")
	}
	return credentials.Value{}, &Failure{
		Reason: ReasonCredentialsUnavailable,
		Message: "the webhook could not obtain IAM credentials; give its service account an IAM role " +
			"(IRSA or EKS Pod Identity) or run it with an instance profile, or use authMethod accessKey",
		Err: fmt.Errorf("obtaining IAM credentials: %w", err),
	}
}

// Warnings for authMethod IAM stores that are admitted without a probe, because probing
// them would lend the webhook's identity to their endpoint. Kratix may still be able to
// use them, with its own identity and from its own network.
const (
	WarningIAMNotProbed          = "the bucket was not probed: the webhook sends its IAM credentials only to Amazon S3 and --iam-endpoints; Kratix will use its own identity"
	WarningIAMNotProbedPlainHTTP = "the bucket was not probed: the webhook never sends its IAM credentials over plain HTTP; with insecure: true Kratix would send its session token unencrypted"
)

// checkIAMEndpoint lets the webhook's IAM credentials go only where they can be
// accepted: over HTTPS, to Amazon S3 or an endpoint in --iam-endpoints. Anywhere else
// anyone could collect the access key ID, session token and signatures by writing a
// store. It returns nil, a *NotProbed, or a *Failure when such stores are denied.
func (p *S3Prober) checkIAMEndpoint(t Target) error {
	host := canonicalName(strings.Trim(endpointHost(t.Endpoint), "[]"))
	trusted := isAmazonS3Host(host) || p.iamEndpoints.hasName(host)
	if a, err := netip.ParseAddr(host); err == nil {
		trusted = p.iamEndpoints.hasAddr(a)
	}
	switch {
	case t.Insecure && p.denyUntrustedIAM:
		return &Failure{Reason: ReasonIAMNotTrusted, Message: "the webhook never sends its IAM credentials over plain HTTP, " +
			"and Kratix would send its session token unencrypted; set insecure: false or use authMethod accessKey"}
	case t.Insecure:
		return &NotProbed{Reason: ReasonIAMNotTrusted, Warning: WarningIAMNotProbedPlainHTTP}
	case trusted:
		return nil
	case p.denyUntrustedIAM:
		return &Failure{Reason: ReasonIAMNotTrusted, Message: fmt.Sprintf("the webhook sends its IAM credentials only to Amazon S3 "+
			"and --iam-endpoints, not to %q; use authMethod accessKey or ask the operator to add the endpoint", t.Endpoint)}
	default:
		return &NotProbed{Reason: ReasonIAMNotTrusted, Warning: WarningIAMNotProbed}
	}
}
