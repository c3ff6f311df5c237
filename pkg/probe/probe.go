package probe

import (
	"context"
	"errors"
	"fmt"
)

// Prober checks that Kratix could use a bucket. Probe returns nil when the bucket exists
// and the credentials may write to it, and a *Failure otherwise.
type Prober interface {
	Probe(ctx context.Context, t Target) error
}

// ProberFunc adapts a function to a Prober.
type ProberFunc func(ctx context.Context, t Target) error

// Probe calls f.
func (f ProberFunc) Probe(ctx context.Context, t Target) error { return f(ctx, t) }

// Target is what a BucketStateStore asks Kratix to write to, with its credentials resolved.
type Target struct {
	Endpoint     string
	Bucket       string
	Path         string
	Insecure     bool
	UseDualStack bool
	// AuthMethod is "accessKey" or "IAM".
	AuthMethod string
	// Credentials are the Secret's keys for accessKey; nil for IAM.
	Credentials *Credentials
}

// Credentials are static S3 credentials read from a Secret.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
}

// String keeps credentials out of logs and error messages printed with %v.
func (Credentials) String() string { return "<redacted>" }

// GoString keeps credentials out of %#v.
func (Credentials) GoString() string { return "<redacted>" }

// Reason names why a probe failed. Reasons are stable: they appear in denials, logs and
// the probes_total metric.
type Reason string

const (
	ReasonOK                     Reason = "OK"
	ReasonBucketNotFound         Reason = "BucketNotFound"
	ReasonAccessDenied           Reason = "AccessDenied"
	ReasonInvalidAccessKeyID     Reason = "InvalidAccessKeyId"
	ReasonSignatureMismatch      Reason = "SignatureDoesNotMatch"
	ReasonTLSUntrusted           Reason = "TLSCertificateUntrusted"
	ReasonTLSMismatch            Reason = "TLSMismatch"
	ReasonNameNotResolved        Reason = "NameNotResolved"
	ReasonConnectionRefused      Reason = "ConnectionRefused"
	ReasonTimeout                Reason = "Timeout"
	ReasonEndpointForbidden      Reason = "EndpointForbidden"
	ReasonCredentialsUnavailable Reason = "CredentialsUnavailable"
	ReasonUnknown                Reason = "Unknown"

	// ReasonNotS3 is an endpoint that answered, but not as an S3 API does.
	ReasonNotS3 Reason = "NotS3"
	// ReasonIAMNotTrusted is an authMethod IAM store whose endpoint the webhook does not
	// send its IAM identity to: one that is neither Amazon S3 nor listed, or plain HTTP.
	ReasonIAMNotTrusted Reason = "IAMEndpointNotTrusted"

	// ReasonInvalidTarget is a target the prober cannot even try: an endpoint with a
	// scheme or path, an invalid bucket name, an unknown auth method. The webhook's
	// static rules deny most such stores first.
	ReasonInvalidTarget Reason = "InvalidTarget"
	// ReasonCanceled is a probe whose caller went away before it finished: the webhook
	// counts and logs it, but the API server that cancelled no longer waits for the
	// answer, so no one who applied a store sees it.
	ReasonCanceled Reason = "Canceled"
	// ReasonResponseTooLarge is an endpoint that answered a probe's request with more
	// than any S3 server sends (see MaxResponseBytes).
	ReasonResponseTooLarge Reason = "ResponseTooLarge"
	// ReasonInvalidBucketName is a bucket name minio-go sends but the endpoint refuses
	// (S3 error InvalidBucketName): upper case, "_" or ":" outside a legacy bucket.
	ReasonInvalidBucketName Reason = "InvalidBucketName"
	// ReasonBusy is a probe that found no free slot within its budget: the webhook was
	// already running as many probes as it may at once.
	ReasonBusy Reason = "Busy"
)

// Failure is a failed probe: a named reason and a message for the person who applied the
// store. Messages never contain credentials.
type Failure struct {
	Reason  Reason
	Message string
	// Err is the underlying error, for logs. It never holds credentials either.
	Err error
}

func (f *Failure) Error() string { return fmt.Sprintf("%s (reason: %s)", f.Message, f.Reason) }

// Unwrap returns the underlying error.
func (f *Failure) Unwrap() error { return f.Err }

// AsFailure returns the *Failure in err's chain, or err as a Failure of ReasonUnknown.
// err must not be nil.
func AsFailure(err error) *Failure {
	var f *Failure
	if errors.As(err, &f) && f != nil {
		return f
	}
	return &Failure{Reason: ReasonUnknown, Message: err.Error(), Err: err}
}

// ReasonOf returns ReasonOK for nil, the reason of a *Failure anywhere in err's chain,
// and ReasonUnknown for any other error.
func ReasonOf(err error) Reason {
	if err == nil {
		return ReasonOK
	}
	var f *Failure
	if errors.As(err, &f) {
		if f == nil {
			return ReasonOK // a nil *Failure stored in an error
		}
		return f.Reason
	}
	var n *NotProbed
	if errors.As(err, &n) && n != nil {
		return n.Reason
	}
	return ReasonUnknown
}

// NotProbed is what Probe returns for a store it chose not to probe although Kratix may
// well be able to use it: such a store is admitted, with Warning.
type NotProbed struct {
	Reason  Reason
	Warning string
}

func (n *NotProbed) Error() string {
	return fmt.Sprintf("%s (reason: %s)", n.Warning, n.Reason)
}
