package localenv

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7/pkg/credentials"
)

// IMDS is a stand-in for the EC2 instance metadata service, so that authMethod IAM can
// be tried on a laptop: start the webhook with --iam-endpoint=IMDS.URL and minio-go's
// credentials.IAM fetches the "instance role's" credentials from it the way it does on
// EC2. It speaks the IMDSv2 protocol as EC2 does with tokens required: PUT
// /latest/api/token with a TTL header gives a session token, and without a valid token
// every GET is answered 401.
//
// The role's credentials come from an IMDSCredentialSource, for example
// MinIO.AssumeRoleCredentials, which gives temporary keys with a session token as AWS
// does. Without a source the instance has no role: the role list is a 404, as on an
// instance without an instance profile.
type IMDS struct {
	// URL is the service's base URL, http://127.0.0.1:port, the value of --iam-endpoint.
	URL string
	// Role is the name of the instance profile's role.
	Role string

	mu                 sync.Mutex
	source             IMDSCredentialSource
	tokens             map[string]time.Time // session token -> expiry
	credentialRequests int
	server             *http.Server
	now                func() time.Time
}

// IMDSCredentialSource returns the role's current credentials; an Expiration of zero
// is served as an hour from now.
type IMDSCredentialSource func(ctx context.Context) (credentials.Value, error)

// IMDSOptions configures StartIMDS.
type IMDSOptions struct {
	// Listener, when set, is served instead of a new listener on Addr; StartIMDS takes it
	// over and Stop closes it. Callers that must know the URL before the credentials
	// exist listen first.
	Listener net.Listener
	// Addr is where to listen when Listener is nil; empty means 127.0.0.1 on a free port.
	Addr string
	// Role names the instance profile's role; empty means "localenv-instance-role".
	Role string
	// Credentials is the role's credential source; nil starts an instance without a role
	// (see SetCredentials).
	Credentials IMDSCredentialSource
}

// The protocol's paths and headers, as minio-go's credentials package names them.
const (
	imdsTokenPath       = credentials.TokenPath                   // /latest/api/token
	imdsCredentialsPath = credentials.DefaultIAMSecurityCredsPath // /latest/meta-data/iam/security-credentials/
	imdsTokenTTLHeader  = credentials.TokenRequestTTLHeader
	imdsTokenHeader     = credentials.TokenRequestHeader
	imdsMaxTokenTTL     = 21600 // seconds, EC2's limit
)

// StartIMDS serves the metadata stand-in until Stop.
func StartIMDS(opts IMDSOptions) (*IMDS, error) {
	l := opts.Listener
	if l == nil {
		addr := opts.Addr
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		var err error
		if l, err = net.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("listening for the instance metadata stand-in: %w", err)
		}
	}
	m := &IMDS{
		URL:    "http://" + l.Addr().String(),
		Role:   opts.Role,
		source: opts.Credentials,
		tokens: map[string]time.Time{},
		now:    time.Now,
	}
	if m.Role == "" {
		m.Role = "localenv-instance-role"
	}
	m.server = &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = m.server.Serve(l) }()
	return m, nil
}

// SetCredentials attaches a role's credential source, or with nil detaches the role.
func (m *IMDS) SetCredentials(source IMDSCredentialSource) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.source = source
}

// CredentialRequests counts the requests for the role's credentials answered with
// credentials, so a test can tell that a client really asked this service.
func (m *IMDS) CredentialRequests() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.credentialRequests
}

// Stop closes the server and its listener.
func (m *IMDS) Stop() error {
	if m.server == nil {
		return nil
	}
	return m.server.Close()
}

// ServeHTTP answers the token, role list and role credential requests; everything else
// is a 404, as unknown metadata paths are on EC2.
func (m *IMDS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Server", "EC2ws")
	if r.URL.Path == imdsTokenPath {
		m.serveToken(w, r)
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/latest/") {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	if !m.validToken(r.Header.Get(imdsTokenHeader)) {
		// IMDSv2 required: no token or an expired one.
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	m.mu.Lock()
	source := m.source
	m.mu.Unlock()
	switch {
	case source == nil:
		// An instance without an instance profile has no iam/ metadata at all.
		http.NotFound(w, r)
	case r.URL.Path == imdsCredentialsPath:
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(m.Role))
	case r.URL.Path == imdsCredentialsPath+m.Role:
		m.serveCredentials(w, r, source)
	default:
		http.NotFound(w, r)
	}
}

// serveToken issues a session token. EC2 refuses a PUT without a TTL from 1 to 21600
// seconds, and any token request that went through a proxy (X-Forwarded-For).
func (m *IMDS) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut {
		w.Header().Set("Allow", "PUT")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.Header.Get("X-Forwarded-For") != "" {
		http.Error(w, "Forbidden", http.StatusForbidden)
		return
	}
	ttl, err := strconv.Atoi(r.Header.Get(imdsTokenTTLHeader))
	if err != nil || ttl < 1 || ttl > imdsMaxTokenTTL {
		http.Error(w, "Bad Request", http.StatusBadRequest)
		return
	}
	b := make([]byte, 42)
	_, _ = rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	m.mu.Lock()
	now := m.now()
	for t, expiry := range m.tokens {
		if !now.Before(expiry) {
			delete(m.tokens, t)
		}
	}
	m.tokens[token] = now.Add(time.Duration(ttl) * time.Second)
	m.mu.Unlock()
	w.Header().Set(imdsTokenTTLHeader, strconv.Itoa(ttl))
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(token))
}

func (m *IMDS) validToken(token string) bool {
	if token == "" {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	expiry, ok := m.tokens[token]
	return ok && m.now().Before(expiry)
}

// imdsCredentials is the document EC2 serves for a role, field for field.
type imdsCredentials struct {
	Code            string
	LastUpdated     string
	Type            string
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
	Token           string
	Expiration      string
}

func (m *IMDS) serveCredentials(w http.ResponseWriter, r *http.Request, source IMDSCredentialSource) {
	v, err := source(r.Context())
	if err != nil {
		// EC2 reports a role it cannot get credentials for in the document's Code.
		writeJSON(w, http.StatusOK, map[string]string{
			"Code":        "AssumeRoleUnauthorizedAccess",
			"Message":     "the stand-in could not get the role's credentials: " + err.Error(),
			"LastUpdated": m.now().UTC().Format(time.RFC3339),
		})
		return
	}
	expiry := v.Expiration
	if expiry.IsZero() {
		expiry = m.now().Add(time.Hour)
	}
	m.mu.Lock()
	m.credentialRequests++
	m.mu.Unlock()
	writeJSON(w, http.StatusOK, imdsCredentials{
		Code:            "Success",
		LastUpdated:     m.now().UTC().Format(time.RFC3339),
		Type:            "AWS-HMAC",
		AccessKeyID:     v.AccessKeyID,
		SecretAccessKey: v.SecretAccessKey,
		Token:           v.SessionToken,
		Expiration:      expiry.UTC().Format(time.RFC3339),
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	// EC2 serves the document as text/plain.
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// StaticIMDSCredentials serves the same long-lived keys without a session token, for
// an S3 server that has no STS.
func StaticIMDSCredentials(accessKey, secretKey string) IMDSCredentialSource {
	return func(context.Context) (credentials.Value, error) {
		return credentials.Value{AccessKeyID: accessKey, SecretAccessKey: secretKey}, nil
	}
}

// AssumeRoleCredentials serves temporary credentials that MinIO's STS AssumeRole gives
// the user accessKey, valid for duration (MinIO accepts 15 minutes to 12 hours; 0 means
// its default of an hour). Like EC2 it hands out the same credentials until they are
// close to expiring. The role's permissions are the user's.
func (m *MinIO) AssumeRoleCredentials(accessKey, secretKey string, duration time.Duration) IMDSCredentialSource {
	creds := credentials.New(&credentials.STSAssumeRole{
		Client:      &http.Client{Transport: m.transport, Timeout: 10 * time.Second},
		STSEndpoint: "https://" + m.Endpoint,
		Options: credentials.STSAssumeRoleOptions{
			AccessKey:       accessKey,
			SecretKey:       secretKey,
			DurationSeconds: int(duration / time.Second),
		},
	})
	return func(ctx context.Context) (credentials.Value, error) {
		v, err := creds.GetWithContext(&credentials.CredContext{Context: ctx})
		if err != nil {
			return credentials.Value{}, fmt.Errorf("MinIO STS AssumeRole as %q: %w", accessKey, err)
		}
		if v.AccessKeyID == "" || v.SessionToken == "" {
			return credentials.Value{}, errors.New("MinIO STS AssumeRole returned no temporary credentials")
		}
		return v, nil
	}
}
