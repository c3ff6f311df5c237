package probe

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// clearAWSEnv makes the IAM chain see neither static keys nor web identity nor a
// container credentials endpoint, so it goes to the instance metadata stand-in.
func clearAWSEnv(t *testing.T) {
	for _, v := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_REGION",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	} {
		t.Setenv(v, "")
	}
}

// fakeIMDS stands in for the EC2 instance metadata service (IMDSv2) and counts the
// credentials it hands out.
func fakeIMDS(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var issued atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /latest/api/token", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("imds-token"))
	})
	mux.HandleFunc("GET /latest/meta-data/iam/security-credentials/", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-aws-ec2-metadata-token") != "imds-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte("probe-role"))
	})
	mux.HandleFunc("GET /latest/meta-data/iam/security-credentials/probe-role", func(w http.ResponseWriter, _ *http.Request) {
		issued.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"Code":            "Success",
			"AccessKeyId":     "ASIAFAKEROLE",
			"SecretAccessKey": "role-secret-access-key",
			"Token":           "role-session-token",
			"Expiration":      time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &issued
}

func TestS3ProberWithIAM(t *testing.T) {
	clearAWSEnv(t)
	imds, issued := fakeIMDS(t)
	fake := newFakeS3(nil)
	target := iamTarget(startTrusted(t, fake))
	prober := mustProber(t, S3Options{IAMEndpoint: imds.URL, IAMEndpoints: localIAMEndpoints(t)})

	for range 2 {
		if err := prober.Probe(context.Background(), target); err != nil {
			t.Fatalf("want success, got %v", err)
		}
	}

	if got := issued.Load(); got != 1 {
		t.Errorf("the metadata service issued credentials %d times, want once for both probes", got)
	}
	requests := fake.seen()
	auths, tokens := fake.signatures()
	for i, auth := range auths {
		if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=ASIAFAKEROLE/") || tokens[i] != "role-session-token" {
			t.Errorf("request %q signed with %q and token %q, want the role's key and session token", requests[i], auth, tokens[i])
		}
	}
}

func TestS3ProberWithIAMPrefersTheEnvironment(t *testing.T) {
	clearAWSEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-from-env")
	fake := newFakeS3(nil)
	target := iamTarget(startTrusted(t, fake))

	err := mustProber(t, S3Options{IAMEndpoint: "http://" + closedPort(t), IAMEndpoints: localIAMEndpoints(t)}).Probe(context.Background(), target)

	if err != nil {
		t.Fatalf("want success, got %v", err)
	}
	if auths, _ := fake.signatures(); len(auths) == 0 || !strings.HasPrefix(auths[0], "AWS4-HMAC-SHA256 Credential=AKIAFROMENV/") {
		t.Errorf("signed with %q, want the key from the environment", auths)
	}
}

func TestS3ProberWithoutIAMCredentials(t *testing.T) {
	tests := map[string]struct {
		iamEndpoint func(t *testing.T) string
		want        *Failure
	}{
		"a metadata service that refuses connections is reported as CredentialsUnavailable": {
			iamEndpoint: func(t *testing.T) string { return "http://" + closedPort(t) },
			want: &Failure{Reason: ReasonCredentialsUnavailable,
				Message: "the webhook could not obtain IAM credentials; give its service account an IAM role " +
					"(IRSA or EKS Pod Identity) or run it with an instance profile, or use authMethod accessKey"},
		},
		"a metadata service that never answers is reported as Timeout": {
			iamEndpoint: func(t *testing.T) string { return "http://" + blackHole(t) },
			want:        &Failure{Reason: ReasonTimeout, Message: "timed out after 1.5s" + timeoutAdvice},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			clearAWSEnv(t)
			fake := newFakeS3(nil)
			target := iamTarget(startTrusted(t, fake))

			err := mustProber(t, S3Options{Timeout: 1500 * time.Millisecond, IAMEndpoint: tc.iamEndpoint(t), IAMEndpoints: localIAMEndpoints(t)}).
				Probe(context.Background(), target)

			checkFailure(t, err, tc.want)
			// A metadata service that never answers holds the probe only until its budget
			// ends, not for the IAM client's own timeouts.
			if tc.want.Reason == ReasonTimeout && !errors.Is(err, errBudget) {
				t.Errorf("the probe ended with %v, want its budget's end", err)
			}
			if got := fake.seen(); len(got) != 0 {
				t.Errorf("S3 got requests %q without credentials", got)
			}
		})
	}
}

// TestS3ProberBoundsTheIAMAnswer: the metadata service, or STS, is read as the S3
// answers are, at most MaxResponseBytes of each answer, so an endless credentials
// document ends the probe at the limit instead of filling the heap until the budget.
func TestS3ProberBoundsTheIAMAnswer(t *testing.T) {
	clearAWSEnv(t)
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /latest/api/token", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("imds-token"))
	})
	mux.HandleFunc("GET /latest/meta-data/iam/security-credentials/", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("probe-role"))
	})
	var sent atomic.Int64
	mux.HandleFunc("GET /latest/meta-data/iam/security-credentials/probe-role", func(w http.ResponseWriter, _ *http.Request) {
		n, err := w.Write([]byte(`{"Code":"Success","AccessKeyId":"`))
		sent.Add(int64(n))
		filler := []byte(strings.Repeat("A", 32<<10))
		for err == nil {
			n, err = w.Write(filler)
			sent.Add(int64(n))
		}
	})
	imds := httptest.NewServer(mux)
	t.Cleanup(imds.Close)
	fake := newFakeS3(nil)
	target := iamTarget(startTrusted(t, fake))

	err := mustProber(t, S3Options{Timeout: 20 * time.Second, IAMEndpoint: imds.URL, IAMEndpoints: localIAMEndpoints(t)}).
		Probe(context.Background(), target)

	if ReasonOf(err) != ReasonCredentialsUnavailable || !errors.Is(err, errResponseTooLarge) {
		t.Errorf("got %v, want CredentialsUnavailable because the answer was too large", err)
	}
	if got := fake.seen(); len(got) != 0 {
		t.Errorf("S3 got requests %q without credentials", got)
	}
	t.Logf("the metadata stand-in wrote %d KiB before the webhook hung up", sent.Load()>>10)
}

// iamTarget is an authMethod IAM store over HTTPS at endpoint.
func iamTarget(endpoint string) Target {
	t := testTarget(endpoint)
	t.AuthMethod, t.Credentials, t.Insecure = "IAM", nil, false
	return t
}

// localIAMEndpoints lists the local test servers as endpoints that may receive the
// webhook's IAM credentials.
func localIAMEndpoints(t *testing.T) HostList {
	t.Helper()
	l, err := ParseHostList([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestS3ProberKeepsIAMCredentialsFromUntrustedEndpoints shows that the webhook's IAM
// credentials go nowhere but to Amazon S3 and the listed endpoints, over HTTPS: no
// request reaches any other endpoint, and the credentials are not even fetched.
func TestS3ProberKeepsIAMCredentialsFromUntrustedEndpoints(t *testing.T) {
	tests := map[string]struct {
		listed, insecure, deny bool
		want                   error
	}{
		"an endpoint that is neither Amazon S3 nor listed is not probed": {
			want: &NotProbed{Reason: ReasonIAMNotTrusted, Warning: WarningIAMNotProbed},
		},
		"a listed endpoint over plain HTTP is not probed": {
			listed: true, insecure: true,
			want: &NotProbed{Reason: ReasonIAMNotTrusted, Warning: WarningIAMNotProbedPlainHTTP},
		},
		"an endpoint that is neither Amazon S3 nor listed is denied when so configured": {
			deny: true,
			want: &Failure{Reason: ReasonIAMNotTrusted, Message: `the webhook sends its IAM credentials only to Amazon S3 and --iam-endpoints, ` +
				`not to "ENDPOINT"; use authMethod accessKey or ask the operator to add the endpoint`},
		},
		"plain HTTP is denied when so configured": {
			listed: true, insecure: true, deny: true,
			want: &Failure{Reason: ReasonIAMNotTrusted, Message: "the webhook never sends its IAM credentials over plain HTTP, " +
				"and Kratix would send its session token unencrypted; set insecure: false or use authMethod accessKey"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			clearAWSEnv(t)
			imds, issued := fakeIMDS(t)
			fake := newFakeS3(nil)
			srv := fake.start(t, tc.insecure)
			endpoint := srv.Listener.Addr().String()
			target := iamTarget(endpoint)
			target.Insecure = tc.insecure
			opts := S3Options{IAMEndpoint: imds.URL, DenyUntrustedIAM: tc.deny}
			if tc.listed {
				opts.IAMEndpoints = localIAMEndpoints(t)
			}

			err := mustProber(t, opts).Probe(context.Background(), target)

			switch want := tc.want.(type) {
			case *Failure:
				checkFailure(t, err, withEndpoint(want, endpoint))
			case *NotProbed:
				var got *NotProbed
				if !errors.As(err, &got) || *got != *want {
					t.Errorf("got %v, want %v", err, want)
				}
			}
			if got := fake.seen(); len(got) != 0 {
				t.Errorf("the endpoint got requests %q", got)
			}
			if got := issued.Load(); got != 0 {
				t.Errorf("the metadata service issued credentials %d times, want none", got)
			}
		})
	}
}

func TestIAMWarningsAreShortEnoughNotToBeCut(t *testing.T) {
	for _, w := range []string{WarningIAMNotProbed, WarningIAMNotProbedPlainHTTP} {
		if len(w) >= 256 {
			t.Errorf("warning %q is %d bytes, want under 256", w, len(w))
		}
	}
}
