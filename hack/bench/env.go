package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/internal/localenv"
)

// The fixtures every measurement uses.
const (
	bucket    = "bench"
	accessKey = "bench-writer"
	secretKey = "bench-writer-secret"
	// probeBudget is the webhook's --probe-timeout in this run: short, so that the
	// unreachable-endpoint figure does not take long, and far above a local probe.
	probeBudget = 2 * time.Second
)

// benchSecret holds the bench writer's MinIO keys; benchGitSecret localenv.GitWriter's
// user name and password.
var (
	benchSecret    = types.NamespacedName{Namespace: "default", Name: "bench-credentials"}
	benchGitSecret = types.NamespacedName{Namespace: "default", Name: "bench-git-credentials"}
)

// benchEnv is a kube-apiserver, MinIO, a Git server, the webhook binary built from this
// module (registered with the API server) and the bare webhook, plus the fixtures.
type benchEnv struct {
	*localenv.Env
	// IMDS serves the bench writer's keys as an instance role's, for authMethod IAM.
	IMDS *localenv.IMDS
	// Bare is the bare webhook, which admits at once. Floor is the floor of the design:
	// the bare webhook that also asks the access reviewer about the bench Secret of the
	// store's kind and reads it on each validation, as a store's admission does by
	// design, and whose mutating webhook answers with the webhook's defaulting patch for
	// the API server figure's store of that kind (see bare-webhook).
	Bare, Floor *localenv.Webhook
	// S3Proxy is a TLS proxy in front of MinIO that counts the probes reaching it.
	S3Proxy *countingProxy
	// Git is localenv's Git server (git http-backend); GitProxy, in front of it, counts
	// the probes reaching it.
	Git      *localenv.GitServer
	GitProxy *countingProxy
	// Buckets and Gits are the two store kinds, as the per-kind figures use them.
	Buckets, Gits *storeKind
	// BlackHole accepts connections and never answers.
	BlackHole *localenv.BlackHole
	// TLS trusts the environment's CA, which signed the webhooks' and MinIO's certificates.
	TLS *tls.Config
	// KubeClient is an administrator's client that knows BucketStateStores.
	KubeClient client.Client

	webhookArgs []string
	bareOpts    localenv.WebhookOptions
	// progress receives the environment's progress (-v).
	progress io.Writer
}

// startEnv brings everything up; on error it stops what it started.
func startEnv(ctx context.Context, progress io.Writer) (_ *benchEnv, retErr error) {
	b := &benchEnv{progress: progress}
	defer func() {
		if retErr != nil {
			_ = b.stop()
		}
	}()
	// The webhook must know the metadata stand-in's URL when it starts; the role's
	// credentials are attached once MinIO has the user.
	var err error
	if b.IMDS, err = localenv.StartIMDS(localenv.IMDSOptions{Role: "bench-role"}); err != nil {
		return nil, err
	}
	b.webhookArgs = []string{"--iam-endpoint=" + b.IMDS.URL, "--iam-endpoints=127.0.0.1", "--probe-timeout=" + probeBudget.String()}
	if b.Env, err = localenv.Start(ctx, localenv.Options{Progress: progress, WebhookArgs: b.webhookArgs}); err != nil {
		return nil, err
	}
	b.TLS = b.CA.TLSConfig()

	if err := b.MinIO.MakeBucket(ctx, bucket); err != nil {
		return nil, err
	}
	if err := b.MinIO.CreateUser(ctx, accessKey, secretKey, "readwrite"); err != nil {
		return nil, err
	}
	b.IMDS.SetCredentials(localenv.StaticIMDSCredentials(accessKey, secretKey))
	if b.KubeClient, err = newKubeClient(b.Env.Kube.Config); err != nil {
		return nil, err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: benchSecret.Name, Namespace: benchSecret.Namespace},
		Data:       map[string][]byte{v1alpha1.SecretKeyAccessKeyID: []byte(accessKey), v1alpha1.SecretKeySecretAccessKey: []byte(secretKey)},
	}
	if err := b.KubeClient.Create(ctx, secret); err != nil {
		return nil, fmt.Errorf("creating Secret %s: %w", benchSecret, err)
	}

	if b.S3Proxy, err = startCountingProxy(b.CA, filepath.Join(b.WorkDir, "s3-proxy"), b.MinIO.Endpoint, b.CA.TLSConfig()); err != nil {
		return nil, err
	}
	if b.Git, err = localenv.StartGitServer(filepath.Join(b.WorkDir, "git-server")); err != nil {
		return nil, err
	}
	if b.GitProxy, err = startCountingProxy(b.CA, filepath.Join(b.WorkDir, "git-proxy"), strings.TrimPrefix(b.Git.URL, "https://"), b.Git.CA.TLSConfig()); err != nil {
		return nil, err
	}
	gitSecret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: benchGitSecret.Name, Namespace: benchGitSecret.Namespace},
		Data:       map[string][]byte{v1alpha1.SecretKeyUsername: []byte(localenv.GitWriter.Name), v1alpha1.SecretKeyPassword: []byte(localenv.GitWriter.Password)},
	}
	if err := b.KubeClient.Create(ctx, gitSecret); err != nil {
		return nil, fmt.Errorf("creating Secret %s: %w", benchGitSecret, err)
	}
	b.Buckets, b.Gits = bucketKind(b), gitKind(b)
	if b.BlackHole, err = localenv.StartBlackHole(); err != nil {
		return nil, err
	}

	bareBinary := filepath.Join(b.WorkDir, "bare-webhook")
	if err := goBuild(ctx, b.Root, bareBinary, "./hack/bench/bare-webhook"); err != nil {
		return nil, err
	}
	b.bareOpts = localenv.WebhookOptions{
		Binary:     bareBinary,
		CertDir:    filepath.Join(b.WorkDir, "webhook-certs"), // the webhook's own certificate
		Kubeconfig: b.Env.Kube.KubeconfigPath,
		CA:         b.CA,
	}
	if b.Bare, err = localenv.StartWebhook(ctx, b.bareOpts); err != nil {
		return nil, fmt.Errorf("starting the bare webhook: %w", err)
	}
	b.bareOpts = withPorts(b.bareOpts, b.Bare)
	kinds := []*storeKind{b.Buckets, b.Gits}
	patchFiles := map[string]string{}
	for _, k := range kinds {
		patchFiles[k.name] = filepath.Join(b.WorkDir, "defaulting-patch-"+strings.ToLower(k.name)+".json")
		if err := writeDefaultingPatch(ctx, b, k, patchFiles[k.name]); err != nil {
			return nil, err
		}
	}
	floorOpts := b.bareOpts
	floorOpts.Port, floorOpts.HealthPort, floorOpts.MetricsPort = 0, 0, 0
	floorOpts.Args = floorArgs(kinds, patchFiles)
	if b.Floor, err = localenv.StartWebhook(ctx, floorOpts); err != nil {
		return nil, fmt.Errorf("starting the floor of the design: %w", err)
	}
	return b, nil
}

// startSeaweedFS builds SeaweedFS if it is missing and starts it with the bench bucket
// and the bench writer as an identity that may read and write every bucket, as the
// writer's MinIO policy "readwrite" may; it returns the server and its version. The
// caller stops it.
func (b *benchEnv) startSeaweedFS(ctx context.Context) (*localenv.SeaweedFS, string, error) {
	binary, err := localenv.BuildSeaweedFS(ctx, b.Root, b.progress)
	if err != nil {
		return nil, "", err
	}
	seaweed, err := localenv.StartSeaweedFS(ctx, localenv.SeaweedFSOptions{
		Binary: binary,
		Dir:    filepath.Join(b.WorkDir, "seaweedfs"),
		CA:     b.CA,
		Identities: []localenv.SeaweedFSIdentity{
			{Name: "bench-writer", AccessKey: accessKey, SecretKey: secretKey, Actions: localenv.SeaweedFSReadWrite},
		},
	})
	if err != nil {
		return nil, "", err
	}
	if err := seaweed.MakeBucket(ctx, bucket); err != nil {
		_ = seaweed.Stop()
		return nil, "", err
	}
	version, err := localenv.BinaryVersion(ctx, binary, "version")
	if err != nil {
		_ = seaweed.Stop()
		return nil, "", err
	}
	return seaweed, version, nil
}

// restartWebhooks starts both webhooks afresh, on the same ports, so that a figure about
// a process's memory is not inflated by what an earlier figure left behind, and returns
// the process IDs of the webhook and the bare webhook.
func (b *benchEnv) restartWebhooks(ctx context.Context) (web, bare int, err error) {
	if err := b.RestartWebhook(ctx, b.webhookArgs...); err != nil {
		return 0, 0, err
	}
	if err := b.Bare.Stop(); err != nil {
		return 0, 0, err
	}
	if b.Bare, err = localenv.StartWebhook(ctx, b.bareOpts); err != nil {
		return 0, 0, err
	}
	if web, err = pidOf(b.WebhookBinary, b.Webhook.Port); err != nil {
		return 0, 0, err
	}
	bare, err = pidOf(b.bareOpts.Binary, b.Bare.Port)
	return web, bare, err
}

func (b *benchEnv) stop() error {
	if b.BlackHole != nil {
		_ = b.BlackHole.Close()
	}
	if b.S3Proxy != nil {
		b.S3Proxy.Close()
	}
	if b.GitProxy != nil {
		b.GitProxy.Close()
	}
	if b.Git != nil {
		_ = b.Git.Stop()
	}
	if b.Bare != nil {
		_ = b.Bare.Stop()
	}
	if b.Floor != nil {
		_ = b.Floor.Stop()
	}
	if b.IMDS != nil {
		_ = b.IMDS.Stop()
	}
	if b.Env != nil {
		return b.Env.Stop()
	}
	return nil
}

// withPorts returns opts with the ports w was started on, so a restart keeps them.
func withPorts(opts localenv.WebhookOptions, w *localenv.Webhook) localenv.WebhookOptions {
	opts.Port = w.Port
	_, health, _ := net.SplitHostPort(w.HealthAddr)
	_, metrics, _ := net.SplitHostPort(w.MetricsAddr)
	opts.HealthPort, _ = strconv.Atoi(health)
	opts.MetricsPort, _ = strconv.Atoi(metrics)
	return opts
}

func newKubeClient(cfg *rest.Config) (client.Client, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	// The harness must never be the one waiting on a client-side rate limit.
	cfg.QPS, cfg.Burst = 5000, 10000
	return client.New(cfg, client.Options{Scheme: scheme})
}

func goBuild(ctx context.Context, root, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// pidOf finds the process running binary with --webhook-port=port: localenv does not
// hand out its children's process IDs, and /proc/<pid>/status is where peak RSS is.
func pidOf(binary string, port int) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	portArg := "--webhook-port=" + strconv.Itoa(port)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if len(args) > 0 && args[0] == binary && containsArg(args, portArg) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no process of %s with %s", binary, portArg)
}

func containsArg(args []string, arg string) bool {
	for _, a := range args {
		if a == arg {
			return true
		}
	}
	return false
}
