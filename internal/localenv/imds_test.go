package localenv

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

func startTestIMDS(t *testing.T, source IMDSCredentialSource) *IMDS {
	t.Helper()
	m, err := StartIMDS(IMDSOptions{Role: "test-role", Credentials: source})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop() })
	return m
}

// TestIMDSServesMinioGoIAM checks the stand-in against the client it stands in for:
// minio-go's credentials.IAM, as the webhook's --iam-endpoint uses it.
func TestIMDSServesMinioGoIAM(t *testing.T) {
	expiry := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	tests := map[string]struct {
		source  IMDSCredentialSource
		want    credentials.Value
		wantErr string
	}{
		"temporary credentials come with their session token and expiry": {
			source: func(context.Context) (credentials.Value, error) {
				return credentials.Value{AccessKeyID: "ASIATEMP", SecretAccessKey: "temp-secret", SessionToken: "session", Expiration: expiry}, nil
			},
			want: credentials.Value{AccessKeyID: "ASIATEMP", SecretAccessKey: "temp-secret", SessionToken: "session", Expiration: expiry, SignerType: credentials.SignatureV4},
		},
		"static credentials come without a session token": {
			source: StaticIMDSCredentials("AKIASTATIC", "static-secret"),
			want:   credentials.Value{AccessKeyID: "AKIASTATIC", SecretAccessKey: "static-secret", SignerType: credentials.SignatureV4},
		},
		"an instance without a role has no credentials": {
			wantErr: "404 Not Found",
		},
		"a role whose credentials cannot be had reports it in the document": {
			source: func(context.Context) (credentials.Value, error) {
				return credentials.Value{}, errors.New("STS is down")
			},
			wantErr: "the stand-in could not get the role's credentials: STS is down",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m := startTestIMDS(t, tc.source)
			iam := &credentials.IAM{Endpoint: m.URL}
			got, err := iam.RetrieveWithCredContext(&credentials.CredContext{Client: http.DefaultClient, Context: context.Background()})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Retrieve error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Retrieve: %v", err)
			}
			if !tc.want.Expiration.IsZero() {
				got.Expiration = got.Expiration.UTC()
			} else {
				if d := time.Until(got.Expiration); d < 55*time.Minute || d > time.Hour {
					t.Errorf("credentials without an expiry are served as expiring in %s, want an hour", d)
				}
				got.Expiration = time.Time{}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Retrieve (-want +got):\n%s", diff)
			}
			if n := m.CredentialRequests(); n != 1 {
				t.Errorf("CredentialRequests = %d, want 1", n)
			}
		})
	}
}

// TestIMDSRequiresTokens checks the IMDSv2 rules EC2 enforces when tokens are required.
func TestIMDSRequiresTokens(t *testing.T) {
	m := startTestIMDS(t, StaticIMDSCredentials("AKIASTATIC", "static-secret"))
	token := func(t *testing.T, header http.Header) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, m.URL+"/latest/api/token", nil)
		req.Header = header
		return do(t, req)
	}
	get := func(t *testing.T, path, tok string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, m.URL+path, nil)
		if tok != "" {
			req.Header.Set("X-aws-ec2-metadata-token", tok)
		}
		code, _ := do(t, req)
		return code
	}
	ttl := func(v string) http.Header { return http.Header{"X-Aws-Ec2-Metadata-Token-Ttl-Seconds": {v}} }

	code, tok := token(t, ttl("21600"))
	if code != http.StatusOK || tok == "" {
		t.Fatalf("PUT /latest/api/token with a TTL: HTTP %d %q, want 200 and a token", code, tok)
	}
	tests := map[string]struct {
		code int
		want int
	}{
		"a token request without a TTL is refused":             {code: first(token(t, http.Header{})), want: http.StatusBadRequest},
		"a token request with a TTL over six hours is refused": {code: first(token(t, ttl("21601"))), want: http.StatusBadRequest},
		"a token request through a proxy is refused": {
			code: first(token(t, http.Header{"X-Aws-Ec2-Metadata-Token-Ttl-Seconds": {"60"}, "X-Forwarded-For": {"10.0.0.1"}})),
			want: http.StatusForbidden,
		},
		"metadata without a token is refused":        {code: get(t, "/latest/meta-data/iam/security-credentials/", ""), want: http.StatusUnauthorized},
		"metadata with an unknown token is refused":  {code: get(t, "/latest/meta-data/iam/security-credentials/", "forged"), want: http.StatusUnauthorized},
		"the role list is served with a token":       {code: get(t, "/latest/meta-data/iam/security-credentials/", tok), want: http.StatusOK},
		"the role's credentials are served":          {code: get(t, "/latest/meta-data/iam/security-credentials/test-role", tok), want: http.StatusOK},
		"another role's credentials are not found":   {code: get(t, "/latest/meta-data/iam/security-credentials/other", tok), want: http.StatusNotFound},
		"other metadata is not found":                {code: get(t, "/latest/meta-data/instance-id", tok), want: http.StatusNotFound},
		"paths outside /latest are not found at all": {code: get(t, "/", tok), want: http.StatusNotFound},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if tc.code != tc.want {
				t.Errorf("HTTP %d, want %d", tc.code, tc.want)
			}
		})
	}
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func first(code int, _ string) int { return code }
