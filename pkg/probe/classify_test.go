package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// TestClassify covers what the fake S3 cannot easily produce, with the errors minio-go,
// net and crypto/tls return, wrapped the way they arrive.
func TestClassify(t *testing.T) {
	const endpoint = "s3.example.com:9000"
	accessKey := testTarget(endpoint)
	iam := testTarget(endpoint)
	iam.AuthMethod, iam.Credentials = "IAM", nil
	urlErr := func(err error) error {
		return &url.Error{Op: "Get", URL: "https://" + endpoint + "/kratix/?location=", Err: err}
	}
	expired, cancelled := expiredContexts(t)

	tests := map[string]struct {
		err    error
		target Target
		op     operation
		ctx    context.Context
		want   *Failure
	}{
		"a name that does not resolve is reported as NameNotResolved": {
			err:  urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "s3.example.com", IsNotFound: true}}),
			want: &Failure{Reason: ReasonNameNotResolved, Message: `host "s3.example.com" of endpoint "s3.example.com:9000" could not be resolved; check endpoint and the cluster's DNS`},
		},
		"a refused connection is reported as ConnectionRefused": {
			err:  urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}),
			want: &Failure{Reason: ReasonConnectionRefused, Message: `"s3.example.com:9000" refused the connection; check the host and port in endpoint and that the S3 server is running`},
		},
		"a network timeout is reported as Timeout with the budget": {
			err:  urlErr(&net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}),
			want: &Failure{Reason: ReasonTimeout, Message: "timed out after 5s" + timeoutAdvice},
		},
		"an exhausted budget is reported as Timeout whatever the error": {
			err:  errors.New("Connection closed by foreign host"),
			ctx:  expired,
			want: &Failure{Reason: ReasonTimeout, Message: "timed out after 5s" + timeoutAdvice},
		},
		"a caller that went away is reported as Canceled": {
			err:  context.Canceled,
			ctx:  cancelled,
			want: &Failure{Reason: ReasonCanceled, Message: "the probe was cancelled before it finished"},
		},
		"a certificate for another host is reported as TLSCertificateUntrusted": {
			err: urlErr(&tls.CertificateVerificationError{Err: x509.HostnameError{Certificate: &x509.Certificate{}, Host: "s3.example.com"}}),
			want: &Failure{Reason: ReasonTLSUntrusted, Message: `the certificate of "s3.example.com:9000" is not trusted (it is not valid for s3.example.com); ` +
				`add its CA to the webhook's trust bundle (SSL_CERT_FILE) or fix the certificate; insecure: true means plain HTTP, not skipping verification`},
		},
		"an expired certificate is reported as TLSCertificateUntrusted": {
			err: urlErr(&tls.CertificateVerificationError{Err: x509.CertificateInvalidError{Cert: &x509.Certificate{}, Reason: x509.Expired}}),
			want: &Failure{Reason: ReasonTLSUntrusted, Message: `the certificate of "s3.example.com:9000" is not trusted (it has expired or is not valid yet); ` +
				`add its CA to the webhook's trust bundle (SSL_CERT_FILE) or fix the certificate; insecure: true means plain HTTP, not skipping verification`},
		},
		"a TLS record that is not a handshake is reported as TLSMismatch": {
			err:  urlErr(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}),
			want: &Failure{Reason: ReasonTLSMismatch, Message: `"s3.example.com:9000" speaks plain HTTP, not HTTPS; set insecure: true to use plain HTTP, or point endpoint at the HTTPS port`},
		},
		"an HTTP answer to a TLS handshake is reported as TLSMismatch": {
			err:  urlErr(http.ErrSchemeMismatch),
			want: &Failure{Reason: ReasonTLSMismatch, Message: `"s3.example.com:9000" speaks plain HTTP, not HTTPS; set insecure: true to use plain HTTP, or point endpoint at the HTTPS port`},
		},
		"nginx refusing plain HTTP on its HTTPS port is reported as TLSMismatch": {
			err:  minio.ErrorResponse{Code: "400 Bad Request", StatusCode: 400, Message: "<center>The plain HTTP request was sent to HTTPS port</center>"},
			want: &Failure{Reason: ReasonTLSMismatch, Message: `"s3.example.com:9000" expects HTTPS, but insecure: true makes the probe use plain HTTP; set insecure: false`},
		},
		"a wrong signature with IAM credentials points at the endpoint, not the Secret": {
			err:    minio.ErrorResponse{Code: "SignatureDoesNotMatch", StatusCode: 403},
			target: iam,
			want:   &Failure{Reason: ReasonSignatureMismatch, Message: "the endpoint rejected the signature made with the webhook's IAM credentials; " + iamRemedy},
		},
		"an unknown key with IAM credentials points at the endpoint, not the Secret": {
			err:    minio.ErrorResponse{Code: "InvalidAccessKeyId", StatusCode: 403},
			target: iam,
			want:   &Failure{Reason: ReasonInvalidAccessKeyID, Message: "the endpoint does not know the webhook's IAM access key; " + iamRemedy},
		},
		"a bucket deleted between the steps is reported as BucketNotFound": {
			err:  fmt.Errorf("write check: %w", minio.ErrorResponse{Code: "NoSuchBucket", StatusCode: 404}),
			op:   opWrite,
			want: &Failure{Reason: ReasonBucketNotFound, Message: `bucket "kratix" does not exist at "s3.example.com:9000"; create it or correct bucketName`},
		},
		"a bucket name the server refuses has a reason of its own": {
			err:  minio.ErrorResponse{Code: "InvalidBucketName", StatusCode: 400},
			want: &Failure{Reason: ReasonInvalidBucketName, Message: `"s3.example.com:9000" refuses the bucket name "kratix"; correct bucketName to the name of an existing bucket: lower case letters, digits, "." and "-"`},
		},
		"a guard refusal is passed through": {
			err:  urlErr(&net.OpError{Op: "dial", Err: refused(`endpoint "x" is refused: cloud metadata host name`)}),
			want: refused(`endpoint "x" is refused: cloud metadata host name`),
		},
		"an answer that is not HTTP is reported as NotS3 without repeating it": {
			err:  urlErr(errors.New(`malformed HTTP response "SSH-2.0-OpenSSH_9.6 " + testSecret`)),
			want: &Failure{Reason: ReasonNotS3, Message: `"s3.example.com:9000" did not answer as an S3 API; check that endpoint is the host and port of the S3 API`},
		},
		"an XML answer that is not S3's is reported as NotS3 without repeating it": {
			err:  errors.New("expected element type <InitiateMultipartUploadResult> but have <banner>"),
			op:   opWrite,
			want: &Failure{Reason: ReasonNotS3, Message: `"s3.example.com:9000" did not answer as an S3 API; check that endpoint is the host and port of the S3 API`},
		},
		"a connection the network reset is reported with the kernel's words": {
			err:  urlErr(&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}),
			want: &Failure{Reason: ReasonUnknown, Message: `connecting to "s3.example.com:9000" failed: connection reset by peer; check endpoint and that the webhook can reach it`},
		},
		"an S3 error code S3 uses is repeated": {
			err:  minio.ErrorResponse{Code: "SlowDown", StatusCode: 503},
			want: &Failure{Reason: ReasonUnknown, Message: `"s3.example.com:9000" answered S3 error SlowDown (HTTP 503) while checking bucket "kratix"`},
		},
		"an error code S3 does not use is not repeated": {
			err: minio.ErrorResponse{Code: "SSH-2.0-OpenSSH_9.6", StatusCode: 400},
			want: &Failure{Reason: ReasonUnknown,
				Message: `"s3.example.com:9000" answered with an error code that S3 does not use while checking bucket "kratix"; check endpoint`},
		},
		"an HTTP error without an S3 error body is reported as NotS3": {
			err:  minio.ErrorResponse{Code: "404 Not Found", StatusCode: 404, Message: "Not Found"},
			want: &Failure{Reason: ReasonNotS3, Message: `"s3.example.com:9000" did not answer as an S3 API; check that endpoint is the host and port of the S3 API`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			target := tc.target
			if target.Endpoint == "" {
				target = accessKey
			}
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			s := scene{ctx: ctx, budget: 5 * time.Second, target: target, op: tc.op, key: objectKey(target.Path)}
			checkFailure(t, classify(tc.err, s), tc.want)
		})
	}
}

// expiredContexts returns a context whose probe budget ran out and one whose caller
// cancelled it.
func expiredContexts(t *testing.T) (expired, cancelled context.Context) {
	expired, cancel := context.WithTimeoutCause(context.Background(), 0, errBudget)
	t.Cleanup(cancel)
	<-expired.Done()
	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	return expired, cancelled
}

func TestReasonOf(t *testing.T) {
	tests := map[string]struct {
		err  error
		want Reason
	}{
		"nil is OK":                               {err: nil, want: ReasonOK},
		"a wrapped Failure gives its reason":      {err: fmt.Errorf("probe: %w", &Failure{Reason: ReasonTimeout}), want: ReasonTimeout},
		"any other error is Unknown":              {err: errors.New("boom"), want: ReasonUnknown},
		"a nil *Failure stored in an error is OK": {err: error((*Failure)(nil)), want: ReasonOK},
		"a store that was not probed gives its reason": {
			err: &NotProbed{Reason: ReasonIAMNotTrusted, Warning: WarningIAMNotProbed}, want: ReasonIAMNotTrusted,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ReasonOf(tc.err); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
