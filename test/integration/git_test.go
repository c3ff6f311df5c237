package integration

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/internal/localenv"
	"github.com/kratix-community/statestore-webhook/pkg/admission"
	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

// gitStore is a GitStateStore named {{.Name}} with spec, for a scenario's yaml.
func gitStore(spec string) string {
	return strings.Replace(store(spec), "kind: BucketStateStore", "kind: GitStateStore", 1)
}

// gitSecret is a Secret named {{.Name}} in default holding data, base64-encoded so that
// any bytes (a trailing newline, a PEM key) arrive as they are, for a scenario's given.
func gitSecret(data map[string]string) string {
	doc := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: \"{{.Name}}\"\n  namespace: default\ndata:\n"
	for k, v := range data {
		doc += fmt.Sprintf("  %s: %s\n", k, base64.StdEncoding.EncodeToString([]byte(v)))
	}
	return doc
}

// otherHostKey is knownHosts with its key replaced by a new one of the same type: the
// host is known, with the wrong key.
func otherHostKey(t *testing.T, knownHosts string) string {
	t.Helper()
	_, key, _ := strings.Cut(strings.TrimSpace(knownHosts), " ")
	signer, _, err := localenv.NewSSHKey()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Replace(knownHosts, key, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))), 1)
}

// sshKeys returns an unencrypted and an encrypted OpenSSH private key and a known_hosts
// line for host, made for the test.
func sshKeys(t *testing.T, host string) (key, locked, knownHosts string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	lockedBlock, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("a passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	hostKey, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block)), string(pem.EncodeToMemory(lockedBlock)), host + " " + string(ssh.MarshalAuthorizedKey(hostKey))
}

// TestApplyGit applies GitStateStores with the real kubectl, with --dry-run=server and
// for real, through the webhook running with the shipped RBAC: Kratix's defaults, a
// denial per static rule, the Secret checks of each auth method, and a denial for each
// reason a Git probe gives, on its field. The webhook mints githubApp tokens from a
// stand-in for the GitHub API that the Git server lets in.
func TestApplyGit(t *testing.T) {
	app, err := localenv.StartGitHubApp(gitHTTP, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.Stop() })
	testSecrets.record(strings.Split(string(app.PrivateKey), "\n")[1]) // a line of its body stands for the key
	withWebhookFlags(t, "--github-api-url="+app.URL)
	scenarios := gitScenarios(t, app)
	t.Run("every reason a Git probe gives has a scenario, on its field", func(t *testing.T) {
		checkGitReasonsHaveScenarios(t, scenarios)
	})
	runScenarios(t, scenarios)
}

// gitScenarios are TestApplyGit's scenarios; app is the GitHub API's stand-in the
// webhook mints tokens from.
func gitScenarios(t *testing.T, app *localenv.GitHubApp) map[string]scenario {
	t.Helper()
	key, locked, knownHosts := sshKeys(t, "git.example.com")
	basic := gitSecret(map[string]string{"username": "kratix", "password": "token"})
	https := func(extra string) string {
		return gitStore("  url: https://git.example.com/platform/state.git\n  insecure: false\n  secretRef:\n    name: \"{{.Name}}\"\n" + extra)
	}
	sshStore := gitStore("  url: git@git.example.com:platform/state.git\n  authMethod: ssh\n  secretRef:\n    name: \"{{.Name}}\"\n")
	const git = "gitstatestore"
	writer := gitSecret(map[string]string{"username": localenv.GitWriter.Name, "password": localenv.GitWriter.Password})
	reader := gitSecret(map[string]string{"username": localenv.GitReader.Name, "password": localenv.GitReader.Password})
	served := func(extra string) string {
		return gitStore("  url: {{.GitURL}}\n  secretRef:\n    name: \"{{.Name}}\"\n" + extra)
	}
	sshServed := gitStore("  url: {{.GitSSHURL}}\n  authMethod: ssh\n  secretRef:\n    name: \"{{.Name}}\"\n")
	insecure := "Warning: " + admission.WarningGitInsecure
	at := func(hostPort string) string { // a basicAuth store at hostPort's kratix.git
		return gitStore("  url: https://" + hostPort + "/" + localenv.GitRepository + "\n  secretRef:\n    name: \"{{.Name}}\"\n")
	}
	hostile := func(h http.Handler) string {
		server := localenv.StartGitHostile(h)
		t.Cleanup(func() { _ = server.Stop() })
		return server.Endpoint
	}
	endless, endlessHeader := hostile(localenv.EndlessAdvertisement(false)), hostile(localenv.HostileAnswers["an endless header"])
	unavailable := hostile(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	hole, plainGit := blackHole(t), strings.TrimPrefix(gitHTTP.InsecureURL, "http://")
	appSecret := func(appID, installationID string) string {
		return gitSecret(map[string]string{"appID": appID, "installationID": installationID, "privateKey": string(app.PrivateKey)})
	}
	appStore := gitStore("  url: {{.GitURL}}\n  authMethod: githubApp\n  secretRef:\n    name: \"{{.Name}}\"\n")
	appHost := "Warning: " + fmt.Sprintf(admission.WarningGitHubAppHost, `"127.0.0.1"`)
	sshSecret := func(knownHosts string) string { // the writer's key with knownHosts
		return gitSecret(map[string]string{"sshPrivateKey": string(gitSSH.WriterKey), "knownHosts": knownHosts})
	}
	return map[string]scenario{
		"a basicAuth store is admitted with Kratix's defaults and the insecure warning": {
			resource: git, given: writer, yaml: served(""),
			wantStderr: []string{insecure},
			wantStored: map[string]any{"spec.branch": "main", "spec.authMethod": "basicAuth", "spec.gitAuthor.name": "kratix",
				"spec.secretRef.namespace": "default"},
		},
		"an ssh store whose key may push and whose knownHosts holds the host is admitted": {
			resource: git, given: gitSecret(map[string]string{"sshPrivateKey": string(gitSSH.WriterKey), "knownHosts": string(gitSSH.KnownHosts)}), yaml: sshServed,
		},
		"a wrong password is denied on secretRef": {
			resource: git, given: gitSecret(map[string]string{"username": localenv.GitWriter.Name, "password": gitWrongPassword}), yaml: served(""),
			wantExit:   1,
			wantStderr: []string{insecure, `spec.secretRef: Invalid value: "default/{{.Name}}"`, "(reason: AuthenticationFailed)"},
		},
		"a user who may only read is denied on secretRef": {
			resource: git, given: reader, yaml: served(""),
			wantExit:   1,
			wantStderr: []string{insecure, `spec.secretRef: Invalid value: "default/{{.Name}}"`, "(reason: NoPushPermission)"},
		},
		"a branch the repository lacks is denied on branch": {
			resource: git, given: writer, yaml: served("  branch: no-such-branch\n"),
			wantExit:   1,
			wantStderr: []string{insecure, `spec.branch: Invalid value: "no-such-branch"`, "(reason: BranchNotFound)"},
		},
		"a repository the server lacks is denied on url": {
			resource: git, given: writer, yaml: gitStore("  url: {{.GitServer}}/no-such-repository.git\n  secretRef:\n    name: \"{{.Name}}\"\n"),
			wantExit:   1,
			wantStderr: []string{insecure, `spec.url: Invalid value: "{{.GitServer}}/no-such-repository.git"`, "(reason: RepositoryNotFound)"},
		},
		"a certificate nobody trusts is denied on url when insecure is false": {
			resource: git, given: writer, yaml: served("  insecure: false\n"),
			wantExit:   1,
			wantStderr: []string{`spec.url: Invalid value: "{{.GitURL}}": the certificate of`, "(reason: TLSCertificateUntrusted)"},
		},
		"an ssh key that may only read is denied on secretRef": {
			resource: git, given: gitSecret(map[string]string{"sshPrivateKey": string(gitSSH.ReaderKey), "knownHosts": string(gitSSH.KnownHosts)}), yaml: sshServed,
			wantExit:   1,
			wantStderr: []string{`spec.secretRef: Invalid value: "default/{{.Name}}"`, "(reason: NoPushPermission)"},
		},
		"a knownHosts entry with another key for the host is denied": {
			resource: git, given: gitSecret(map[string]string{"sshPrivateKey": string(gitSSH.WriterKey), "knownHosts": otherHostKey(t, string(gitSSH.KnownHosts))}), yaml: sshServed,
			wantExit:   1,
			wantStderr: []string{`spec.secretRef: Invalid value: "default/{{.Name}}": the host key of`, "(reason: HostKeyMismatch)"},
		},
		"a URL without a scheme is denied (Kratix #427)": {
			resource: git, given: basic, yaml: gitStore("  url: git.example.com/platform/state.git\n  secretRef:\n    name: \"{{.Name}}\"\n"),
			wantExit:   1,
			wantStderr: []string{`spec.url: Invalid value: "git.example.com/platform/state.git": must be https://host/path, or for authMethod ssh ssh://user@host/path or user@host:path; Kratix's git client refuses any other form`},
		},
		"plain http for basicAuth is denied": {
			resource: git, given: basic, yaml: gitStore("  url: http://git.example.com/state.git\n  secretRef:\n    name: \"{{.Name}}\"\n"),
			wantExit:   1,
			wantStderr: []string{`spec.url: Invalid value: "http://git.example.com/state.git": must start with "https://"`},
		},
		"ssh with an https URL is denied on authMethod": {
			resource: git, given: basic, yaml: gitStore("  url: https://git.example.com/state.git\n  authMethod: ssh\n  secretRef:\n    name: \"{{.Name}}\"\n"),
			wantExit:   1,
			wantStderr: []string{`spec.authMethod: Invalid value: "ssh": needs an SSH URL`},
		},
		"an ssh URL without a user is denied": {
			resource: git, given: basic, yaml: gitStore("  url: ssh://git.example.com/state.git\n  authMethod: ssh\n  secretRef:\n    name: \"{{.Name}}\"\n"),
			wantExit:   1,
			wantStderr: []string{`spec.url: Invalid value: "ssh://git.example.com/state.git": must name the SSH user`},
		},
		"a branch git refuses is denied": {
			resource: git, given: basic, yaml: https("  branch: my branch\n"),
			wantExit:   1,
			wantStderr: []string{`spec.branch: Invalid value: "my branch": must be a branch name git accepts: it may not contain a space`},
		},
		"a path that climbs out of the repository is denied": {
			resource: git, given: basic, yaml: https("  path: ../elsewhere\n"),
			wantExit:   1,
			wantStderr: []string{`spec.path: Invalid value: "../elsewhere": must stay inside the repository`},
		},
		"a gitAuthor without a name is denied": {
			resource: git, given: basic, yaml: https("  gitAuthor:\n    email: kratix@example.com\n"),
			wantExit:   1,
			wantStderr: []string{`spec.gitAuthor.name: Required value: Kratix commits as this name and git refuses an empty one`},
		},
		"a missing Secret is denied": {
			resource: git, yaml: https(""),
			wantExit:   1,
			wantStderr: []string{`spec.secretRef: Not found: "default/{{.Name}}"`},
		},
		"a Secret without password is denied": {
			resource: git, given: gitSecret(map[string]string{"username": "kratix"}), yaml: https(""),
			wantExit:   1,
			wantStderr: []string{`spec.secretRef: Required value: Secret default/{{.Name}} has no key "password"`},
		},
		"a password with a trailing space is denied: Kratix sends it as it is": {
			resource: git, given: gitSecret(map[string]string{"username": "kratix", "password": "token "}), yaml: https(""),
			wantExit:   1,
			wantStderr: []string{`key "password" of Secret default/{{.Name}} ends with a space or a tab, which Kratix keeps`},
		},
		"a password with a trailing newline is denied (Kratix #624)": {
			resource: git, given: gitSecret(map[string]string{"username": "kratix", "password": "token\n"}), yaml: https(""),
			wantExit:   1,
			wantStderr: []string{`key "password" of Secret default/{{.Name}} ends with a newline, which Kratix keeps, so the server refuses the credentials (Kratix #624)`},
		},
		"an ssh key that does not parse is denied": {
			resource: git, given: gitSecret(map[string]string{"sshPrivateKey": "not a key", "knownHosts": knownHosts}), yaml: sshStore,
			wantExit:   1,
			wantStderr: []string{`key "sshPrivateKey" of Secret default/{{.Name}} is not an SSH private key Kratix can read`},
		},
		"an ssh key with a passphrase is denied": {
			resource: git, given: gitSecret(map[string]string{"sshPrivateKey": locked, "knownHosts": knownHosts}), yaml: sshStore,
			wantExit:   1,
			wantStderr: []string{`key "sshPrivateKey" of Secret default/{{.Name}} is encrypted with a passphrase, which Kratix cannot give`},
		},
		"knownHosts without the URL's host is denied": {
			resource: git, given: gitSecret(map[string]string{"sshPrivateKey": key, "knownHosts": strings.Replace(knownHosts, "git.example.com", "github.com", 1)}), yaml: sshStore,
			wantExit:   1,
			wantStderr: []string{`key "knownHosts" of Secret default/{{.Name}} has no entry for "git.example.com", so ssh refuses the host`},
		},
		"a githubApp store whose token the Git server lets in is admitted, with the host warning": {
			resource: git, given: appSecret(app.AppID, app.InstallationID), yaml: appStore,
			wantStderr: []string{insecure, appHost},
			wantStored: map[string]any{"spec.authMethod": "githubApp"},
		},
		"a GitHub App installation the API does not know is denied on secretRef": {
			resource: git, given: appSecret(app.AppID, "1"), yaml: appStore,
			wantExit: 1,
			wantStderr: []string{insecure, appHost, `spec.secretRef: Invalid value: "default/{{.Name}}": the GitHub API at "` + strings.TrimPrefix(app.URL, "http://") +
				`" refused an installation token for App "` + app.AppID + `", installation 1 (HTTP 404)`, "(reason: GitHubAppTokenRefused)"},
		},
		"an appID too large for Kratix's strconv.Atoi is denied on secretRef": {
			resource: git, given: appSecret("123456789012345678901234567890", app.InstallationID), yaml: appStore,
			wantExit:   1,
			wantStderr: []string{insecure, appHost, `spec.secretRef: Invalid value: "default/{{.Name}}": appID in the Secret must be the App's number`, "(reason: CredentialsUnavailable)"},
		},
		"an S3 API (MinIO) at the url is denied on url: it answers HTTP, but not as Git": {
			resource: git, given: writer, yaml: at("{{.Endpoint}}"),
			wantExit:   1,
			wantStderr: []string{insecure, `spec.url: Invalid value: "https://{{.Endpoint}}/kratix.git": "{{.Endpoint}}" did not answer as a Git server`, "(reason: NotGitServer)"},
		},
		"an ssh URL at a server that does not speak SSH is denied on url": {
			resource: git, yaml: gitStore("  url: ssh://git@{{.Endpoint}}/kratix.git\n  authMethod: ssh\n  secretRef:\n    name: \"{{.Name}}\"\n"),
			given:      sshSecret(strings.Replace(string(gitSSH.KnownHosts), knownhosts.Normalize(gitSSH.Addr), knownhosts.Normalize(fixtures.Endpoint), 1)),
			wantExit:   1,
			wantStderr: []string{`spec.url: Invalid value: "ssh://git@{{.Endpoint}}/kratix.git": "{{.Endpoint}}" did not answer as a Git server`, "(reason: NotGitServer)"},
		},
		"a port nothing listens on is denied on url": {
			resource: git, given: writer, yaml: at("{{.ClosedEndpoint}}"),
			wantExit:   1,
			wantStderr: []string{insecure, `spec.url: Invalid value: "https://{{.ClosedEndpoint}}/kratix.git": "{{.ClosedEndpoint}}" refused the connection`, "(reason: ConnectionRefused)"},
		},
		"the instance metadata address is denied on url by the endpoint guard": {
			resource: git, given: writer, yaml: at("169.254.169.254"),
			wantExit:   1,
			wantStderr: []string{insecure, `spec.url: Invalid value: "https://169.254.169.254/kratix.git"`, "(reason: EndpointForbidden)"},
		},
		"a server that accepts connections and never answers is denied on url": {
			resource: git, given: writer, yaml: at(hole),
			wantExit:   1,
			wantStderr: []string{insecure, `spec.url: Invalid value: "https://` + hole + `/kratix.git": timed out after ` + probeTimeout, "(reason: Timeout)"},
		},
		"a host name that does not resolve is denied on url": {
			resource: git, given: writer, yaml: at("no-such-git-server.invalid"),
			wantExit:   1,
			wantStderr: []string{insecure, `spec.url: Invalid value: "https://no-such-git-server.invalid/kratix.git": host "no-such-git-server.invalid" of url`, "(reason: NameNotResolved)"},
		},
		"an https URL at a plain-HTTP Git server is denied on url": {
			resource: git, given: writer, yaml: at(plainGit),
			wantExit:   1,
			wantStderr: []string{insecure, `spec.url: Invalid value: "https://` + plainGit + `/kratix.git": "` + plainGit + `" speaks plain HTTP, not HTTPS`, "(reason: URLSchemeMismatch)"},
		},
		"a knownHosts line for the host without its port, with another key, is denied on secretRef as unknown": {
			// OpenSSH falls back on the host's port-22 lines for another port, so the
			// Secret check lets it through, and reads a key there that is not the
			// server's as an unknown host, not a changed one.
			resource: git, yaml: sshServed,
			given:      sshSecret(strings.Replace(otherHostKey(t, string(gitSSH.KnownHosts)), knownhosts.Normalize(gitSSH.Addr), "127.0.0.1", 1)),
			wantExit:   1,
			wantStderr: []string{`spec.secretRef: Invalid value: "default/{{.Name}}": knownHosts has no key for "` + knownhosts.Normalize(gitSSH.Addr) + `"`, "(reason: HostKeyUnknown)"},
		},
		"a ref advertisement that never reaches the branch is denied on url": {
			resource: git, given: writer, yaml: at(endless),
			wantExit:   1,
			wantStderr: []string{insecure, `spec.url: Invalid value: "https://` + endless + `/kratix.git": "https://` + endless + `/kratix.git" advertised more than 16 MiB of refs before branch "main"`, "(reason: ResponseTooLarge)"},
		},
		"a header that never ends is denied on url": {
			resource: git, given: writer, yaml: at(endlessHeader),
			wantExit:   1,
			wantStderr: []string{insecure, `spec.url: Invalid value: "https://` + endlessHeader + `/kratix.git": "` + endlessHeader + `" answered with more than 64 KiB of headers`, "(reason: ResponseTooLarge)"},
		},
		"an scp-like url with a slash before its colon, which git reads as a local path, is denied on url": {
			resource: git, yaml: gitStore("  url: git@127.0.0.1/platform:state.git\n  authMethod: ssh\n  secretRef:\n    name: \"{{.Name}}\"\n"),
			given:      sshSecret(strings.Replace(string(gitSSH.KnownHosts), knownhosts.Normalize(gitSSH.Addr), "*", 1)),
			wantExit:   1,
			wantStderr: []string{`spec.url: Invalid value: "git@127.0.0.1/platform:state.git": must be user@host:path: git reads a URL with a "/" before its first ":" as a local path`},
		},
		"a server error to the ref advertisement is denied on url": {
			resource: git, given: writer, yaml: at(unavailable),
			wantExit:   1,
			wantStderr: []string{insecure, `spec.url: Invalid value: "https://` + unavailable + `/kratix.git": "https://` + unavailable + `/kratix.git" answered HTTP 503 to the ref advertisement`, "(reason: Unknown)"},
		},
	}
}

// gitReasonsWithoutScenario are the reasons a Git probe gives that no store applied
// with kubectl can be made to get, each with why.
var gitReasonsWithoutScenario = map[probe.Reason]string{
	probe.ReasonInvalidTarget: "the static rules deny every URL the probe cannot read before it runs " +
		"(the scenario of an scp-like url with a slash before its colon shows the last one that reached it); " +
		"pkg/probe's tests give the probe such targets",
	probe.ReasonCanceled: "the API server cancels a webhook call only when it no longer waits for the answer, " +
		"so no kubectl ever shows it (pkg/probe's tests cancel probes)",
	probe.ReasonBusy: "a Git probe gives its slots back as its budget ends, and waiting probes take them in turn, " +
		"so a waiting probe gets one before its own budget ends but for a race; " +
		"TestAnEndpointThatHoldsItsProbesCannotStarveTheOthers shows Busy through the API server with bucket probes, " +
		"whose clean-up outlives their budget, and TestGitProberWaitsForItsEndpointsShareOfTheSlots the Git prober's",
}

// reasonInStderr finds the reason at the end of a probe's denial.
var reasonInStderr = regexp.MustCompile(`\(reason: (\w+)\)`)

// checkGitReasonsHaveScenarios fails for each reason a Git probe gives (probe.GitReasons)
// that no scenario asserts, unless gitReasonsWithoutScenario says why none can, and for
// a scenario that asserts a reason but not the field it is on.
func checkGitReasonsHaveScenarios(t *testing.T, scenarios map[string]scenario) {
	covered := map[probe.Reason]bool{}
	for _, name := range slices.Sorted(maps.Keys(scenarios)) {
		wants := scenarios[name].wantStderr
		onField := slices.ContainsFunc(wants, func(w string) bool { return strings.HasPrefix(w, "spec.") && strings.Contains(w, ": Invalid value: ") })
		for _, want := range wants {
			for _, m := range reasonInStderr.FindAllStringSubmatch(want, -1) {
				reason := probe.Reason(m[1])
				covered[reason] = true
				if !slices.Contains(probe.GitReasons, reason) {
					t.Errorf("%q asserts reason %s, which is not in probe.GitReasons", name, reason)
				}
				if !onField {
					t.Errorf("%q asserts reason %s but not the field it is on (spec.<field>: Invalid value: ...)", name, reason)
				}
			}
		}
	}
	for _, reason := range probe.GitReasons {
		why, none := gitReasonsWithoutScenario[reason]
		switch {
		case covered[reason] && none:
			t.Errorf("reason %s has a scenario, yet gitReasonsWithoutScenario says none can reach it: %s", reason, why)
		case !covered[reason] && !none:
			t.Errorf("reason %s, which a Git probe gives, has no scenario", reason)
		}
	}
}

// TestGuardsGit shows the guards protect GitStateStores as they do buckets: the Secret
// guard names the stores a Secret change breaks, the delete guard refuses to delete a
// store a Destination's stateStoreRef names, and the audit log holds each verdict under
// the Git webhooks' names.
func TestGuardsGit(t *testing.T) {
	logWebhookOnFailure(t)
	name := storeName("guards/" + t.Name())
	createSecretT(t, name, map[string]string{"username": localenv.GitWriter.Name, "password": localenv.GitWriter.Password})
	store := &v1alpha1.GitStateStore{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.GitStateStoreSpec{URL: fixtures.GitURL,
			StateStoreCoreFields: v1alpha1.StateStoreCoreFields{SecretRef: &corev1.SecretReference{Name: name}}},
	}
	if err := k8sClient.Create(t.Context(), store); err != nil {
		t.Fatalf("creating GitStateStore %s: %v", name, err)
	}
	t.Cleanup(func() {
		kubectl(t, "", "annotate", "--overwrite", "gitstatestore", name, admission.AllowDeleteAnnotation+"=true")
		kubectl(t, "", "delete", "--ignore-not-found", "--wait=false", "gitstatestore", name)
	})
	t.Run("the audit log holds the validating webhook's verdict", func(t *testing.T) {
		key := "validate.gitstatestores.webhook.kratix-community.io/" + admission.AuditVerdict
		if got := auditAnnotations(t, "create", "gitstatestores", name, key)[key]; got != admission.VerdictWarned {
			t.Errorf("the audit log's verdict is %q, want %q (Kratix's insecure default warns)", got, admission.VerdictWarned)
		}
	})

	t.Run("deleting the Secret names the GitStateStore", func(t *testing.T) {
		want := fmt.Sprintf("breaks GitStateStore(s) %q", name)
		waitFor(t, 30*time.Second, "the Secret guard to know the store", func() (bool, string) {
			res := kubectl(t, "", "delete", "secret", name, "--dry-run=server")
			return strings.Contains(res.Stderr, want), res.Stderr
		})
	})
	t.Run("a new password with a trailing newline is named", func(t *testing.T) {
		res := kubectl(t, "", "patch", "secret", name, "--type=merge", "-p", stringDataPatch(map[string]string{"password": "token2\n"}))
		want := fmt.Sprintf(`Warning: this update of Secret default/%s breaks GitStateStore %q: key "password" of Secret default/%s ends with a newline`, name, name, name)
		if res.Exit != 0 || !strings.Contains(res.Stderr, want) {
			t.Errorf("exit %d, stderr %q; want 0 and %q", res.Exit, res.Stderr, want)
		}
	})

	installDestinationCRD(t)
	dests, err := client.New(env.Kube.Config, client.Options{Scheme: runtime.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	createDestination(t, dests, name+"-d", "GitStateStore", name)
	t.Run("deleting a GitStateStore a Destination uses is denied, naming it", func(t *testing.T) {
		want := fmt.Sprintf(`GitStateStore %q is the state store of 1 Destination(s): %q`, name, name+"-d")
		waitFor(t, 30*time.Second, "the delete guard to know the Destination", func() (bool, string) {
			res := kubectl(t, "", "delete", "gitstatestore", name, "--dry-run=server")
			return strings.Contains(res.Stderr, want), res.Stderr
		})
		if res := kubectl(t, "", "delete", "gitstatestore", name); res.Exit == 0 || !strings.Contains(res.Stderr, want) {
			t.Errorf("exit %d, stderr %q; want a denial %q", res.Exit, res.Stderr, want)
		}
		key := "delete.gitstatestores.webhook.kratix-community.io/" + admission.AuditVerdict
		if got := auditAnnotations(t, "delete", "gitstatestores", name, key)[key]; got != admission.VerdictDenied {
			t.Errorf("the audit log's verdict is %q, want %q", got, admission.VerdictDenied)
		}
	})
	t.Run("the allow-delete annotation lets it go", func(t *testing.T) {
		if res := kubectl(t, "", "annotate", "gitstatestore", name, admission.AllowDeleteAnnotation+"=true"); res.Exit != 0 {
			t.Fatalf("annotating: %s", res.Stderr)
		}
		if res := kubectl(t, "", "delete", "gitstatestore", name); res.Exit != 0 {
			t.Errorf("exit %d, stderr %q; want 0", res.Exit, res.Stderr)
		}
	})
}
