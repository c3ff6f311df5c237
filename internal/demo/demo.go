package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
)

// What the examples in examples/ name. Changing one means changing the examples.
const (
	// Host is the address every fixed port listens on.
	Host = "127.0.0.1"
	// DefaultHTTPPort serves MinIO as plain HTTP, for stores with insecure: true;
	// DefaultHTTPSPort serves it with TLS from a certificate the webhook trusts.
	DefaultHTTPPort  = 9000
	DefaultHTTPSPort = 9443

	// Bucket exists and both demo users may read and write it.
	Bucket = "kratix"
	// SecretName in SecretNamespace holds AccessKeyID and SecretAccessKey under the keys
	// Kratix reads, as examples/access-key.yaml writes it too.
	SecretName      = "minio-credentials"
	SecretNamespace = "default"
	AccessKeyID     = "kratix-demo"
	SecretAccessKey = "kratix-demo-secret"

	// RoleUser is the S3 user behind the instance role: the metadata stand-in serves
	// temporary credentials MinIO's STS issues for it, or on SeaweedFS (no STS here) the
	// user's own keys.
	RoleUser = "kratix-demo-instance-role"
	// Role is the instance profile's role name the metadata stand-in reports.
	Role = "kratix-webhook"

	// ExamplesDir holds the examples, relative to the module root.
	ExamplesDir = "examples"

	// BackendMinIO and BackendSeaweedFS name the S3 server the fixed ports reach.
	BackendMinIO     = "minio"
	BackendSeaweedFS = "seaweedfs"
)

// Backends are the S3 servers the demo can run on, the default first.
var Backends = []string{BackendMinIO, BackendSeaweedFS}

// roleUserSecret is RoleUser's password; nothing outside the demo needs it.
const roleUserSecret = "kratix-demo-instance-role-secret"

// secretManifest is the Secret's document in examples/access-key.yaml. Start applies it
// with kubectl, so that applying the example afterwards updates it as kubectl expects
// instead of warning about a missing last-applied-configuration annotation.
var secretManifest = fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: %s
  namespace: %s
type: Opaque
stringData:
  accessKeyID: %s
  secretAccessKey: %s
`, SecretName, SecretNamespace, AccessKeyID, SecretAccessKey)

// Options configures Start.
type Options struct {
	// Dir is any directory inside the module; empty means the working directory.
	Dir string
	// HTTPPort and HTTPSPort (S3), GitHTTPSPort and GitSSHPort are the fixed ports on
	// Host; zero means the defaults, which are what the examples name. IMDSPort is the
	// metadata stand-in's; zero means a free port (the examples do not name it: the
	// webhook gets it as --iam-endpoint).
	HTTPPort, HTTPSPort, GitHTTPSPort, GitSSHPort, IMDSPort int
	// SecretsDir receives the Secrets whose keys Start generates (GitSSHSecretName and
	// GitHubAppSecretName), one manifest file each, which Stop removes; empty means a
	// directory in the environment's WorkDir.
	SecretsDir string
	// Backend is BackendMinIO (empty means it) or BackendSeaweedFS.
	Backend string
	// LockWait is how long to wait for another demo to free the fixed ports; zero fails
	// at once.
	LockWait time.Duration
	// Progress receives what the environment is doing. Nil discards it.
	Progress io.Writer
	// WebhookOutput, when set, also receives the webhook's log.
	WebhookOutput io.Writer
}

// Demo is a running demo environment. Its fields are read-only.
type Demo struct {
	// Env is the local environment: API server, MinIO and webhook.
	Env *localenv.Env
	// S3 is the server the fixed ports reach: Env.MinIO, or SeaweedFS beside it.
	S3 localenv.S3Server
	// IMDS is the instance metadata stand-in the webhook's --iam-endpoint names.
	IMDS *localenv.IMDS
	// HTTPEndpoint and HTTPSEndpoint are host:port of the fixed ports, as a store's
	// spec.endpoint.
	HTTPEndpoint, HTTPSEndpoint string
	// GitHTTPSURL and GitSSHURL are GitRepository at the fixed Git ports, as a
	// GitStateStore's spec.url; GitSSHAddr is the SSH port's host:port, and GitKnownHosts
	// the known_hosts line for it that Secret GitSSHSecretName holds.
	GitHTTPSURL, GitSSHURL, GitSSHAddr string
	GitKnownHosts                      []byte
	// GitHubAPIURL is the GitHub App stand-in, the webhook's --github-api-url.
	GitHubAPIURL string
	// SecretFiles are the manifests of the generated Secrets, in Options.SecretsDir.
	SecretFiles []string

	// pending are listeners opened early that nothing serves yet; forwarders serve them
	// once MinIO runs.
	pending    []net.Listener
	forwarders []*forwarder
	unlock     func()
	seaweed    *localenv.SeaweedFS
	git        *gitServers
}

// Start brings up the environment the examples need. On error it stops whatever it had
// started. A cancelled ctx during the start-up stops it with ctx's error.
func Start(ctx context.Context, opts Options) (_ *Demo, retErr error) {
	if opts.HTTPPort == 0 {
		opts.HTTPPort = DefaultHTTPPort
	}
	if opts.HTTPSPort == 0 {
		opts.HTTPSPort = DefaultHTTPSPort
	}
	if opts.GitHTTPSPort == 0 {
		opts.GitHTTPSPort = DefaultGitHTTPSPort
	}
	if opts.GitSSHPort == 0 {
		opts.GitSSHPort = DefaultGitSSHPort
	}
	if opts.Backend == "" {
		opts.Backend = BackendMinIO
	}
	if !slices.Contains(Backends, opts.Backend) {
		return nil, fmt.Errorf("unknown S3 backend %q; use one of %v", opts.Backend, Backends)
	}
	ports := []struct {
		port int
		flag string
	}{{opts.HTTPPort, "--http-port"}, {opts.HTTPSPort, "--https-port"}, {opts.GitHTTPSPort, "--git-https-port"}, {opts.GitSSHPort, "--git-ssh-port"}}
	for i, p := range ports {
		for _, q := range ports[:i] {
			if p.port == q.port {
				return nil, fmt.Errorf("the fixed ports must differ, and %s and %s are both %d", q.flag, p.flag, p.port)
			}
		}
	}
	d := &Demo{
		HTTPEndpoint:  net.JoinHostPort(Host, strconv.Itoa(opts.HTTPPort)),
		HTTPSEndpoint: net.JoinHostPort(Host, strconv.Itoa(opts.HTTPSPort)),
		GitHTTPSURL:   "https://" + net.JoinHostPort(Host, strconv.Itoa(opts.GitHTTPSPort)) + "/" + GitRepository,
		GitSSHAddr:    net.JoinHostPort(Host, strconv.Itoa(opts.GitSSHPort)),
	}
	d.GitSSHURL = "ssh://git@" + d.GitSSHAddr + "/" + GitRepository
	defer func() {
		if retErr != nil {
			_ = d.Stop()
		}
	}()

	// The ports come first: a busy port fails in a second, not after the build.
	var err error
	if d.unlock, err = portLocks(ctx, []int{opts.HTTPPort, opts.HTTPSPort, opts.GitHTTPSPort, opts.GitSSHPort}, opts.LockWait, opts.Progress); err != nil {
		return nil, err
	}
	for _, p := range ports {
		l, err := listen(p.port, p.flag)
		if err != nil {
			return nil, err
		}
		d.pending = append(d.pending, l)
	}
	httpListener, httpsListener, gitHTTPSListener, gitSSHListener := d.pending[0], d.pending[1], d.pending[2], d.pending[3]
	imdsListener, err := listen(opts.IMDSPort, "--imds-port")
	if err != nil {
		return nil, err
	}
	// The webhook must be told the stand-in's URL when it starts, before MinIO (which
	// issues the role's credentials) is up: until then the instance has no role.
	if d.IMDS, err = localenv.StartIMDS(localenv.IMDSOptions{Listener: imdsListener, Role: Role}); err != nil {
		imdsListener.Close()
		return nil, err
	}

	if d.git, err = startGit(); err != nil {
		return nil, err
	}
	d.GitHubAPIURL = d.git.app.URL
	if d.GitKnownHosts, err = knownHostsFor(d.git.ssh, d.GitSSHAddr); err != nil {
		return nil, err
	}

	d.Env, err = localenv.Start(ctx, localenv.Options{
		Dir:           opts.Dir,
		Progress:      opts.Progress,
		WebhookOutput: opts.WebhookOutput,
		WebhookArgs:   d.WebhookArgs(),
		ClientAuth:    true,
	})
	if err != nil {
		return nil, err
	}

	var role localenv.IMDSCredentialSource
	if d.S3, role, err = d.startS3(ctx, opts); err != nil {
		return nil, err
	}
	d.IMDS.SetCredentials(role)
	manifests := []string{secretManifest}
	secrets := d.gitSecrets()
	for _, s := range secrets {
		m, err := s.manifest()
		if err != nil {
			return nil, err
		}
		manifests = append(manifests, m)
	}
	if err := d.kubectlApply(ctx, strings.Join(manifests, "---\n")); err != nil {
		return nil, fmt.Errorf("creating the Secrets in %s: %w", SecretNamespace, err)
	}
	secretsDir := opts.SecretsDir
	if secretsDir == "" {
		secretsDir = filepath.Join(d.Env.WorkDir, "secrets")
	}
	if d.SecretFiles, err = writeGeneratedSecrets(secretsDir, secrets); err != nil {
		return nil, fmt.Errorf("writing the generated Secrets: %w", err)
	}

	gitHTTPS, err := d.tlsListener(gitHTTPSListener)
	if err != nil {
		return nil, err
	}
	tlsEndpoint, plainEndpoint := d.S3.Endpoints()
	d.forwarders = []*forwarder{
		forward(httpListener, plainEndpoint), forward(httpsListener, tlsEndpoint),
		forward(gitHTTPS, strings.TrimPrefix(d.git.http.InsecureURL, "http://")), forward(gitSSHListener, d.git.ssh.Addr),
	}
	d.pending = nil
	if err := d.check(ctx); err != nil {
		return nil, err
	}
	if err := d.checkGit(ctx); err != nil {
		return nil, err
	}
	progress := progressOrDiscard(opts.Progress)
	fmt.Fprintf(progress, "demo ready: %s at http://%s and https://%s, bucket %q, Secret %s/%s, instance metadata stand-in at %s (role %s)\n",
		d.S3.Name(), d.HTTPEndpoint, d.HTTPSEndpoint, Bucket, SecretNamespace, SecretName, d.IMDS.URL, Role)
	names := make([]string, 0, len(secrets))
	for _, s := range secrets {
		names = append(names, s.name)
	}
	fmt.Fprintf(progress, "demo ready: Git at %s and %s, branch %s, Secrets %v in %s, GitHub App stand-in at %s\n",
		d.GitHTTPSURL, d.GitSSHURL, GitBranch, names, SecretNamespace, d.GitHubAPIURL)
	return d, nil
}

// WebhookArgs are the probe flags the demo gives the webhook, which statestore-check
// needs too to answer as the webhook does.
func (d *Demo) WebhookArgs() []string {
	return []string{"--iam-endpoint=" + d.IMDS.URL, "--iam-endpoints=127.0.0.1", "--github-api-url=" + d.GitHubAPIURL}
}

// startS3 makes the bucket and the users on the backend opts names, SeaweedFS started
// beside the environment's MinIO, and returns it with the role's credential source.
func (d *Demo) startS3(ctx context.Context, opts Options) (localenv.S3Server, localenv.IMDSCredentialSource, error) {
	if opts.Backend == BackendSeaweedFS {
		binary, err := localenv.BuildSeaweedFS(ctx, d.Env.Root, opts.Progress)
		if err != nil {
			return nil, nil, err
		}
		d.seaweed, err = localenv.StartSeaweedFS(ctx, localenv.SeaweedFSOptions{
			Binary: binary,
			Dir:    filepath.Join(d.Env.WorkDir, "seaweedfs"),
			CA:     d.Env.CA,
			Identities: []localenv.SeaweedFSIdentity{
				{Name: "demo", AccessKey: AccessKeyID, SecretKey: SecretAccessKey, Actions: localenv.SeaweedFSReadWrite},
				{Name: "instance-role", AccessKey: RoleUser, SecretKey: roleUserSecret, Actions: localenv.SeaweedFSReadWrite},
			},
		})
		if err != nil {
			return nil, nil, err
		}
		if err := d.seaweed.MakeBucket(ctx, Bucket); err != nil {
			return nil, nil, err
		}
		return d.seaweed, localenv.StaticCredentials(RoleUser, roleUserSecret), nil
	}
	m := d.Env.MinIO
	if err := m.MakeBucket(ctx, Bucket); err != nil {
		return nil, nil, err
	}
	if err := m.CreateUser(ctx, AccessKeyID, SecretAccessKey, "readwrite"); err != nil {
		return nil, nil, err
	}
	if err := m.CreateUser(ctx, RoleUser, roleUserSecret, "readwrite"); err != nil {
		return nil, nil, err
	}
	return m, m.AssumeRoleCredentials(RoleUser, roleUserSecret, time.Hour), nil
}

// check makes sure the fixed ports reach the bucket with the demo keys, as the webhook
// will, and that the stand-in serves credentials the S3 server accepts.
func (d *Demo) check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tlsTransport := &http.Transport{TLSClientConfig: d.Env.CA.TLSConfig()}
	defer tlsTransport.CloseIdleConnections()
	static := credentials.NewStaticV4(AccessKeyID, SecretAccessKey, "")
	iam := credentials.New(&credentials.IAM{Endpoint: d.IMDS.URL})
	for _, c := range []struct {
		what     string
		endpoint string
		secure   bool
		creds    *credentials.Credentials
	}{
		{"the demo access key over plain HTTP", d.HTTPEndpoint, false, static},
		{"the demo access key over HTTPS", d.HTTPSEndpoint, true, static},
		{"the instance role's credentials over HTTPS", d.HTTPSEndpoint, true, iam},
	} {
		opts := &minio.Options{Creds: c.creds, Secure: c.secure}
		if c.secure {
			opts.Transport = tlsTransport
		}
		client, err := minio.New(c.endpoint, opts)
		if err == nil {
			var ok bool
			ok, err = client.BucketExists(ctx, Bucket)
			if err == nil && !ok {
				err = errors.New("the bucket does not exist")
			}
		}
		if err != nil {
			return fmt.Errorf("checking bucket %q at %s with %s: %w", Bucket, c.endpoint, c.what, err)
		}
	}
	return nil
}

// kubectlApply runs `kubectl apply -f -` with manifest as the administrator.
func (d *Demo) kubectlApply(ctx context.Context, manifest string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.Env.Kube.KubectlPath, "--kubeconfig", d.Env.Kube.KubeconfigPath, "apply", "-f", "-")
	cmd.Stdin = strings.NewReader(manifest)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("kubectl apply: %w: %s", err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

// Examples returns the example files, relative to the module root, in name order.
func (d *Demo) Examples() ([]string, error) {
	files, err := filepath.Glob(filepath.Join(d.Env.Root, ExamplesDir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.yaml files in %s", filepath.Join(d.Env.Root, ExamplesDir))
	}
	rel := make([]string, 0, len(files))
	for _, f := range files {
		r, err := filepath.Rel(d.Env.Root, f)
		if err != nil {
			return nil, err
		}
		rel = append(rel, r)
	}
	slices.Sort(rel)
	return rel, nil
}

// ApplyLine is the shell command that applies file (relative to the module root, where
// it is to be run) with the environment's kubectl as the administrator.
func (d *Demo) ApplyLine(file string) string {
	return strings.Join([]string{
		shellQuote(d.Env.Kube.KubectlPath), "--kubeconfig", shellQuote(d.Env.Kube.KubeconfigPath),
		"apply", "-f", shellQuote(file),
	}, " ")
}

// Stop stops everything Start started and releases the ports. It is safe to call on a
// partly started demo and more than once.
func (d *Demo) Stop() error {
	var errs []error
	for _, l := range d.pending {
		l.Close()
	}
	for _, f := range d.forwarders {
		f.close()
	}
	d.pending, d.forwarders = nil, nil
	if d.seaweed != nil {
		errs = append(errs, d.seaweed.Stop())
		d.seaweed = nil
	}
	if d.git != nil {
		errs = append(errs, d.git.stop())
		d.git = nil
	}
	for _, f := range d.SecretFiles {
		errs = append(errs, os.Remove(f))
	}
	d.SecretFiles = nil
	if d.IMDS != nil {
		errs = append(errs, d.IMDS.Stop())
		d.IMDS = nil
	}
	if d.Env != nil {
		errs = append(errs, d.Env.Stop())
		d.Env = nil
	}
	if d.unlock != nil {
		d.unlock()
		d.unlock = nil
	}
	return errors.Join(errs...)
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:=@%+,-]+$`)

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func progressOrDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
