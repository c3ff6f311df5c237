package probe

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenResponseBytes bounds the GitHub API's answer with an installation token. The
// answer lists the repositories the installation may reach, about 1 KiB each when the
// App is limited to chosen ones; 1 MiB is several hundred of them.
const MaxTokenResponseBytes = 1 << 20

// installationToken mints an installation token for a githubApp store, as Kratix does:
// a JWT signed with the App's private key, issued by the App ID, exchanged at the GitHub
// API's POST /app/installations/{installationID}/access_tokens. The API's host is
// dialled through the guard, as the Git host is.
func (p *GitRepoProber) installationToken(s gitScene, c *GitCredentials) (string, error) {
	if c.AppID == "" || c.InstallationID == "" || len(c.PrivateKey) == 0 {
		return "", &Failure{Reason: ReasonCredentialsUnavailable, Message: "authMethod githubApp needs appID, installationID and privateKey from the Secret"}
	}
	if _, err := strconv.ParseUint(c.AppID, 10, 64); err != nil {
		return "", &Failure{Reason: ReasonCredentialsUnavailable, Message: "appID in the Secret must be the App's number"}
	}
	if _, err := strconv.ParseUint(c.InstallationID, 10, 64); err != nil {
		return "", &Failure{Reason: ReasonCredentialsUnavailable, Message: "installationID in the Secret must be the installation's number"}
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM(c.PrivateKey)
	if err != nil {
		return "", &Failure{Reason: ReasonCredentialsUnavailable, Message: "privateKey in the Secret is not a PEM RSA private key, as GitHub gives an App"}
	}
	now := time.Now()
	signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
		Issuer: c.AppID,
		// GitHub's advice: a minute in the past against clock drift, at most 10 minutes long.
		IssuedAt:  jwt.NewNumericDate(now.Add(-time.Minute)),
		ExpiresAt: jwt.NewNumericDate(now.Add(5 * time.Minute)),
	}).SignedString(key)
	if err != nil {
		return "", &Failure{Reason: ReasonCredentialsUnavailable, Message: "the App's JWT could not be signed with privateKey", Err: err}
	}
	u := *p.apiURL
	u.Path += "/app/installations/" + c.InstallationID + "/access_tokens"
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return "", &Failure{Reason: ReasonInvalidTarget, Message: "the GitHub API URL is not valid", Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+signed)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	resp, err := p.verified.Do(req)
	if err != nil {
		s.ep = apiEndpoint(p)
		f := classifyGit(err, s)
		if f.Reason == ReasonNameNotResolved {
			// Not the url's host: the API's, which the store does not name.
			f.Message = fmt.Sprintf("minting the App's installation token: host %q of the GitHub API (%s) could not be resolved; check the cluster's DNS, or ask the operator to set --github-api-url", p.apiURL.Hostname(), p.apiURL)
			return "", f
		}
		f.Message = "minting the App's installation token: " + f.Message
		return "", f
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusCreated {
		return "", &Failure{Reason: ReasonGitHubAppTokenRefused, Message: fmt.Sprintf(
			"the GitHub API at %q refused an installation token for App %q, installation %s (HTTP %d); %s",
			p.apiURL.Host, c.AppID, c.InstallationID, resp.StatusCode, tokenAdvice(resp.StatusCode))}
	}
	var answer struct {
		Token string `json:"token"`
	}
	body := &capped{r: resp.Body, left: MaxTokenResponseBytes}
	if err := json.NewDecoder(body).Decode(&answer); err != nil || answer.Token == "" {
		if body.exceeded {
			return "", &Failure{Reason: ReasonResponseTooLarge, Message: fmt.Sprintf(
				"the GitHub API at %q answered with more than %d MiB for an installation token", p.apiURL.Host, MaxTokenResponseBytes>>20)}
		}
		return "", &Failure{Reason: ReasonGitHubAppTokenRefused, Message: fmt.Sprintf(
			"the GitHub API at %q answered without an installation token; check --github-api-url", p.apiURL.Host), Err: err}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	return answer.Token, nil
}

// tokenAdvice says what GitHub's status means for the App's keys.
func tokenAdvice(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "the JWT was not accepted: check appID and privateKey"
	case http.StatusNotFound:
		return "the App has no such installation: check installationID"
	case http.StatusForbidden:
		return "the installation is suspended or the App may not create tokens"
	}
	return "check appID, installationID and privateKey"
}

// apiEndpoint is the GitHub API's host and port, for the messages of a failed dial.
func apiEndpoint(p *GitRepoProber) *transport.Endpoint {
	port, _ := strconv.Atoi(p.apiURL.Port())
	return &transport.Endpoint{Protocol: p.apiURL.Scheme, Host: p.apiURL.Hostname(), Port: port}
}
