package demo

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	"sigs.k8s.io/yaml"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/internal/localenv"
)

// What the Git examples in examples/ name. Changing one means changing the examples.
const (
	// DefaultGitHTTPSPort serves the Git repositories over HTTPS with a certificate the
	// webhook trusts, DefaultGitSSHPort over SSH.
	DefaultGitHTTPSPort = 8443
	DefaultGitSSHPort   = 2222

	// GitRepository has one commit on GitBranch. localenv.GitWriter may push to it and
	// localenv.GitReader only read it.
	GitRepository = localenv.GitRepository
	GitBranch     = localenv.GitBranch

	// GitSecretName holds the Git user that may push (username and password, for
	// authMethod basicAuth), as examples/git-basic-auth.yaml writes it too.
	GitSecretName = "git-credentials"
	// GitSSHSecretName holds a key that may push (sshPrivateKey) and the server's host
	// key (knownHosts), for authMethod ssh, and GitSSHReadOnlySecretName a key that may
	// only read; GitHubAppSecretName holds the GitHub App stand-in's appID,
	// installationID and privateKey, for authMethod githubApp, and
	// GitHubAppWrongInstallationSecretName the same with an installation the App does
	// not have. Start generates the keys, so these Secrets exist only in the demo and in
	// the files it writes to Options.SecretsDir.
	GitSSHSecretName                     = "git-ssh-credentials"
	GitSSHReadOnlySecretName             = "git-ssh-read-only-credentials"
	GitHubAppSecretName                  = "github-app-credentials"
	GitHubAppWrongInstallationSecretName = "github-app-wrong-installation"
	// GitHubAppWrongInstallation is the installationID in
	// GitHubAppWrongInstallationSecretName.
	GitHubAppWrongInstallation = "1"
)

// gitServers are the Git servers behind the fixed Git ports, and the files they keep.
type gitServers struct {
	dir  string
	http *localenv.GitServer
	ssh  *localenv.GitSSHServer
	app  *localenv.GitHubApp
}

// startGit starts the Git servers in a new temporary directory. The GitHub App
// stand-in's URL must be known before the webhook starts (--github-api-url), and the
// stand-in hands its tokens to the Git server, so both come before the environment.
func startGit() (_ *gitServers, retErr error) {
	dir, err := os.MkdirTemp("", "statestore-demo-git-")
	if err != nil {
		return nil, err
	}
	g := &gitServers{dir: dir}
	defer func() {
		if retErr != nil {
			_ = g.stop()
		}
	}()
	if g.http, err = localenv.StartGitServer(dir); err != nil {
		return nil, fmt.Errorf("starting the Git server: %w", err)
	}
	if g.ssh, err = localenv.StartGitSSHServer(g.http.Root); err != nil {
		return nil, fmt.Errorf("starting the Git SSH server: %w", err)
	}
	if g.app, err = localenv.StartGitHubApp(g.http, true); err != nil {
		return nil, fmt.Errorf("starting the GitHub App stand-in: %w", err)
	}
	return g, nil
}

func (g *gitServers) stop() error {
	var errs []error
	if g.app != nil {
		errs = append(errs, g.app.Stop())
	}
	if g.ssh != nil {
		errs = append(errs, g.ssh.Stop())
	}
	if g.http != nil {
		errs = append(errs, g.http.Stop())
	}
	errs = append(errs, os.RemoveAll(g.dir))
	return errors.Join(errs...)
}

// knownHostsFor is a known_hosts line for addr and the SSH server's host key, which the
// server's own line names at its ephemeral port.
func knownHostsFor(server *localenv.GitSSHServer, addr string) ([]byte, error) {
	_, _, key, _, _, err := ssh.ParseKnownHosts(server.KnownHosts)
	if err != nil {
		return nil, fmt.Errorf("reading the Git SSH server's host key: %w", err)
	}
	return []byte(knownhosts.Line([]string{knownhosts.Normalize(addr)}, key) + "\n"), nil
}

// gitSecret is a Secret a Git example names, with its keys.
type gitSecret struct {
	name string
	data map[string]string
	// generated says that Start generated its values, so no example file holds it.
	generated bool
}

// gitSecrets are the Secrets the Git examples name, in the order Start applies them.
func (d *Demo) gitSecrets() []gitSecret {
	return []gitSecret{
		{name: GitSecretName, data: map[string]string{
			v1alpha1.SecretKeyUsername: localenv.GitWriter.Name,
			v1alpha1.SecretKeyPassword: localenv.GitWriter.Password,
		}},
		{name: GitSSHSecretName, generated: true, data: map[string]string{
			v1alpha1.SecretKeySSHPrivateKey: string(d.git.ssh.WriterKey),
			v1alpha1.SecretKeyKnownHosts:    string(d.GitKnownHosts),
		}},
		{name: GitSSHReadOnlySecretName, generated: true, data: map[string]string{
			v1alpha1.SecretKeySSHPrivateKey: string(d.git.ssh.ReaderKey),
			v1alpha1.SecretKeyKnownHosts:    string(d.GitKnownHosts),
		}},
		{name: GitHubAppSecretName, generated: true, data: map[string]string{
			v1alpha1.SecretKeyAppID:          d.git.app.AppID,
			v1alpha1.SecretKeyInstallationID: d.git.app.InstallationID,
			v1alpha1.SecretKeyPrivateKey:     string(d.git.app.PrivateKey),
		}},
		{name: GitHubAppWrongInstallationSecretName, generated: true, data: map[string]string{
			v1alpha1.SecretKeyAppID:          d.git.app.AppID,
			v1alpha1.SecretKeyInstallationID: GitHubAppWrongInstallation,
			v1alpha1.SecretKeyPrivateKey:     string(d.git.app.PrivateKey),
		}},
	}
}

// manifest is the Secret as YAML, as the examples write Secrets.
func (s gitSecret) manifest() (string, error) {
	b, err := yaml.Marshal(map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"metadata":   map[string]string{"name": s.name, "namespace": SecretNamespace},
		"type":       "Opaque",
		"stringData": s.data,
	})
	return string(b), err
}

// writeGeneratedSecrets writes the Secrets whose values Start generated to dir, one
// file each named after the Secret and readable by its owner only, and returns their
// paths.
func writeGeneratedSecrets(dir string, secrets []gitSecret) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var paths []string
	for _, s := range secrets {
		if !s.generated {
			continue
		}
		m, err := s.manifest()
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, s.name+".yaml")
		header := "# Generated by the demo (make run) at its start, which created this Secret too; the keys\n# are good only as long as that demo runs. kubectl apply -f this file to create it again.\n"
		if err := os.WriteFile(path, []byte(header+m), 0o600); err != nil {
			return nil, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// tlsListener serves l with a certificate the environment's CA signed, as MinIO's HTTPS
// port is served: the webhook and statestore-check trust it, so the Git examples can set
// insecure: false.
func (d *Demo) tlsListener(l net.Listener) (net.Listener, error) {
	dir := filepath.Join(d.Env.WorkDir, "git-https")
	if err := d.Env.CA.WriteServingCert(dir, "tls.crt", "tls.key"); err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	if err != nil {
		return nil, err
	}
	return tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), nil
}

// checkGit makes sure the fixed Git ports reach the repository: over HTTPS with the
// writer's password and a certificate the CA signed, and over SSH with the writer's key
// and the host key the Secret names.
func (d *Demo) checkGit(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	transport := &http.Transport{TLSClientConfig: d.Env.CA.TLSConfig()}
	defer transport.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.GitHTTPSURL+"/info/refs?service=git-upload-pack", nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(localenv.GitWriter.Name, localenv.GitWriter.Password)
	resp, err := (&http.Client{Transport: transport}).Do(req)
	if err != nil {
		return fmt.Errorf("checking %s: %w", d.GitHTTPSURL, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("checking %s: HTTP %d", d.GitHTTPSURL, resp.StatusCode)
	}

	signer, err := ssh.ParsePrivateKey(d.git.ssh.WriterKey)
	if err != nil {
		return err
	}
	_, _, hostKey, _, _, err := ssh.ParseKnownHosts(d.GitKnownHosts)
	if err != nil {
		return err
	}
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", d.GitSSHAddr)
	if err != nil {
		return fmt.Errorf("checking %s: %w", d.GitSSHURL, err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, d.GitSSHAddr, &ssh.ClientConfig{
		User: "git", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: ssh.FixedHostKey(hostKey),
	})
	if err != nil {
		return fmt.Errorf("checking %s with the writer's key and %s's knownHosts: %w", d.GitSSHURL, GitSSHSecretName, err)
	}
	return ssh.NewClient(c, chans, reqs).Close()
}

// SecretValues are the secret values of the Secrets Start created, for tests that
// search what the webhook and kubectl printed: the passwords as they are, and a line of
// each generated private key's body, which stands for the key.
func (d *Demo) SecretValues() []string {
	values := []string{SecretAccessKey, localenv.GitWriter.Password}
	if d.git != nil {
		for _, key := range [][]byte{d.git.ssh.WriterKey, d.git.ssh.ReaderKey, d.git.app.PrivateKey} {
			values = append(values, strings.Split(string(key), "\n")[1])
		}
	}
	return slices.Clip(values)
}
