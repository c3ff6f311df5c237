package certmanager

// cert-manager's controller and cainjector binaries come from modules that the Go module
// proxy does not serve, so this file runs the same code inside the test process, wired
// up from the public packages of the root module github.com/cert-manager/cert-manager.
// Only what issues a Certificate from a SelfSigned or CA Issuer runs; cert-manager's own
// webhook lives in internal/ and does not, so its objects get only their CRD schemas.

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cmscheme "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned/scheme"
	cmcontroller "github.com/cert-manager/cert-manager/pkg/controller"
	"github.com/cert-manager/cert-manager/pkg/controller/cainjector"
	"github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	crca "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	crselfsigned "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	"github.com/cert-manager/cert-manager/pkg/controller/issuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"         // registers the CA issuer type
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned" // registers the SelfSigned issuer type
)

const certManagerModule = "github.com/cert-manager/cert-manager"

// certManagerControllers issue a Certificate from a SelfSigned or CA Issuer. Naming each
// package's constant imports it, and its init registers the controller.
var certManagerControllers = []string{
	issuers.ControllerName,
	approver.ControllerName, // without the Approved condition nothing is signed
	crselfsigned.CRControllerName,
	crca.CRControllerName,
	trigger.ControllerName,
	keymanager.ControllerName,
	requestmanager.ControllerName,
	issuing.ControllerName,
	readiness.ControllerName,
	revisionmanager.ControllerName,
}

// certManager is cert-manager running in this process.
type certManager struct {
	// Version is the module version compiled in; CRDDir holds that version's CRDs.
	Version, CRDDir string

	cancel context.CancelFunc
	group  *errgroup.Group
}

// startCertManager installs the CRDs of the cert-manager module this test is built with,
// server-side, then starts the controllers and the cainjector against the API server of
// kubeconfig and returns once their caches have synced. They log to log.
func startCertManager(ctx context.Context, root, kubectl, kubeconfig string, log logr.Logger) (_ *certManager, retErr error) {
	cm := &certManager{}
	if err := cm.installCRDs(ctx, root, kubectl, kubeconfig); err != nil {
		return nil, err
	}

	runCtx, cancel := context.WithCancel(logr.NewContext(context.Background(), log))
	cm.cancel = cancel
	cm.group, runCtx = errgroup.WithContext(runCtx)
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, cm.Stop())
		}
	}()

	// The controllers, as cert-manager's cmd/controller starts them.
	factory, err := cmcontroller.NewContextFactory(runCtx, cmcontroller.ContextOptions{
		Kubeconfig:         kubeconfig,
		KubernetesAPIQPS:   100,
		KubernetesAPIBurst: 200,
		IssuerOptions:      cmcontroller.IssuerOptions{ClusterResourceNamespace: "cert-manager"},
	})
	if err != nil {
		return nil, fmt.Errorf("cert-manager controller context: %w", err)
	}
	for _, name := range certManagerControllers {
		construct, ok := cmcontroller.Known()[name]
		if !ok {
			return nil, fmt.Errorf("cert-manager %s registers no controller named %q", cm.Version, name)
		}
		c, err := construct(factory)
		if err != nil {
			return nil, fmt.Errorf("building cert-manager controller %s: %w", name, err)
		}
		cm.group.Go(func() error { return c.Run(1, runCtx) })
	}
	// Informers are started after every controller asked for its own.
	shared, err := factory.Build()
	if err != nil {
		return nil, err
	}
	shared.KubeSharedInformerFactory.Start(runCtx.Done())
	shared.SharedInformerFactory.Start(runCtx.Done())

	// The cainjector, for webhook configurations only, as cert-manager's cmd/cainjector
	// sets it up: Secrets are read from the API server, never cached.
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(scheme), cmscheme.AddToScheme(scheme)); err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  scheme,
		Logger:  log.WithName("cainjector"),
		Metrics: metricsserver.Options{BindAddress: "0"},
		Client:  client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
	})
	if err != nil {
		return nil, fmt.Errorf("cainjector manager: %w", err)
	}
	err = cainjector.RegisterAllInjectors(runCtx, mgr, cainjector.SetupOptions{
		EnableCertificatesDataSource: true,
		EnabledReconcilersFor: map[string]bool{
			cainjector.MutatingWebhookConfigurationName:   true,
			cainjector.ValidatingWebhookConfigurationName: true,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("cainjector: %w", err)
	}
	cm.group.Go(func() error { return mgr.Start(runCtx) })

	// Waiting ends when a component fails (runCtx), after a minute, or on ^C (ctx).
	syncCtx, cancelSync := context.WithTimeout(runCtx, time.Minute)
	defer cancelSync()
	defer context.AfterFunc(ctx, cancelSync)()
	synced := mgr.GetCache().WaitForCacheSync(syncCtx)
	for _, ok := range shared.SharedInformerFactory.WaitForCacheSync(syncCtx.Done()) {
		synced = synced && ok
	}
	for _, ok := range shared.KubeSharedInformerFactory.WaitForCacheSync(syncCtx.Done()) {
		synced = synced && ok
	}
	if !synced {
		return nil, errors.New("cert-manager's caches did not sync within a minute")
	}
	return cm, nil
}

// installCRDs finds the cert-manager module's directory and applies its deploy/crds
// server-side: some CRDs are larger than the annotation a client-side apply writes.
func (cm *certManager) installCRDs(ctx context.Context, root, kubectl, kubeconfig string) error {
	out, err := command(ctx, root, "go", "list", "-m", "-f", "{{.Version}} {{.Dir}}", certManagerModule)
	if err != nil {
		return err
	}
	listed, dir, _ := strings.Cut(strings.TrimSpace(out), " ")
	if dir == "" {
		return fmt.Errorf("go list -m %s names no directory (is the module downloaded?)", certManagerModule)
	}
	// The CRDs must be those of the Go code compiled into this test.
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == certManagerModule && dep.Version != listed {
				return fmt.Errorf("this test is built with %s %s but go list -m finds %s", certManagerModule, dep.Version, listed)
			}
		}
	}
	cm.Version, cm.CRDDir = listed, filepath.Join(dir, "deploy", "crds")
	if _, err := command(ctx, root, kubectl, "--kubeconfig="+kubeconfig, "apply", "--server-side", "-f", cm.CRDDir); err != nil {
		return err
	}
	_, err = command(ctx, root, kubectl, "--kubeconfig="+kubeconfig, "wait", "--for=condition=Established", "--timeout=60s", "-f", cm.CRDDir)
	return err
}

// Stop stops the controllers and the cainjector and returns the first error one of them
// ended with.
func (cm *certManager) Stop() error {
	cm.cancel()
	done := make(chan error, 1)
	go func() { done <- cm.group.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		return errors.New("cert-manager's controllers did not stop within 30s")
	}
}

// command runs name with args in dir and returns its stdout; the error holds its output.
func command(ctx context.Context, dir, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out), nil
}
