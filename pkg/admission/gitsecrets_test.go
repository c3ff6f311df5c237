package admission

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
)

// gitTestKeys are keys made once for the Secret checks' tests.
type gitTestKeys struct {
	sshKey, sshKeyWithPassphrase []byte // OpenSSH private keys
	hostKey                      string // an authorized_keys line's key part
	appKeyPKCS1, appKeyPKCS8     []byte // RSA, PEM
	ecKey                        []byte // EC, PEM: not what GitHub issues
}

func newGitTestKeys(t *testing.T) gitTestKeys {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	must(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "")
	must(t, err)
	locked, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("secret"))
	must(t, err)
	hostPub, _, err := ed25519.GenerateKey(rand.Reader)
	must(t, err)
	hostKey, err := ssh.NewPublicKey(hostPub)
	must(t, err)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	must(t, err)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	must(t, err)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	ecDER, err := x509.MarshalECPrivateKey(ec)
	must(t, err)
	return gitTestKeys{
		sshKey:               pem.EncodeToMemory(block),
		sshKeyWithPassphrase: pem.EncodeToMemory(locked),
		hostKey:              string(ssh.MarshalAuthorizedKey(hostKey))[:len(ssh.MarshalAuthorizedKey(hostKey))-1],
		appKeyPKCS1:          pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}),
		appKeyPKCS8:          pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		ecKey:                pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}),
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestValidateGitSecret(t *testing.T) {
	keys := newGitTestKeys(t)
	fld, shown := field.NewPath("spec", "secretRef"), "default/git"
	const (
		httpsURL  = "https://git.example.com/platform/state.git"
		githubURL = "https://github.com/org/state.git"
		scpURL    = "git@git.example.com:platform/state.git"
		portURL   = "ssh://git@git.example.com:2222/platform/state.git"
	)
	type data = map[string]string
	sshData := func(knownHosts string) data {
		return data{"sshPrivateKey": string(keys.sshKey), "knownHosts": knownHosts}
	}
	appData := func(appID, installationID string, key []byte) data {
		return data{"appID": appID, "installationID": installationID, "privateKey": string(key)}
	}
	notFound := func(key string) field.ErrorList {
		return field.ErrorList{field.Invalid(fld, shown, fmt.Sprintf("key %q of Secret default/git has no entry for %s, so ssh refuses the host (Kratix runs it with StrictHostKeyChecking=yes); add the host's key, e.g. from %s, checked against what the host's owner publishes", "knownHosts", key, `"ssh-keyscan git.example.com"`))}
	}
	trailing := func(key, what, effect string) field.ErrorList {
		return field.ErrorList{field.Invalid(fld, shown, messageTrailingWhitespace(key, shown, what, effect))}
	}
	hashed := knownhosts.HashHostname("git.example.com")
	tests := map[string]struct {
		method, url  string
		data         data
		want         field.ErrorList
		wantWarnings []string
	}{
		"basicAuth with a username and a password passes": {
			method: "basicAuth", url: httpsURL, data: data{"username": "bot", "password": "token"},
		},
		"basicAuth without a password is rejected": {
			method: "basicAuth", url: httpsURL, data: data{"username": "bot"},
			want: field.ErrorList{field.Required(fld, `Secret default/git has no key "password"`)},
		},
		"basicAuth with an empty password is rejected": {
			method: "basicAuth", url: httpsURL, data: data{"username": "bot", "password": ""},
			want: field.ErrorList{field.Required(fld, `key "password" of Secret default/git is empty`)},
		},
		"basicAuth without a username passes with a warning": {
			method: "basicAuth", url: httpsURL, data: data{"password": "token"},
			wantWarnings: []string{fmt.Sprintf(WarningSecretNoUsername, `"default/git"`, "username")},
		},
		"basicAuth without a username on GitHub passes: Kratix sends x-access-token": {
			method: "basicAuth", url: githubURL, data: data{"password": "token"},
		},
		"a password with a trailing newline is rejected (Kratix #624)": {
			method: "basicAuth", url: httpsURL, data: data{"username": "bot", "password": "token\n"},
			want: trailing("password", "a newline", "the server refuses the credentials"),
		},
		"a username with a trailing CRLF is rejected": {
			method: "basicAuth", url: httpsURL, data: data{"username": "bot\r\n", "password": "token"},
			want: trailing("username", "a newline", "the server refuses the credentials"),
		},
		"a password with a trailing space is rejected: Kratix sends it and the server refuses it": {
			method: "basicAuth", url: httpsURL, data: data{"username": "bot", "password": "token "},
			want: trailing("password", "a space or a tab", "the server refuses the credentials"),
		},
		"ssh with a key and the host in knownHosts passes": {
			method: "ssh", url: scpURL, data: sshData("git.example.com " + keys.hostKey + "\n"),
		},
		"ssh without knownHosts is rejected": {
			method: "ssh", url: scpURL, data: data{"sshPrivateKey": string(keys.sshKey)},
			want: field.ErrorList{field.Required(fld, `Secret default/git has no key "knownHosts"`)},
		},
		"an ssh key with a passphrase is rejected": {
			method: "ssh", url: scpURL, data: data{"sshPrivateKey": string(keys.sshKeyWithPassphrase), "knownHosts": "git.example.com " + keys.hostKey},
			want: field.ErrorList{field.Invalid(fld, shown, `key "sshPrivateKey" of Secret default/git is encrypted with a passphrase, which Kratix cannot give; store the key without one (ssh-keygen -p -N '' -f <key>)`)},
		},
		"an ssh key that does not parse is rejected": {
			method: "ssh", url: scpURL, data: data{"sshPrivateKey": "ssh-ed25519 AAAA... a public key", "knownHosts": "git.example.com " + keys.hostKey},
			want: field.ErrorList{field.Invalid(fld, shown, `key "sshPrivateKey" of Secret default/git is not an SSH private key Kratix can read; store the private key file (OpenSSH or PEM) as it is`)},
		},
		"knownHosts without the URL's host is rejected": {
			method: "ssh", url: scpURL, data: sshData("github.com " + keys.hostKey),
			want: notFound(`"git.example.com"`),
		},
		"the plain host's entry counts for another port, as OpenSSH falls back to it": {
			method: "ssh", url: portURL, data: sshData("git.example.com " + keys.hostKey),
		},
		"another host's entry for another port is rejected, naming [host]:port": {
			method: "ssh", url: portURL, data: sshData("[github.com]:2222 " + keys.hostKey),
			want: field.ErrorList{field.Invalid(fld, shown, fmt.Sprintf("key %q of Secret default/git has no entry for %s, so ssh refuses the host (Kratix runs it with StrictHostKeyChecking=yes); add the host's key, e.g. from %s, checked against what the host's owner publishes", "knownHosts", `"[git.example.com]:2222"`, `"ssh-keyscan -p 2222 git.example.com"`))},
		},
		"a [host]:22 entry does not count for port 22, as OpenSSH looks up the plain host": {
			method: "ssh", url: scpURL, data: sshData("[git.example.com]:22 " + keys.hostKey),
			want: notFound(`"git.example.com"`),
		},
		"an ssh key with CRLF line ends is rejected: OpenSSH refuses it": {
			method: "ssh", url: scpURL, data: data{"sshPrivateKey": strings.ReplaceAll(string(keys.sshKey), "\n", "\r\n"), "knownHosts": "git.example.com " + keys.hostKey},
			want: field.ErrorList{field.Invalid(fld, shown, `key "sshPrivateKey" of Secret default/git has CRLF line ends: Go reads the key, but OpenSSH, which Kratix's git runs, refuses it; store the key with LF line ends`)},
		},
		"an ssh key after a blank line is rejected: OpenSSH refuses it": {
			method: "ssh", url: scpURL, data: data{"sshPrivateKey": "\n" + string(keys.sshKey), "knownHosts": "git.example.com " + keys.hostKey},
			want: field.ErrorList{field.Invalid(fld, shown, `key "sshPrivateKey" of Secret default/git has text before its -----BEGIN line: Go reads the key, but OpenSSH, which Kratix's git runs, refuses it; store the key file as it is`)},
		},
		"knownHosts with [host]:port passes for that port": {
			method: "ssh", url: portURL, data: sshData("[git.example.com]:2222 " + keys.hostKey),
		},
		"a hashed knownHosts entry passes": {
			method: "ssh", url: scpURL, data: sshData(hashed + " " + keys.hostKey),
		},
		"a wildcard knownHosts entry passes": {
			method: "ssh", url: scpURL, data: sshData("*.example.com " + keys.hostKey),
		},
		"a negated pattern keeps the host out": {
			method: "ssh", url: scpURL, data: sshData("*.example.com,!git.example.com " + keys.hostKey),
			want: notFound(`"git.example.com"`),
		},
		"a revoked key does not count": {
			method: "ssh", url: scpURL, data: sshData("@revoked git.example.com " + keys.hostKey),
			want: notFound(`"git.example.com"`),
		},
		"lines that do not parse are skipped with a warning": {
			method: "ssh", url: scpURL, data: sshData("not a known_hosts line\n# a comment\ngit.example.com " + keys.hostKey + "\n"),
			wantWarnings: []string{fmt.Sprintf(WarningKnownHostsBadLines, 1, "knownHosts", `"default/git"`)},
		},
		"githubApp with numbers and a PKCS #1 key passes": {
			method: "githubApp", url: githubURL, data: appData("12345", "67890", keys.appKeyPKCS1),
		},
		"githubApp with a PKCS #8 RSA key passes": {
			method: "githubApp", url: githubURL, data: data{"appID": "1", "installationID": "2", "privateKey": string(keys.appKeyPKCS8)},
		},
		"an appID with a trailing newline is rejected (Kratix #624)": {
			method: "githubApp", url: githubURL, data: appData("12345\n", "67890", keys.appKeyPKCS1),
			want: trailing("appID", "a newline", "it is not a number to Kratix"),
		},
		"an installationID that is not a number is rejected": {
			method: "githubApp", url: githubURL, data: appData("12345", "my-install", keys.appKeyPKCS1),
			want: field.ErrorList{field.Invalid(fld, shown, `key "installationID" of Secret default/git must be the GitHub App's number, digits only, as GitHub shows it`)},
		},
		"a privateKey that is not PEM is rejected": {
			method: "githubApp", url: githubURL, data: data{"appID": "1", "installationID": "2", "privateKey": "MIIEvQIBADANBg"},
			want: field.ErrorList{field.Invalid(fld, shown, `key "privateKey" of Secret default/git is not PEM: store the .pem file GitHub gave for the App, as it is`)},
		},
		"a privateKey that is not RSA is rejected": {
			method: "githubApp", url: githubURL, data: data{"appID": "1", "installationID": "2", "privateKey": string(keys.ecKey)},
			want: field.ErrorList{field.Invalid(fld, shown, `key "privateKey" of Secret default/git must be the GitHub App's RSA private key (PKCS #1 or PKCS #8 PEM): Kratix signs its token requests with RS256`)},
		},
		"githubApp without a key is rejected": {
			method: "githubApp", url: githubURL, data: data{"appID": "1", "installationID": "2"},
			want: field.ErrorList{field.Required(fld, `Secret default/git has no key "privateKey"`)},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			secret := &corev1.Secret{Data: map[string][]byte{}}
			for k, v := range tc.data {
				secret.Data[k] = []byte(v)
			}
			spec := &v1alpha1.GitStateStoreSpec{URL: tc.url, AuthMethod: tc.method}
			got, warnings := validateGitSecret(spec, secret, shown, fld)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantWarnings, warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}
