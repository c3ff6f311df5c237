package demo

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"
	"sigs.k8s.io/yaml"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
)

func TestWriteGeneratedSecrets(t *testing.T) {
	key := "-----BEGIN OPENSSH PRIVATE KEY-----\nbody\n-----END OPENSSH PRIVATE KEY-----\n"
	secrets := []gitSecret{
		{name: "written-from-a-file", data: map[string]string{"password": "p"}},
		{name: "generated", generated: true, data: map[string]string{"sshPrivateKey": key, "knownHosts": "[127.0.0.1]:2222 ssh-ed25519 AAAA\n"}},
	}
	dir := filepath.Join(t.TempDir(), "secrets")
	paths, err := writeGeneratedSecrets(dir, secrets)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{filepath.Join(dir, "generated.yaml")}, paths); diff != "" {
		t.Fatalf("only the generated Secret is written (-want +got):\n%s", diff)
	}
	b, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		APIVersion, Kind string
		Metadata         struct{ Name, Namespace string }
		Type             string
		StringData       map[string]string `json:"stringData"`
	}
	if err := yaml.UnmarshalStrict(b, &got); err != nil {
		t.Fatalf("the file is not a Secret manifest: %v\n%s", err, b)
	}
	if got.APIVersion != "v1" || got.Kind != "Secret" || got.Metadata.Name != "generated" || got.Metadata.Namespace != SecretNamespace || got.Type != "Opaque" {
		t.Errorf("the manifest names %s %s %s/%s of type %s, want v1 Secret %s/generated of type Opaque", got.APIVersion, got.Kind, got.Metadata.Namespace, got.Metadata.Name, got.Type, SecretNamespace)
	}
	if diff := cmp.Diff(secrets[1].data, got.StringData); diff != "" {
		t.Errorf("the values read back differ, final newlines included (-want +got):\n%s", diff)
	}
}

func TestKnownHostsFor(t *testing.T) {
	server, err := localenv.StartGitSSHServer(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Stop() })
	line, err := knownHostsFor(server, "127.0.0.1:2222")
	if err != nil {
		t.Fatal(err)
	}
	_, hosts, key, _, rest, err := ssh.ParseKnownHosts(line)
	if err != nil {
		t.Fatal(err)
	}
	_, _, serverKey, _, _, err := ssh.ParseKnownHosts(server.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"[127.0.0.1]:2222"}, hosts); diff != "" {
		t.Errorf("hosts (-want +got):\n%s", diff)
	}
	if !bytes.Equal(key.Marshal(), serverKey.Marshal()) {
		t.Error("the line does not hold the server's host key")
	}
	if len(rest) != 0 {
		t.Errorf("the line is followed by %q", rest)
	}
}
