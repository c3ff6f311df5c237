package localenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Options configures Start.
type Options struct {
	// Dir is any directory inside the module; empty means the working directory.
	Dir string
	// Progress receives a line per step, the build script's output and the versions of
	// the binaries that run. Nil discards them.
	Progress io.Writer
	// WebhookOutput, when set, also receives the webhook's stdout and stderr (they are
	// always kept in Env.Webhook.Output).
	WebhookOutput io.Writer
	// WebhookArgs are extra flags for the webhook binary, such as "--probe=warn".
	WebhookArgs []string
	// WebhookEnv is extra environment for the webhook binary.
	WebhookEnv []string
	// AuditPolicy, when set, makes the API server write an audit log under this policy
	// (YAML), at Env.Kube.AuditLogPath.
	AuditPolicy string
	// ClientAuth makes the webhook require a client certificate from ClientCA, which
	// the API server presents through its admission configuration (as
	// docs/operating.md tells operators to set up).
	ClientAuth bool
}

// Env is a running environment. Its fields are read-only.
type Env struct {
	// Root is the module root; WorkDir holds every file the environment writes and is
	// removed by Stop.
	Root, WorkDir string
	// BinDir holds the component binaries; WebhookBinary is the freshly built webhook.
	BinDir, WebhookBinary string
	// Versions maps each binary's name to the first line of its version output.
	Versions map[string]string
	// CA signed the webhook's and MinIO's serving certificates.
	CA *CA
	// ClientCA, with Options.ClientAuth, signed the API server's client certificate, the
	// only client the webhook serves; nil otherwise.
	ClientCA *CA

	Kube    *Kube
	MinIO   *MinIO
	Webhook *Webhook
	// Client is an administrator's controller-runtime client (client-go's scheme only;
	// BucketStateStores go through unstructured objects or a client with a richer scheme).
	Client client.Client
	// Configurations are the webhook configurations as registered.
	Configurations *WebhookConfigurations

	progress progress
	// webhookEnv is Options.WebhookEnv, which RestartWebhook gives the webhook again.
	webhookEnv []string
	// check is statestore-check, built on the first RunCheck.
	check checkBinary
}

// Paths inside the module that the environment reads.
const (
	CRDDir                = "manifests/crd/bases"
	MutatingWebhookFile   = "manifests/base/mutating-webhook.yaml"
	ValidatingWebhookFile = "manifests/base/validating-webhook.yaml"
)

// Start builds what is missing, starts every component and registers the webhook. On
// error it stops whatever it had started; the error names the step that failed.
func Start(ctx context.Context, opts Options) (_ *Env, retErr error) {
	began := time.Now()
	e := &Env{progress: progress{opts.Progress}, webhookEnv: opts.WebhookEnv}
	defer func() {
		if retErr != nil {
			_ = e.Stop()
		}
	}()
	dir := opts.Dir
	if dir == "" {
		dir = "."
	}
	var err error
	if e.Root, err = ModuleRoot(dir); err != nil {
		return nil, err
	}

	e.progress.printf("building components with hack/build-components.sh")
	if e.BinDir, err = BuildComponents(ctx, e.Root, opts.Progress); err != nil {
		return nil, err
	}
	if e.WorkDir, err = makeWorkDir(); err != nil {
		return nil, err
	}
	e.progress.printf("building the webhook: go build -o %s/webhook ./cmd/webhook", e.WorkDir)
	if e.WebhookBinary, err = BuildWebhook(ctx, e.Root, e.WorkDir); err != nil {
		return nil, err
	}
	if e.Versions, err = componentVersions(ctx, e.BinDir); err != nil {
		return nil, err
	}
	if e.Versions["webhook"], err = BinaryVersion(ctx, e.WebhookBinary, versionArgs["webhook"]...); err != nil {
		return nil, err
	}
	for _, name := range Components {
		// The link's target names the version the build script was asked for; MinIO
		// built from a pseudo-version reports none itself.
		target, _ := filepath.EvalSymlinks(filepath.Join(e.BinDir, name))
		e.progress.printf("%-14s %s (%s)", name, e.Versions[name], filepath.Base(target))
	}
	e.progress.printf("%-14s %s (%s)", "webhook", e.Versions["webhook"], e.WebhookBinary)

	if e.CA, err = NewCA(e.WorkDir); err != nil {
		return nil, err
	}

	var webhookClient *WebhookClient
	webhookPort := 0 // picked by StartWebhook unless the API server must know it first
	if opts.ClientAuth {
		if e.ClientCA, webhookClient, webhookPort, err = newWebhookClient(filepath.Join(e.WorkDir, "client-ca")); err != nil {
			return nil, err
		}
	}

	step := time.Now()
	e.Kube, err = StartKube(KubeOptions{
		BinDir:        e.BinDir,
		CRDDir:        filepath.Join(e.Root, CRDDir),
		Dir:           filepath.Join(e.WorkDir, "kube"),
		Progress:      opts.Progress,
		AuditPolicy:   opts.AuditPolicy,
		WebhookClient: webhookClient,
	})
	if err != nil {
		return nil, err
	}
	e.progress.printf("kube-apiserver serving at %s in %s; CRDs installed: %v; kubeconfig: %s",
		e.Kube.Config.Host, time.Since(step).Round(time.Millisecond), e.Kube.CRDNames(), e.Kube.KubeconfigPath)
	if e.Client, err = client.New(e.Kube.Config, client.Options{}); err != nil {
		return nil, err
	}

	step = time.Now()
	e.MinIO, err = StartMinIO(ctx, MinIOOptions{
		Binary: filepath.Join(e.BinDir, "minio"),
		Dir:    filepath.Join(e.WorkDir, "minio"),
		CA:     e.CA,
	})
	if err != nil {
		return nil, err
	}
	e.progress.printf("MinIO serving https://%s (plain-HTTP proxy %s) in %s",
		e.MinIO.Endpoint, e.MinIO.InsecureEndpoint, time.Since(step).Round(time.Millisecond))

	step = time.Now()
	certDir := filepath.Join(e.WorkDir, "webhook-certs")
	if err := e.CA.WriteServingCert(certDir, "tls.crt", "tls.key"); err != nil {
		return nil, err
	}
	// The webhook runs as the shipped ServiceAccount, with the shipped RBAC.
	kubeconfig, err := e.Kube.WebhookKubeconfig(ctx, e.Root, IdentityFiles...)
	if err != nil {
		return nil, err
	}
	e.Webhook, err = StartWebhook(ctx, WebhookOptions{
		Binary:     e.WebhookBinary,
		CertDir:    certDir,
		Kubeconfig: kubeconfig,
		CA:         e.CA,
		ClientCA:   e.ClientCA,
		ClientName: APIServerClientName,
		Port:       webhookPort,
		Args:       opts.WebhookArgs,
		Env:        opts.WebhookEnv,
		Output:     opts.WebhookOutput,
	})
	if err != nil {
		return nil, err
	}
	e.progress.printf("webhook ready on %s in %s: %v", e.Webhook.URL(""), time.Since(step).Round(time.Millisecond), e.Webhook.Args)

	step = time.Now()
	if err := e.register(ctx); err != nil {
		return nil, err
	}
	e.progress.printf("API server calls %v (%s); environment up in %s",
		e.Configurations.WebhookNames(), time.Since(step).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	return e, nil
}

// register applies the shipped webhook configurations, pointed at the local webhook, and
// waits until the API server calls each of them.
func (e *Env) register(ctx context.Context) error {
	cfgs, err := ReadWebhookConfigurations(filepath.Join(e.Root, MutatingWebhookFile), filepath.Join(e.Root, ValidatingWebhookFile))
	if err != nil {
		return err
	}
	if err := cfgs.PointAt(e.Webhook.URL, e.CA.CertPEM); err != nil {
		return err
	}
	if err := cfgs.Apply(ctx, e.Client); err != nil {
		return err
	}
	e.Configurations = cfgs
	cs, err := kubernetes.NewForConfig(e.Kube.Config)
	if err != nil {
		return err
	}
	// The webhooks rules must match this store; it lacks the secretRef an accessKey
	// store needs, so the webhook answers without probing anything.
	probe := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "platform.kratix.io/v1alpha1",
		"kind":       "BucketStateStore",
		"metadata":   map[string]any{"name": "localenv-registration-check"},
		"spec": map[string]any{
			"bucketName": "localenv-registration-check",
			"endpoint":   "127.0.0.1:1",
			"authMethod": "accessKey",
		},
	}}
	if err := cfgs.WaitUntilCalled(ctx, e.Client, cs, probe, 30*time.Second); err != nil {
		return fmt.Errorf("waiting for the API server to call the webhooks: %w\nwebhook output:\n%s", err, e.Webhook.Output.excerpt(1500))
	}
	return nil
}

// RestartWebhook stops the webhook and starts the same binary again on the same ports
// with the same certificate and extra flags args (replacing the ones Start was given),
// so tests can try other flags against the registered configurations.
func (e *Env) RestartWebhook(ctx context.Context, args ...string) error {
	return e.RestartWebhookWithEnv(ctx, e.webhookEnv, args...)
}

// RestartWebhookWithEnv is RestartWebhook with env ("NAME=value") added to the
// webhook's environment instead of Options.WebhookEnv.
func (e *Env) RestartWebhookWithEnv(ctx context.Context, env []string, args ...string) error {
	if err := e.Webhook.Stop(); err != nil {
		return err
	}
	opts := e.Webhook.opts // with the ports StartWebhook picked, so the registered URLs stay right
	opts.Args = args
	opts.Env = env
	w, err := StartWebhook(ctx, opts)
	if err != nil {
		return err
	}
	e.Webhook = w
	e.progress.printf("webhook restarted: %v", w.Args)
	return nil
}

// Stop stops every component Start started and removes WorkDir. It is safe to call on a
// partly started environment and more than once.
func (e *Env) Stop() error {
	var errs []error
	if e.Webhook != nil {
		errs = append(errs, e.Webhook.Stop())
	}
	if e.MinIO != nil {
		errs = append(errs, e.MinIO.Stop())
	}
	if e.Kube != nil {
		errs = append(errs, e.Kube.Stop())
	}
	if e.WorkDir != "" {
		errs = append(errs, os.RemoveAll(e.WorkDir))
	}
	e.Webhook, e.MinIO, e.Kube, e.WorkDir = nil, nil, nil, ""
	return errors.Join(errs...)
}

// workDirPrefix names the environment's temporary directories; each holds a file named
// pid with its owner's process id, so a later Start can remove the directories of
// environments whose process was killed before it could clean up.
const workDirPrefix = "bucketstatestore-localenv-"

func makeWorkDir() (string, error) {
	stale, _ := filepath.Glob(filepath.Join(os.TempDir(), workDirPrefix+"*"))
	for _, d := range stale {
		b, err := os.ReadFile(filepath.Join(d, "pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(string(b))
		if err == nil && syscall.Kill(pid, 0) == syscall.ESRCH {
			_ = os.RemoveAll(d)
		}
	}
	dir, err := os.MkdirTemp("", workDirPrefix)
	if err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "pid"), []byte(strconv.Itoa(os.Getpid())), 0o600)
}
