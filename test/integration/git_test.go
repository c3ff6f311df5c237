package integration

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/internal/localenv"
	"github.com/kratix-community/statestore-webhook/pkg/admission"
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
// denial per static rule, and the Secret checks of each auth method.
func TestApplyGit(t *testing.T) {
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
	runScenarios(t, map[string]scenario{
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
			wantStderr: []string{"(reason: TLSCertificateUntrusted)"},
		},
		"an ssh key that may only read is denied on secretRef": {
			resource: git, given: gitSecret(map[string]string{"sshPrivateKey": string(gitSSH.ReaderKey), "knownHosts": string(gitSSH.KnownHosts)}), yaml: sshServed,
			wantExit:   1,
			wantStderr: []string{`spec.secretRef: Invalid value: "default/{{.Name}}"`, "(reason: NoPushPermission)"},
		},
		"a knownHosts entry with another key for the host is denied": {
			resource: git, given: gitSecret(map[string]string{"sshPrivateKey": string(gitSSH.WriterKey), "knownHosts": otherHostKey(t, string(gitSSH.KnownHosts))}), yaml: sshServed,
			wantExit:   1,
			wantStderr: []string{"(reason: HostKeyMismatch)"},
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
	})
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
