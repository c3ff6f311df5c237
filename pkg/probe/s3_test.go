package probe

import (
	"context"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

const testSecret = "fake-secret-access-key-0123456789"

func testTarget(endpoint string) Target {
	return Target{
		Endpoint:    endpoint,
		Bucket:      "kratix",
		Path:        "stores/dev/",
		Insecure:    true,
		AuthMethod:  "accessKey",
		Credentials: &Credentials{AccessKeyID: "AKIAFAKE", SecretAccessKey: testSecret},
	}
}

// withEndpoint fills in the endpoint a test server got for "ENDPOINT" in a message.
func withEndpoint(f *Failure, endpoint string) *Failure {
	if f == nil {
		return nil
	}
	return &Failure{Reason: f.Reason, Message: strings.ReplaceAll(f.Message, "ENDPOINT", endpoint)}
}

func TestS3ProberAgainstFakeS3(t *testing.T) {
	const (
		location = "GET /kratix/?location="
		head     = "HEAD /kratix/?"
		initiate = "POST /kratix/stores/dev/.kratix-write-permission-check?uploads="
		abort    = "DELETE /kratix/stores/dev/.kratix-write-permission-check?uploadId=upload-1"
	)
	tests := map[string]struct {
		answers      map[string]s3Answer
		target       func(Target) Target
		want         *Failure
		wantRequests []string
	}{
		"a bucket the credentials may write to passes and the check upload is aborted": {
			wantRequests: []string{location, head, initiate, abort},
		},
		"a store without a path checks at the root of the bucket": {
			target: func(t Target) Target { t.Path = ""; return t },
			wantRequests: []string{location, head,
				"POST /kratix/.kratix-write-permission-check?uploads=",
				"DELETE /kratix/.kratix-write-permission-check?uploadId=upload-1"},
		},
		"a path with a leading slash checks at the key Kratix writes, slash included": {
			target: func(t Target) Target { t.Path = "/stores//dev/"; return t },
			wantRequests: []string{location, head,
				"POST /kratix//stores/dev/.kratix-write-permission-check?uploads=",
				"DELETE /kratix//stores/dev/.kratix-write-permission-check?uploadId=upload-1"},
		},
		"a missing bucket is reported as BucketNotFound": {
			answers: map[string]s3Answer{"location": {status: 404, code: "NoSuchBucket"}},
			want: &Failure{Reason: ReasonBucketNotFound,
				Message: `bucket "kratix" does not exist at "ENDPOINT"; create it or correct bucketName`},
			wantRequests: []string{location},
		},
		"a bucket that HEAD does not find is reported as BucketNotFound": {
			answers: map[string]s3Answer{"head": {status: 404}},
			want: &Failure{Reason: ReasonBucketNotFound,
				Message: `bucket "kratix" does not exist at "ENDPOINT"; create it or correct bucketName`},
			wantRequests: []string{location, head},
		},
		"a wrong secret key is reported as SignatureDoesNotMatch": {
			answers: map[string]s3Answer{"location": {status: 403, code: "SignatureDoesNotMatch"}},
			want: &Failure{Reason: ReasonSignatureMismatch,
				Message: "the secret access key is wrong; check secretAccessKey in the Secret"},
			wantRequests: []string{location},
		},
		"an unknown access key is reported as InvalidAccessKeyId": {
			answers: map[string]s3Answer{"location": {status: 403, code: "InvalidAccessKeyId"}},
			want: &Failure{Reason: ReasonInvalidAccessKeyID,
				Message: "the access key ID is not known to the endpoint; check accessKeyID in the Secret"},
			wantRequests: []string{location},
		},
		"credentials that may not write are reported as AccessDenied": {
			answers: map[string]s3Answer{"initiate": {status: 403, code: "AccessDenied"}},
			want: &Failure{Reason: ReasonAccessDenied,
				Message: `the credentials may not write to bucket "kratix" (creating "stores/dev/.kratix-write-permission-check" was denied); allow s3:PutObject there`},
			wantRequests: []string{location, head, initiate},
		},
		"credentials that may not read are reported as AccessDenied and the upload is still aborted": {
			answers: map[string]s3Answer{
				"location": {status: 403, code: "AccessDenied"},
				"head":     {status: 403},
			},
			want: &Failure{Reason: ReasonAccessDenied,
				Message: `the credentials may not read bucket "kratix"; allow s3:ListBucket on it`},
			wantRequests: []string{location, head, initiate, abort},
		},
		"a wrong secret key behind a bodiless 403 to HEAD is still reported as SignatureDoesNotMatch": {
			answers: map[string]s3Answer{
				"location": {status: 403, code: "AccessDenied"},
				"head":     {status: 403},
				"initiate": {status: 403, code: "SignatureDoesNotMatch"},
			},
			want: &Failure{Reason: ReasonSignatureMismatch,
				Message: "the secret access key is wrong; check secretAccessKey in the Secret"},
			wantRequests: []string{location, head, initiate},
		},
		"an S3 error the prober does not handle is reported as Unknown with its code and status": {
			answers: map[string]s3Answer{"location": {status: 503, code: "SlowDown"}},
			want: &Failure{Reason: ReasonUnknown,
				Message: `"ENDPOINT" answered S3 error SlowDown (HTTP 503) while checking bucket "kratix"`},
			wantRequests: []string{location},
		},
		"an error code that S3 does not use is reported as Unknown without the code": {
			answers: map[string]s3Answer{"location": {status: 404, code: "XAdminUserNotFound"}},
			want: &Failure{Reason: ReasonUnknown,
				Message: `"ENDPOINT" answered with an error code that S3 does not use while checking bucket "kratix"; check endpoint`},
			wantRequests: []string{location},
		},
		"an endpoint that does not speak S3 is reported as NotS3": {
			answers: map[string]s3Answer{"location": {status: 418, body: "<html>teapot</html>"}},
			want: &Failure{Reason: ReasonNotS3,
				Message: `"ENDPOINT" did not answer as an S3 API; check that endpoint is the host and port of the S3 API`},
			wantRequests: []string{location},
		},
		"an HTTP server that answers 200 with a page that is not S3's is reported as NotS3": {
			answers: map[string]s3Answer{"initiate": {status: 200, body: "<banner>secret-banner</banner>"}},
			want: &Failure{Reason: ReasonNotS3,
				Message: `"ENDPOINT" did not answer as an S3 API; check that endpoint is the host and port of the S3 API`},
			wantRequests: []string{location, head, initiate},
		},
		"accessKey without a secret is reported as CredentialsUnavailable without a request": {
			target: func(t Target) Target { t.Credentials = &Credentials{AccessKeyID: "AKIAFAKE"}; return t },
			want: &Failure{Reason: ReasonCredentialsUnavailable,
				Message: "authMethod accessKey needs accessKeyID and secretAccessKey from the Secret"},
		},
		"an unknown auth method is reported as InvalidTarget": {
			target: func(t Target) Target { t.AuthMethod = "oidc"; return t },
			want: &Failure{Reason: ReasonInvalidTarget,
				Message: `authMethod "oidc" is not supported; use accessKey or IAM`},
		},
		"an invalid bucket name is reported as InvalidTarget": {
			target: func(t Target) Target { t.Bucket = "ab"; return t },
			want: &Failure{Reason: ReasonInvalidTarget,
				Message: `bucketName "ab" is not a valid S3 bucket name`},
		},
		"an endpoint with a path is reported as InvalidTarget": {
			target: func(t Target) Target { t.Endpoint += "/s3"; return t },
			want: &Failure{Reason: ReasonInvalidTarget,
				Message: `endpoint "ENDPOINT/s3" is not valid: must be host[:port] without a scheme or path`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fake := newFakeS3(tc.answers)
			srv := fake.start(t, false)
			endpoint := srv.Listener.Addr().String()
			target := testTarget(endpoint)
			if tc.target != nil {
				target = tc.target(target)
			}
			reason := string(ReasonOK)
			if tc.want != nil {
				reason = string(tc.want.Reason)
			}
			before := testutil.ToFloat64(probesTotal.WithLabelValues(reason))

			err := mustProber(t, S3Options{Timeout: 5 * time.Second}).Probe(context.Background(), target)

			checkFailure(t, err, withEndpoint(tc.want, endpoint))
			if got := fake.seen(); !reflect.DeepEqual(got, tc.wantRequests) {
				t.Errorf("requests:\ngot  %q\nwant %q", got, tc.wantRequests)
			}
			if got := testutil.ToFloat64(probesTotal.WithLabelValues(reason)) - before; got != 1 {
				t.Errorf("probes_total{reason=%q} grew by %v, want 1", reason, got)
			}
			if err != nil && strings.Contains(err.Error(), testSecret) {
				t.Errorf("the failure names the secret: %v", err)
			}
		})
	}
}

func TestS3ProberSignsWithTheStaticKeys(t *testing.T) {
	fake := newFakeS3(nil)
	srv := fake.start(t, false)

	if err := mustProber(t, S3Options{}).Probe(context.Background(), testTarget(srv.Listener.Addr().String())); err != nil {
		t.Fatal(err)
	}
	requests := fake.seen()
	auths, _ := fake.signatures()
	for i, auth := range auths {
		if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIAFAKE/") {
			t.Errorf("request %q signed with %q, want the access key AKIAFAKE", requests[i], auth)
		}
		if strings.Contains(auth, testSecret) {
			t.Errorf("request %q carries the secret", requests[i])
		}
	}
}

func TestS3ProberAgainstBrokenEndpoints(t *testing.T) {
	tests := map[string]struct {
		// endpoint returns the endpoint to probe and whether the store says insecure.
		endpoint func(t *testing.T) (string, bool)
		want     *Failure
	}{
		"a closed port is reported as ConnectionRefused": {
			endpoint: func(t *testing.T) (string, bool) { return closedPort(t), true },
			want: &Failure{Reason: ReasonConnectionRefused,
				Message: `"ENDPOINT" refused the connection; check the host and port in endpoint and that the S3 server is running`},
		},
		"a self-signed certificate is reported as TLSCertificateUntrusted": {
			endpoint: func(t *testing.T) (string, bool) {
				return newFakeS3(nil).start(t, true).Listener.Addr().String(), false
			},
			want: &Failure{Reason: ReasonTLSUntrusted,
				Message: `the certificate of "ENDPOINT" is not trusted (it is signed by an unknown authority); ` +
					`add its CA to the webhook's trust bundle (SSL_CERT_FILE) or fix the certificate; ` +
					`insecure: true means plain HTTP, not skipping verification`},
		},
		"HTTPS to a plain HTTP server is reported as TLSMismatch": {
			endpoint: func(t *testing.T) (string, bool) {
				return newFakeS3(nil).start(t, false).Listener.Addr().String(), false
			},
			want: &Failure{Reason: ReasonTLSMismatch,
				Message: `"ENDPOINT" speaks plain HTTP, not HTTPS; set insecure: true to use plain HTTP, or point endpoint at the HTTPS port`},
		},
		"plain HTTP to an HTTPS server is reported as TLSMismatch": {
			endpoint: func(t *testing.T) (string, bool) {
				return newFakeS3(nil).start(t, true).Listener.Addr().String(), true
			},
			want: &Failure{Reason: ReasonTLSMismatch,
				Message: `"ENDPOINT" expects HTTPS, but insecure: true makes the probe use plain HTTP; set insecure: false`},
		},
		"a service that is not HTTP is reported as NotS3 without its banner": {
			endpoint: func(t *testing.T) (string, bool) {
				return bannerService(t, "SSH-2.0-OpenSSH_9.6 secret-banner\r\n"), true
			},
			want: &Failure{Reason: ReasonNotS3,
				Message: `"ENDPOINT" did not answer as an S3 API; check that endpoint is the host and port of the S3 API`},
		},
		"a service that answers with an HTTP status line of its own is reported as NotS3 without it": {
			endpoint: func(t *testing.T) (string, bool) { return bannerService(t, "HTTP/1.1 secret-banner\r\n\r\n"), true },
			want: &Failure{Reason: ReasonNotS3,
				Message: `"ENDPOINT" did not answer as an S3 API; check that endpoint is the host and port of the S3 API`},
		},
		"the kubelet's port is refused before anything is dialled": {
			endpoint: func(t *testing.T) (string, bool) { return "127.0.0.1:10250", true },
			want: &Failure{Reason: ReasonEndpointForbidden,
				Message: `endpoint "127.0.0.1" is refused: port 10250 belongs to the cluster's control plane (kubelet)`},
		},
		"the metadata address is refused before anything is dialled": {
			endpoint: func(t *testing.T) (string, bool) { return "169.254.169.254:80", true },
			want: &Failure{Reason: ReasonEndpointForbidden,
				Message: `endpoint "169.254.169.254" is refused: link-local address 169.254.0.0/16 (cloud metadata)`},
		},
		"a decimal spelling of the metadata address is refused before anything is dialled": {
			endpoint: func(t *testing.T) (string, bool) { return "2852039166:80", true },
			want: &Failure{Reason: ReasonEndpointForbidden,
				Message: `endpoint "2852039166" is refused: it means 169.254.169.254, link-local address 169.254.0.0/16 (cloud metadata)`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			endpoint, insecure := tc.endpoint(t)
			target := testTarget(endpoint)
			target.Insecure = insecure

			err := mustProber(t, S3Options{Timeout: 5 * time.Second}).Probe(context.Background(), target)

			checkFailure(t, err, withEndpoint(tc.want, endpoint))
		})
	}
}

func TestS3ProberTimesOutWithinItsBudget(t *testing.T) {
	const budget = 300 * time.Millisecond
	for name, insecure := range map[string]bool{
		"a black hole over plain HTTP times out at the budget":          true,
		"a black hole during the TLS handshake times out at the budget": false,
	} {
		t.Run(name, func(t *testing.T) {
			target := testTarget(blackHole(t))
			target.Insecure = insecure

			err := mustProber(t, S3Options{Timeout: budget}).Probe(context.Background(), target)

			checkFailure(t, err, &Failure{Reason: ReasonTimeout, Message: "timed out after 300ms" + timeoutAdvice})
			// The budget ended the probe, not one of the transport's own, longer, timeouts.
			if !errors.Is(err, errBudget) {
				t.Errorf("the probe ended with %v, want its budget's end", err)
			}
		})
	}
}

func TestS3ProberAbortsTheUploadAfterTheBudgetRanOut(t *testing.T) {
	// The abort is held back past the probe's budget: the probe still succeeds when its
	// budget ends, without waiting for it, and the abort still happens.
	gate := make(chan struct{})
	fake := newFakeS3(map[string]s3Answer{"abort": {gate: gate}})
	srv := fake.start(t, false)
	prober := mustProber(t, S3Options{Timeout: time.Second})
	prober.abortTimeout = time.Minute

	err := prober.Probe(context.Background(), testTarget(srv.Listener.Addr().String()))

	if err != nil {
		t.Fatalf("want success, got %v", err)
	}
	select {
	case <-fake.aborted:
		t.Fatal("the abort was answered before the probe returned, although it was held back")
	default:
	}
	close(gate)
	<-fake.aborted
	if got := fake.seen(); len(got) != 4 || !strings.HasPrefix(got[3], "DELETE ") {
		t.Errorf("requests %q, want the probe's 4 ending with the abort", got)
	}
}

// startTrusted serves fake over TLS with a certificate that probers built afterwards
// trust, through SSL_CERT_FILE, and returns its endpoint.
func startTrusted(t *testing.T, fake *fakeS3) string {
	t.Helper()
	srv := fake.start(t, true)
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(bundle, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSL_CERT_FILE", bundle)
	return srv.Listener.Addr().String()
}

func TestS3ProberTrustsTheCAInSSLCertFile(t *testing.T) {
	fake := newFakeS3(nil)
	target := testTarget(startTrusted(t, fake))
	target.Insecure = false

	if err := mustProber(t, S3Options{}).Probe(context.Background(), target); err != nil {
		t.Fatalf("want success over TLS, got %v", err)
	}
	if got := len(fake.seen()); got != 4 {
		t.Errorf("want 4 requests, got %q", fake.seen())
	}
}

func TestS3ProberRefusesWhatADeniedNameResolvesTo(t *testing.T) {
	fake := newFakeS3(nil)
	srv := fake.start(t, false)
	_, port, _ := strings.Cut(srv.Listener.Addr().String(), ":")
	guard := mustGuard(t, []string{"127.0.0.0/8", "::1/128"}, nil)

	err := mustProber(t, S3Options{Guard: guard}).Probe(context.Background(), testTarget("localhost:"+port))

	checkFailure(t, err, &Failure{Reason: ReasonEndpointForbidden,
		Message: `endpoint "localhost" is refused: it resolves to 127.0.0.1, denied range 127.0.0.0/8`})
	if got := fake.seen(); len(got) != 0 {
		t.Errorf("the denied endpoint got requests %q", got)
	}
}

func TestTrustedRootsRefusesAnUnusableBundle(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		file, want string
	}{
		"a missing file": {filepath.Join(dir, "missing.pem"), "cannot read the probe's trust bundle"},
		"an empty file":  {empty, "holds no PEM certificate"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("SSL_CERT_FILE", tc.file)
			p, err := NewS3Prober(S3Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || p != nil {
				t.Fatalf("NewS3Prober = %v, %v; want no prober and an error saying %q", p, err, tc.want)
			}
		})
	}
}

// bannerService returns a local endpoint that writes banner to every connection and
// closes it, as a service that is not S3 would.
func bannerService(t *testing.T, banner string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(banner))
			_ = c.Close()
		}
	}()
	return l.Addr().String()
}
