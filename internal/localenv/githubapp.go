package localenv

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// GitHubApp is a local stand-in for the one GitHub API call a githubApp store needs:
// POST /app/installations/{id}/access_tokens. It checks the App's JWT with the App's
// public key, as GitHub does, and answers with an installation token that its
// GitServer lets in as x-access-token.
type GitHubApp struct {
	// URL is the API base, http://127.0.0.1:<port>: the probe's --github-api-url.
	URL string
	// AppID and InstallationID are the App's and its one installation's.
	AppID, InstallationID string
	// PrivateKey is the App's RSA key in PEM, as GitHub gives it.
	PrivateKey []byte

	git  *GitServer
	key  *rsa.PrivateKey
	srv  *http.Server
	push bool
}

// StartGitHubApp serves the stand-in for an App whose tokens git lets in, with the
// right to push when push is set.
func StartGitHubApp(git *GitServer, push bool) (*GitHubApp, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &GitHubApp{
		URL:            "http://" + l.Addr().String(),
		AppID:          "123456",
		InstallationID: "7890",
		PrivateKey:     pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		git:            git,
		key:            key,
		push:           push,
	}
	a.srv = &http.Server{Handler: a, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = a.srv.Serve(l) }()
	return a, nil
}

// Stop stops the stand-in.
func (a *GitHubApp) Stop() error { return a.srv.Close() }

// ServeHTTP answers the access token request as GitHub does: 401 to a JWT the App's key
// did not sign or that is not the App's, 404 to another installation, 201 with a token.
func (a *GitHubApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutPrefix(r.URL.Path, "/app/installations/")
	id, ok2 := strings.CutSuffix(id, "/access_tokens")
	if r.Method != http.MethodPost || !ok || !ok2 {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	_, err := jwt.Parse(bearer, func(*jwt.Token) (any, error) { return &a.key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(a.AppID), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "A JSON web token could not be decoded"})
		return
	}
	if id != a.InstallationID {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	token := "ghs_" + randomHex(18)
	a.git.AddToken(token, a.push)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"token":       token,
		"expires_at":  time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		"permissions": map[string]string{"contents": map[bool]string{true: "write", false: "read"}[a.push]},
	})
}
