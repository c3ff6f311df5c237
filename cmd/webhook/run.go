package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/kratix-community/statestore-webhook/internal/server"
	"github.com/kratix-community/statestore-webhook/internal/watch"
	"github.com/kratix-community/statestore-webhook/pkg/admission"
	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

// secretGuardBudget bounds the probes of one Secret change together, below the Secret
// webhook's timeoutSeconds (5) so that the guard answers before the API server gives
// up on it; secretGuardParallel bounds how many of them run at once.
const (
	secretGuardBudget   = 4 * time.Second
	secretGuardParallel = 4
)

// run serves the webhooks until ctx is done, then shuts down gracefully.
func run(ctx context.Context, opts *Options) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	// Every line is bounded and cleared of credentials, whoever writes it.
	log := server.SafeLogger(zap.New(zap.UseFlagOptions(&opts.Zap)))
	ctrl.SetLogger(log)
	log.Info("starting", "version", version, "probe", opts.ProbeMode, "probeTimeout", opts.Probe.Timeout.String(), "probeCacheTTL", opts.ProbeCacheTTL.String(),
		"maxConcurrentProbes", opts.MaxProbes, "probeViaProxy", opts.ProbeViaProxy, "deleteGuard", opts.DeleteGuard, "secretGuard", opts.SecretGuard,
		"certManagerCertificate", opts.CertManagerCertificate)

	if opts.ClientCAFile == "" {
		log.Info("WARNING: client authentication is off (no --client-ca-file): anyone who can reach the webhook port can send admission reviews as any user")
	}

	// The prober's own problems, such as an unusable trust bundle, need no cluster and
	// are reported first; the guard needs the API server's address when there is one.
	cfg, cfgErr := server.RestConfig(opts.Kubeconfig, "statestore-webhook/"+version)
	apiServer := ""
	if cfgErr == nil {
		apiServer = cfg.Host
	}
	prober, gitProber, err := newProbers(ctx, opts, apiServer)
	if err != nil {
		return err
	}
	if cfgErr != nil {
		return cfgErr
	}
	clientset, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating the Kubernetes client: %w", err)
	}

	secrets := &admission.KubeSecrets{Client: clientset}
	validator := &admission.Validator{
		Secrets:          secrets,
		Prober:           prober,
		GitProber:        gitProber,
		ProbeMode:        admission.ProbeMode(opts.ProbeMode),
		SecretNamespaces: opts.SecretNamespaces,
	}
	if opts.AccessReview {
		validator.Access = admission.NewCachedAccess(secrets, admission.AccessReviewTTL)
	}
	stores := watch.NewStores(cfg, log.WithName("stores"))
	destinations, err := watch.NewDestinations(cfg, opts.DestinationPoll, log.WithName("destinations"))
	if err != nil {
		return err
	}
	deleteGuard := &admission.DeleteGuard{
		Destinations: destinations,
		Mode:         admission.GuardMode(opts.DeleteGuard),
	}
	mgr, err := server.NewManager(cfg, server.Options{
		Host:          opts.WebhookHost,
		Port:          opts.WebhookPort,
		CertDir:       opts.CertDir,
		CertName:      opts.CertName,
		KeyName:       opts.KeyName,
		WaitForCert:   opts.CertManagerCertificate != "",
		TLSMinVersion: tlsVersions[opts.TLSMinVersion],
		HealthAddr:    opts.HealthAddr,
		MetricsAddr:   opts.MetricsAddr,
		ClientCAFile:  opts.ClientCAFile,
		ClientNames:   opts.ClientNames,
		ConnLimits:    opts.Conns,
	}, server.Handlers{
		server.MutatePath:         admission.Defaulter{},
		server.ValidatePath:       validator,
		server.DeleteGuardPath:    deleteGuard,
		server.GitMutatePath:      admission.Defaulter{},
		server.GitValidatePath:    validator,
		server.GitDeleteGuardPath: deleteGuard,
		server.SecretGuardPath: &admission.SecretGuard{
			Stores:    stores,
			Prober:    prober,
			GitProber: validator.GitProber,
			Mode:      admission.GuardMode(opts.SecretGuard),
			Budget:    secretGuardBudget,
			Parallel:  secretGuardParallel,
		},
	})
	if err != nil {
		return err
	}
	// The caches run beside the server, for the guards that are on; until they are in
	// sync the guards let requests through, so readiness does not wait for them.
	caches := []struct {
		mode string
		r    manager.Runnable
	}{{opts.SecretGuard, stores}, {opts.DeleteGuard, destinations}}
	for _, c := range caches {
		if c.mode == string(admission.GuardOff) {
			continue
		}
		if err := mgr.Add(c.r); err != nil {
			return err
		}
	}
	if opts.ValidatingConfiguration != "" {
		unissued, err := newUnissued(cfg, clientset, opts, log.WithName("unissued"))
		if err != nil {
			return err
		}
		if err := mgr.Add(unissued); err != nil {
			return err
		}
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("serving: %w", err)
	}
	log.Info("stopped")
	return nil
}

// newUnissued returns what deletes the install's webhook configurations while its
// serving certificate cannot come (server.Unissued).
func newUnissued(cfg *rest.Config, clientset kubernetes.Interface, opts *Options, log logr.Logger) (*server.Unissued, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	ns, name, _ := strings.Cut(opts.CertManagerCertificate, "/")
	return &server.Unissued{
		CertFiles:   []string{filepath.Join(opts.CertDir, opts.CertName), filepath.Join(opts.CertDir, opts.KeyName)},
		Certificate: types.NamespacedName{Namespace: ns, Name: name},
		Validating:  opts.ValidatingConfiguration,
		Mutating:    opts.MutatingConfiguration,
		Discovery:   clientset.Discovery(),
		Dynamic:     dyn,
		Log:         log,
	}, nil
}

// newProbers builds the bucket prober and the Git prober the flags describe, each behind
// its cache, with the same guard and budget. apiServer is the address the webhook reaches
// the API server at, which the guard refuses; empty when unknown.
func newProbers(ctx context.Context, opts *Options, apiServer string) (probe.Prober, probe.GitProber, error) {
	var guardOpts probe.GuardOptions
	if opts.AllowControlPlane {
		guardOpts.AllowControlPlane = true
	} else {
		var err error
		if guardOpts.ControlPlane, err = controlPlane(ctx, apiServer); err != nil {
			return nil, nil, err
		}
	}
	s3opts, err := opts.Probe.S3Options(guardOpts)
	if err != nil {
		return nil, nil, err
	}
	s3opts.DenyUntrustedIAM = opts.IAMUntrusted == iamUntrustedDeny
	s3opts.MaxConcurrent = opts.MaxProbes
	gitOpts, err := opts.Probe.GitOptions(guardOpts)
	if err != nil {
		return nil, nil, err
	}
	gitOpts.MaxConcurrent = opts.MaxProbes
	if opts.ProbeViaProxy {
		s3opts.Proxy = http.ProxyFromEnvironment
		gitOpts.Proxy = http.ProxyFromEnvironment
	}
	s3, err := probe.NewS3Prober(s3opts)
	if err != nil {
		return nil, nil, err
	}
	git, err := probe.NewGitProber(gitOpts)
	if err != nil {
		return nil, nil, err
	}
	return probe.NewCache(s3, opts.ProbeCacheTTL, time.Now), probe.NewGitCache(git, opts.ProbeCacheTTL, time.Now), nil
}

// controlPlane returns the addresses of the cluster's control plane the probe must not
// reach: every port of the kubernetes Service's address, when the webhook runs in a pod,
// and the address and port the webhook itself reaches the API server at (apiServer, the
// rest config's Host), only that port, so that another service on the same host stays
// reachable.
func controlPlane(ctx context.Context, apiServer string) ([]netip.AddrPort, error) {
	var addrs []netip.AddrPort
	if a, err := netip.ParseAddr(os.Getenv("KUBERNETES_SERVICE_HOST")); err == nil {
		addrs = append(addrs, netip.AddrPortFrom(a, 0))
	}
	if apiServer == "" {
		return addrs, nil
	}
	u, err := url.Parse(apiServer)
	if err != nil || u.Hostname() == "" {
		// rest.Config allows a Host without a scheme.
		if u, err = url.Parse("https://" + apiServer); err != nil {
			return nil, fmt.Errorf("reading the API server's address %q: %w", apiServer, err)
		}
	}
	port := map[string]uint16{"http": 80, "https": 443}[u.Scheme]
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("reading the API server's port in %q: %w", apiServer, err)
		}
		port = uint16(n)
	}
	ips, err := resolveHost(ctx, u.Hostname())
	if err != nil {
		return nil, fmt.Errorf("resolving the API server's host %q, to keep the probe away from it: %w", u.Hostname(), err)
	}
	for _, a := range ips {
		addrs = append(addrs, netip.AddrPortFrom(a, port))
	}
	return addrs, nil
}

// resolveHost returns host's addresses: host itself when it is one.
func resolveHost(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, server.KubeTimeout)
	defer cancel()
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}
