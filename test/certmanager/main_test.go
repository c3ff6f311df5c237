// Package certmanager checks the manifests that ship with the webhook against real
// components: manifests/cert-manager against cert-manager's real controllers and
// cainjector, the webhook binary serving the certificate they issue, and every kustomize
// variant against a real API server's schemas, cert-manager's CRDs included.
//
// TestMain starts etcd, kube-apiserver, MinIO and cert-manager once. A component that
// does not start fails the package; nothing is skipped.
package certmanager

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
	"github.com/kratix-community/statestore-webhook/internal/localenv"

	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// env is what every test shares.
var env *suite

// suite is the environment TestMain starts.
type suite struct {
	// Root is the module root; WorkDir holds every file the suite writes; BinDir holds
	// etcd, kube-apiserver, kubectl and MinIO.
	Root, WorkDir, BinDir string
	// WebhookBinary is built from the current source.
	WebhookBinary string
	// CA signed MinIO's serving certificate.
	CA *localenv.CA

	Kube        *localenv.Kube
	MinIO       *localenv.MinIO
	CertManager *certManager
	// Client is an administrator's client that knows cert-manager's types and
	// BucketStateStores; Clientset is the same for client-go.
	Client    client.Client
	Clientset kubernetes.Interface
	// WebhookKubeconfig is the webhook's own user: the shipped ServiceAccount with the
	// shipped RBAC, as in localenv.Start.
	WebhookKubeconfig string
	// Log holds what envtest, client-go and cert-manager logged.
	Log *localenv.LogBuffer

	// Bucket exists in MinIO; Secret, in default, holds an access key that may
	// read and write it.
	Bucket, Secret string
}

func TestMain(m *testing.M) {
	componentLog := &localenv.LogBuffer{}
	suite := testkit.Suite{
		Name: "cert-manager test environment",
		Start: func(ctx context.Context) (err error) {
			if env, err = start(ctx, componentLog); err != nil {
				return fmt.Errorf("%w\nlog of envtest, client-go and cert-manager (end):\n%s", err, tail(componentLog, 4000))
			}
			return nil
		},
		Stop: func() error { return env.Stop() },
	}
	os.Exit(suite.Run(m.Run))
}

// start builds what is missing and starts every component; they log to componentLog.
// On error it stops whatever it had started.
func start(ctx context.Context, componentLog *localenv.LogBuffer) (_ *suite, retErr error) {
	s := &suite{Bucket: "kratix", Secret: "minio-credentials", Log: componentLog}
	log := funcr.New(func(prefix, args string) { fmt.Fprintln(componentLog, prefix, args) }, funcr.Options{Verbosity: 2})
	klog.SetLogger(log)
	ctrllog.SetLogger(log)
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, s.Stop())
		}
	}()
	var err error
	if s.Root, err = localenv.ModuleRoot("."); err != nil {
		return nil, err
	}
	binDir, err := localenv.BuildComponents(ctx, s.Root, os.Stderr)
	if err != nil {
		return nil, err
	}
	s.BinDir = binDir
	if s.WorkDir, err = os.MkdirTemp("", "bucketstatestore-certmanager-"); err != nil {
		return nil, err
	}
	if s.WebhookBinary, err = localenv.BuildWebhook(ctx, s.Root, s.WorkDir); err != nil {
		return nil, err
	}
	if err := printVersions(ctx, binDir, s.WebhookBinary); err != nil {
		return nil, err
	}
	if s.CA, err = localenv.NewCA(s.WorkDir); err != nil {
		return nil, err
	}

	step := time.Now()
	s.Kube, err = localenv.StartKube(localenv.KubeOptions{
		BinDir:   binDir,
		CRDDir:   filepath.Join(s.Root, localenv.CRDDir),
		Dir:      filepath.Join(s.WorkDir, "kube"),
		Progress: os.Stderr,
		// Webhooks registered by Service are called at one of the Service's endpoints,
		// not at its ClusterIP (no kube-proxy here): the Helm install test points an
		// EndpointSlice at the webhook binary that stands in for the Deployment's pods.
		APIServerFlags: map[string]string{"enable-aggregator-routing": "true"},
	})
	if err != nil {
		return nil, err
	}
	logf("kube-apiserver serving at %s in %s", s.Kube.Config.Host, time.Since(step).Round(time.Millisecond))
	scheme := k8sruntime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(scheme), cmapi.AddToScheme(scheme), v1alpha1.AddToScheme(scheme)); err != nil {
		return nil, err
	}
	if s.Client, err = client.New(s.Kube.Config, client.Options{Scheme: scheme}); err != nil {
		return nil, err
	}
	if s.Clientset, err = kubernetes.NewForConfig(s.Kube.Config); err != nil {
		return nil, err
	}
	if s.WebhookKubeconfig, err = s.Kube.WebhookKubeconfig(ctx, s.Root, localenv.IdentityFiles...); err != nil {
		return nil, err
	}

	step = time.Now()
	s.MinIO, err = localenv.StartMinIO(ctx, localenv.MinIOOptions{
		Binary: filepath.Join(binDir, "minio"),
		Dir:    filepath.Join(s.WorkDir, "minio"),
		CA:     s.CA,
	})
	if err != nil {
		return nil, err
	}
	if err := s.createFixtures(ctx); err != nil {
		return nil, err
	}
	logf("MinIO serving https://%s with bucket %q in %s", s.MinIO.Endpoint, s.Bucket, time.Since(step).Round(time.Millisecond))

	step = time.Now()
	if s.CertManager, err = startCertManager(ctx, s.Root, s.Kube.KubectlPath, s.Kube.KubeconfigPath, log); err != nil {
		return nil, err
	}
	logf("cert-manager %s controllers %v and cainjector running in this process in %s; CRDs from %s",
		s.CertManager.Version, certManagerControllers, time.Since(step).Round(time.Millisecond), s.CertManager.CRDDir)
	return s, nil
}

// createFixtures makes the bucket and a MinIO user that may use it, and puts the
// user's access key into Secret s.Secret in default.
func (s *suite) createFixtures(ctx context.Context) error {
	if err := s.MinIO.MakeBucket(ctx, s.Bucket); err != nil {
		return err
	}
	const accessKey, secretKey = "kratix-writer", "kratix-writer-secret"
	if err := s.MinIO.CreateUser(ctx, accessKey, secretKey, "readwrite"); err != nil {
		return err
	}
	return s.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: s.Secret, Namespace: "default"},
		StringData: map[string]string{
			v1alpha1.SecretKeyAccessKeyID:     accessKey,
			v1alpha1.SecretKeySecretAccessKey: secretKey,
		},
	})
}

// Stop stops cert-manager first (it talks to the API server), then MinIO and the API
// server, and removes the work directory. It is safe on a partly started suite.
func (s *suite) Stop() error {
	var errs []error
	if s.CertManager != nil {
		errs = append(errs, s.CertManager.Stop())
	}
	if s.MinIO != nil {
		errs = append(errs, s.MinIO.Stop())
	}
	if s.Kube != nil {
		errs = append(errs, s.Kube.Stop())
	}
	if s.WorkDir != "" {
		errs = append(errs, os.RemoveAll(s.WorkDir))
	}
	s.CertManager, s.MinIO, s.Kube, s.WorkDir = nil, nil, nil, ""
	return errors.Join(errs...)
}

// printVersions prints the version of every binary the suite runs, so a log shows what
// was tested.
func printVersions(ctx context.Context, binDir, webhook string) error {
	args := map[string][]string{"etcd": {"--version"}, "kube-apiserver": {"--version"}, "kubectl": {"version", "--client"}, "minio": {"--version"}}
	for _, name := range localenv.Components {
		path := filepath.Join(binDir, name)
		v, err := localenv.BinaryVersion(ctx, path, args[name]...)
		if err != nil {
			return err
		}
		target, _ := filepath.EvalSymlinks(path)
		logf("%-14s %s (%s)", name, v, filepath.Base(target))
	}
	v, err := localenv.BinaryVersion(ctx, webhook, "--version")
	if err != nil {
		return err
	}
	logf("%-14s %s (%s, built with %s)", "webhook", v, webhook, runtime.Version())
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[certmanager %s] %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// tail returns the last n bytes of b.
func tail(b *localenv.LogBuffer, n int) string {
	return b.Since(max(0, b.Len()-n))
}
