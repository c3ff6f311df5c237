package integration

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
	"github.com/kratix-community/statestore-webhook/pkg/admission"
)

// gitParityCase is a GitStateStore that Kratix's own GitStateStore controller was given
// in kratixGitRun, with the Ready condition it set.
type gitParityCase struct {
	// given is the store's Secret, named {{.Name}}; empty means none. yaml is the store.
	// Both are templates as in scenario.
	given, yaml string
	// kratix is the reason of the Ready condition Kratix's controller set on the store:
	// kratixReady when it was Ready, "" when it set none.
	kratix string
	// source says where Kratix's verdict comes from and what its message said.
	source string
	// want are substrings of kubectl's stderr, as in parityCase.
	want []string
	// unusable, on a store Kratix made Ready, is what Kratix's own writer did with it when
	// it wrote a file as a WorkPlacement does (kratixGitWriteCheck): it wrote nothing
	// or failed. The webhook denies such a store although Kratix calls it Ready.
	unusable string
}

// kratixGitRun is where the Git verdicts come from: Kratix's controller manager built
// from ae170e2 (the newest commit of the github.com/syntasso/kratix snapshot) with #943's
// spec.insecure applied as merged (17fdc61's api/v1alpha1/gitstatestore_types.go and
// lib/writers/git.go; deepcopy and CRD regenerated), run on 2026-12-06 against a real
// kube-apiserver and this package's Git servers (localenv.StartGitServer over HTTPS and
// plain HTTP, localenv.StartGitSSHServer), with no admission webhook registered,
// KRATIX_TLS_DATA_PATH holding no CA for 127.0.0.1, and git 2.39.5; each
// store applied on its own and its Ready condition read.
const kratixGitRun = "run of Kratix ae170e2+#943's GitStateStore controller, 2026-12-06"

// kratixGitWriteCheck is where each unusable comes from: in a run like kratixGitRun, Kratix's
// lib/writers GitWriter given the store's spec and Secret, then Init, ValidatePermissions,
// Reset and UpdateFiles of one file, as the WorkPlacement controller calls them.
const kratixGitWriteCheck = "Kratix ae170e2+#943's GitWriter writing one file, as a WorkPlacement does"

// gitTag is a tag of the Git servers' repository that TestKratixParity adds, for the
// store that names a tag as its branch.
const gitTag = "v1"

// gitParityScenarios are the Git parity stores as scenarios, named by Kratix's verdict.
func gitParityScenarios(t *testing.T) map[string]scenario {
	t.Helper()
	// A tag in the repository, as Kratix's run had: git clone --branch takes it.
	repo := filepath.Join(gitHTTP.Root, localenv.GitRepository)
	if out, err := exec.Command("git", "-C", repo, "tag", "-f", gitTag, localenv.GitBranch).CombinedOutput(); err != nil {
		t.Fatalf("tagging the Git repository: %v: %s", err, out)
	}
	scenarios := map[string]scenario{}
	for name, c := range gitParityCases(t) {
		s := scenario{resource: "gitstatestore", given: c.given, yaml: c.yaml, wantStderr: c.want}
		verdict := "ready"
		switch {
		case c.kratix == kratixReady && c.unusable != "":
			verdict = "ready but unusable"
			s.wantExit = 1
		case c.kratix != kratixReady:
			verdict = "not ready"
			s.wantExit = 1
		}
		scenarios["Git, kratix "+verdict+": "+name] = s
	}
	return scenarios
}

// gitParityCases are the Git parity stores.
func gitParityCases(t *testing.T) map[string]gitParityCase {
	t.Helper()
	hole := blackHole(t)
	sshPort := strings.TrimPrefix(gitSSH.Addr, "127.0.0.1:")
	plain := gitHTTP.InsecureURL + "/" + localenv.GitRepository
	apiServer := strings.TrimSuffix(env.Kube.Config.Host, "/")
	writer := gitSecret(map[string]string{"username": localenv.GitWriter.Name, "password": localenv.GitWriter.Password})
	withPassword := func(password string) string {
		return gitSecret(map[string]string{"username": localenv.GitWriter.Name, "password": password})
	}
	sshSecret := func(key []byte, knownHosts string) string {
		return gitSecret(map[string]string{"sshPrivateKey": string(key), "knownHosts": knownHosts})
	}
	sshWriter := sshSecret(gitSSH.WriterKey, string(gitSSH.KnownHosts))
	// at is a basicAuth store of url with more fields.
	at := func(url, extra string) string {
		return gitStore("  url: " + url + "\n  secretRef:\n    name: \"{{.Name}}\"\n" + extra)
	}
	served := func(extra string) string { return at("{{.GitURL}}", extra) }
	sshAt := func(url string) string {
		return gitStore("  url: " + url + "\n  authMethod: ssh\n  secretRef:\n    name: \"{{.Name}}\"\n")
	}
	_, locked, _ := sshKeys(t, "127.0.0.1")
	insecure := "Warning: " + admission.WarningGitInsecure
	secretRef := `spec.secretRef: Invalid value: "default/{{.Name}}"`
	initError := "ErrorInitialisingWriter"
	return map[string]gitParityCase{
		"a basicAuth store over HTTPS with insecure unset": {
			given: writer, yaml: served(""),
			kratix: kratixReady, source: kratixGitRun,
			want: []string{insecure},
		},
		"insecure true": {
			given: writer, yaml: served("  insecure: true\n"),
			kratix: kratixReady, source: kratixGitRun,
			want: []string{insecure},
		},
		"an ssh:// URL with a key that may push": {
			given: sshWriter, yaml: sshAt("{{.GitSSHURL}}"),
			kratix: kratixReady, source: kratixGitRun,
		},
		`branch ""`: {
			given: writer, yaml: served("  branch: \"\"\n"),
			kratix: kratixReady, source: kratixGitRun + "; " + kratixGitWriteCheck + ": cloned the default branch and pushed the commit to it",
			want: []string{insecure, "Warning: " + admission.WarningGitBranchEmpty},
		},
		"a path with a leading slash": {
			given: writer, yaml: served("  path: /leading\n"),
			kratix: kratixReady, source: kratixGitRun + "; lib/writers/git.go trims the leading slash",
			want: []string{insecure},
		},
		"a path whose dot-dot segment stays inside it": {
			given: writer, yaml: served("  path: a/../b\n"),
			kratix: kratixReady, source: kratixGitRun,
			want: []string{insecure, `Warning: spec.path has a ".." segment: Kratix cleans the path and writes under what is left; write "b"`},
		},

		"a path that climbs out of the repository": {
			given: writer, yaml: served("  path: ../escape\n"),
			kratix: kratixReady, source: kratixGitRun,
			unusable: kratixGitWriteCheck + `: UpdateFiles returned no error and pushed nothing; Kratix logged "path of file to write is not located within the git repository" (/tmp/escape/dest)`,
			want:     []string{insecure, `spec.path: Invalid value: "../escape": must stay inside the repository`},
		},
		"a path in the .git directory": {
			given: writer, yaml: served("  path: .git/x\n"),
			kratix: kratixReady, source: kratixGitRun,
			unusable: kratixGitWriteCheck + `: the file went to .git/x/dest, git add took nothing, and UpdateFiles returned no error and pushed nothing ("no changes to be committed")`,
			want:     []string{insecure, `spec.path: Invalid value: ".git/x": must not be in a ".git" directory: git add takes nothing there, so Kratix writes nothing`},
		},
		"a gitAuthor without a name": {
			given: writer, yaml: served("  gitAuthor:\n    email: kratix@example.com\n"),
			kratix: kratixReady, source: kratixGitRun,
			unusable: kratixGitWriteCheck + `: UpdateFiles failed: "fatal: empty ident name (for <kratix@example.com>) not allowed"`,
			want:     []string{insecure, `spec.gitAuthor.name: Required value`},
		},
		"a tag as the branch": {
			given: writer, yaml: served("  branch: " + gitTag + "\n"),
			kratix: kratixReady, source: kratixGitRun + "; git clone --branch takes a tag",
			unusable: kratixGitWriteCheck + `: Reset, before every write, failed: "git reset --hard origin/v1": "ambiguous argument 'origin/v1'"`,
			want:     []string{insecure, `spec.branch: Invalid value: "` + gitTag + `": "` + gitTag + `" is a tag in`, "(reason: BranchNotFound)"},
		},

		"insecure false with a certificate Kratix does not trust": {
			given: writer, yaml: served("  insecure: false\n"),
			kratix: initError, source: kratixGitRun + `: "server certificate verification failed"`,
			want: []string{"(reason: TLSCertificateUntrusted)"},
		},
		"an http:// URL": {
			given: writer, yaml: at(plain, ""),
			kratix: initError, source: kratixGitRun + `: "invalid URL for HTTPS auth method"`,
			want: []string{`spec.url: Invalid value: "` + plain + `": must start with "https://"`},
		},
		"an https:// URL at a plain-HTTP server": {
			given: writer, yaml: at(strings.Replace(plain, "http://", "https://", 1), ""),
			kratix: initError, source: kratixGitRun + `: "gnutls_handshake() failed: An unexpected TLS packet was received"`,
			want: []string{insecure, "(reason: URLSchemeMismatch)"},
		},
		"a URL without a scheme": {
			given: writer, yaml: at(strings.TrimPrefix(plain, "http://"), ""),
			kratix: initError, source: kratixGitRun + `: "invalid URL for HTTPS auth method"`,
			want: []string{"Kratix's git client refuses any other form"},
		},
		"a URL whose scheme is in upper case": {
			given: writer, yaml: at("HTTPS://"+strings.TrimPrefix(fixtures.GitURL, "https://"), ""),
			kratix: initError, source: kratixGitRun + `: "invalid URL for HTTPS auth method"`,
			want: []string{`write the scheme in lower case`},
		},
		"an scp-like URL with a port": {
			given: sshWriter, yaml: sshAt("git@127.0.0.1:" + sshPort + "/" + localenv.GitRepository),
			kratix: initError, source: kratixGitRun + `: "ssh: connect to host 127.0.0.1 port 22: Connection refused"`,
			want: []string{"Warning: spec.url is scp-like, which cannot carry a port", `has no entry for "127.0.0.1", so ssh refuses the host`},
		},
		"an ssh:// URL without a user": {
			given: sshWriter, yaml: sshAt("ssh://" + gitSSH.Addr + "/" + localenv.GitRepository),
			kratix: initError, source: kratixGitRun + `: "invalid URL for SSH auth method"`,
			want: []string{"must name the SSH user"},
		},
		"authMethod ssh with an https:// URL": {
			given: sshWriter, yaml: sshAt("{{.GitURL}}"),
			kratix: initError, source: kratixGitRun + `: "invalid URL for SSH auth method"`,
			want: []string{`spec.authMethod: Invalid value: "ssh": needs an SSH URL`},
		},
		"authMethod basicAuth with an ssh:// URL": {
			given: writer, yaml: at("{{.GitSSHURL}}", ""),
			kratix: initError, source: kratixGitRun + `: "invalid URL for HTTPS auth method"`,
			want: []string{`spec.authMethod: Invalid value: "basicAuth": needs an https:// URL`},
		},
		"a branch the repository lacks": {
			given: writer, yaml: served("  branch: no-such-branch\n"),
			kratix: initError, source: kratixGitRun + `: "Remote branch no-such-branch not found in upstream origin"`,
			want: []string{insecure, `spec.branch: Invalid value: "no-such-branch"`, "(reason: BranchNotFound)"},
		},
		"a branch with a space": {
			given: writer, yaml: served("  branch: my branch\n"),
			kratix: initError, source: kratixGitRun + `: "Remote branch my branch not found in upstream origin"`,
			want: []string{`spec.branch: Invalid value: "my branch": must be a branch name git accepts`},
		},
		"an empty repository": {
			given: writer, yaml: at("{{.GitServer}}/"+localenv.GitEmptyRepository, ""),
			kratix: initError, source: kratixGitRun + `: "Remote branch main not found in upstream origin"`,
			want: []string{insecure, "(reason: BranchNotFound)"},
		},
		"a repository the server lacks": {
			given: writer, yaml: at("{{.GitServer}}/no-such-repository.git", ""),
			kratix: initError, source: kratixGitRun + `: "repository ... not found"`,
			want: []string{insecure, "(reason: RepositoryNotFound)"},
		},
		"no secretRef": {
			yaml:   gitStore("  url: {{.GitURL}}\n"),
			kratix: "", source: kratixGitRun + ": no Ready condition; the reconciler panics on every try (nil SecretRef in util/git newBasicAuthCreds)",
			want: []string{"spec.secretRef: Required value"},
		},
		"a Secret that does not exist": {
			yaml:   served(""),
			kratix: "SecretNotFound", source: kratixGitRun,
			want: []string{`spec.secretRef: Not found: "default/{{.Name}}"`},
		},
		"a Secret without password": {
			given: gitSecret(map[string]string{"username": localenv.GitWriter.Name}), yaml: served(""),
			kratix: initError, source: kratixGitRun + `: "password not found in secret"`,
			want: []string{`spec.secretRef: Required value: Secret default/{{.Name}} has no key "password"`},
		},
		"a Secret without username": {
			given: gitSecret(map[string]string{"password": localenv.GitWriter.Password}), yaml: served(""),
			kratix: initError, source: kratixGitRun + `: "Authentication failed"`,
			want: []string{`Warning: Secret "default/{{.Name}}" has no "username"`, secretRef, "(reason: AuthenticationFailed)"},
		},
		"a password with a trailing newline": {
			given: withPassword(localenv.GitWriter.Password + "\n"), yaml: served(""),
			kratix: initError, source: kratixGitRun + `: "Authentication failed"`,
			want: []string{`key "password" of Secret default/{{.Name}} ends with a newline`},
		},
		"a password with a trailing space": {
			given: withPassword(localenv.GitWriter.Password + " "), yaml: served(""),
			kratix: initError, source: kratixGitRun + `: "Authentication failed"`,
			want: []string{`key "password" of Secret default/{{.Name}} ends with a space or a tab`},
		},
		"a wrong password": {
			given: withPassword(gitWrongPassword), yaml: served(""),
			kratix: initError, source: kratixGitRun + `: "Authentication failed"`,
			want: []string{insecure, secretRef, "(reason: AuthenticationFailed)"},
		},
		"a user who may only read": {
			given: gitSecret(map[string]string{"username": localenv.GitReader.Name, "password": localenv.GitReader.Password}), yaml: served(""),
			kratix: "ErrorValidatingPermissions", source: kratixGitRun + `: git push origin main: "The requested URL returned error: 403"`,
			want: []string{insecure, secretRef, "(reason: NoPushPermission)"},
		},
		"an ssh key that may only read": {
			given: sshSecret(gitSSH.ReaderKey, string(gitSSH.KnownHosts)), yaml: sshAt("{{.GitSSHURL}}"),
			kratix: "ErrorValidatingPermissions", source: kratixGitRun + `: git push origin main: "The key you are authenticating with has been marked as read only"`,
			want: []string{secretRef, "(reason: NoPushPermission)"},
		},
		"knownHosts without the URL's host": {
			given: sshSecret(gitSSH.WriterKey, strings.Replace(string(gitSSH.KnownHosts), "[127.0.0.1]:"+sshPort, "github.com", 1)), yaml: sshAt("{{.GitSSHURL}}"),
			kratix: initError, source: kratixGitRun + `: "No ED25519 host key is known for [127.0.0.1]:<port>"`,
			want: []string{`key "knownHosts" of Secret default/{{.Name}} has no entry for`},
		},
		"knownHosts with another key for the host": {
			given: sshSecret(gitSSH.WriterKey, otherHostKey(t, string(gitSSH.KnownHosts))), yaml: sshAt("{{.GitSSHURL}}"),
			kratix: initError, source: kratixGitRun + `: "REMOTE HOST IDENTIFICATION HAS CHANGED"`,
			want: []string{"(reason: HostKeyMismatch)"},
		},
		"an ssh key with a passphrase": {
			given: sshSecret([]byte(locked), string(gitSSH.KnownHosts)), yaml: sshAt("{{.GitSSHURL}}"),
			kratix: initError, source: kratixGitRun + `: "ssh: this private key is passphrase protected"`,
			want: []string{`is encrypted with a passphrase, which Kratix cannot give`},
		},
		"an ssh key with CRLF line ends": {
			given: sshSecret([]byte(strings.ReplaceAll(string(gitSSH.WriterKey), "\n", "\r\n")), string(gitSSH.KnownHosts)), yaml: sshAt("{{.GitSSHURL}}"),
			kratix: initError, source: kratixGitRun + `: ssh: "Load key ...: error in libcrypto", "Permission denied (publickey)"`,
			want: []string{`has CRLF line ends`},
		},
		"a port nothing listens on": {
			given: writer, yaml: at("https://{{.ClosedEndpoint}}/"+localenv.GitRepository, ""),
			kratix: initError, source: kratixGitRun + `: "Failed to connect to 127.0.0.1 port <port>"`,
			want: []string{insecure, "(reason: ConnectionRefused)"},
		},
		"a host that does not resolve": {
			given: writer, yaml: at("https://no-such-git.invalid/"+localenv.GitRepository, ""),
			kratix: initError, source: kratixGitRun + `: "Could not resolve host: no-such-git.invalid"`,
			want: []string{insecure, "(reason: NameNotResolved)"},
		},
		"an HTTPS server that is not a Git server": {
			given: writer, yaml: at("https://{{.Endpoint}}/"+localenv.GitRepository, ""),
			kratix: initError, source: kratixGitRun + ` at MinIO: "The requested URL returned error: 400"`,
			want: []string{insecure, `did not answer as a Git server`, "(reason: NotGitServer)"},
		},
		"the cluster's API server": {
			given: writer, yaml: at(apiServer+"/"+localenv.GitRepository, ""),
			kratix: initError, source: kratixGitRun + `: "The requested URL returned error: 403"`,
			want: []string{insecure, "(reason: EndpointForbidden)"},
		},
		"a githubApp store": {
			// Kratix asks api.github.com only, whatever the URL's host; the run had no route
			// to it. The webhook's probe asks the same API (--github-api-url's default).
			given:  gitSecret(map[string]string{"appID": "123456", "installationID": "7890", "privateKey": githubAppKey(t)}),
			yaml:   gitStore("  url: {{.GitURL}}\n  authMethod: githubApp\n  secretRef:\n    name: \"{{.Name}}\"\n"),
			kratix: initError, source: kratixGitRun + `: "failed to get GitHub installation token: ... lookup api.github.com ...: no such host"`,
			want: []string{`Warning: spec.url's host is "127.0.0.1", but Kratix mints GitHub App tokens only from api.github.com`},
		},
		"a server that accepts connections and never answers": {
			// Kratix's verdict came after 300 s, though its exec timeout killed git at 100 s:
			// its one GitStateStore worker held every other store back meanwhile. The
			// webhook denies within its budget.
			given: writer, yaml: at("https://"+hole+"/"+localenv.GitRepository, ""),
			kratix: initError, source: kratixGitRun + `: after 300 s, "git clone ... failed fatal timeout after 1m40s"`,
			want: []string{insecure, "(reason: Timeout)"},
		},
	}
}

// githubAppKey is a GitHub App's private key as GitHub gives it: RSA, PKCS #1 PEM.
func githubAppKey(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
}
