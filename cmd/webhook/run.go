package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/kratix-community/bucketstatestore-webhook/internal/server"
	"github.com/kratix-community/bucketstatestore-webhook/pkg/admission"
	"github.com/kratix-community/bucketstatestore-webhook/pkg/probe"
)

// accessReviewTTL is how long a SubjectAccessReview that allowed a user to get a Secret
// is remembered (denials are not): a revoked grant stops working within it.
const accessReviewTTL = 10 * time.Second

// run serves the webhooks until ctx is done, then shuts down gracefully.
func run(ctx context.Context, opts *Options) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	log := zap.New(zap.UseFlagOptions(&opts.Zap))
	ctrl.SetLogger(log)
	log.Info("starting", "version", version, "probe", opts.ProbeMode, "probeTimeout", opts.ProbeTimeout.String(), "probeCacheTTL", opts.ProbeCacheTTL.String(),
		"maxConcurrentProbes", opts.MaxProbes, "probeViaProxy", opts.ProbeViaProxy)

	prober, err := newProber(opts)
	if err != nil {
		return err
	}
	cfg, err := server.RestConfig(opts.Kubeconfig, "bucketstatestore-webhook/"+version)
	if err != nil {
		return err
	}
	clientset, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating the Kubernetes client: %w", err)
	}

	secrets := &admission.KubeSecrets{Client: clientset}
	validator := &admission.Validator{
		Secrets:   secrets,
		Prober:    prober,
		ProbeMode: admission.ProbeMode(opts.ProbeMode),
	}
	if opts.AccessReview {
		validator.Access = admission.NewCachedAccess(secrets, accessReviewTTL)
	}
	mgr, err := server.NewManager(cfg, server.Options{
		Host:          opts.WebhookHost,
		Port:          opts.WebhookPort,
		CertDir:       opts.CertDir,
		CertName:      opts.CertName,
		KeyName:       opts.KeyName,
		TLSMinVersion: tlsVersions[opts.TLSMinVersion],
		HealthAddr:    opts.HealthAddr,
		MetricsAddr:   opts.MetricsAddr,
	}, server.Handlers{
		server.MutatePath:   admission.Defaulter{},
		server.ValidatePath: validator,
	})
	if err != nil {
		return err
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("serving: %w", err)
	}
	log.Info("stopped")
	return nil
}

func newProber(opts *Options) (probe.Prober, error) {
	deny, err := opts.denyPrefixes()
	if err != nil {
		return nil, err
	}
	guard, err := probe.NewGuard(deny, opts.AllowEndpoints)
	if err != nil {
		return nil, fmt.Errorf("--allow-endpoints: %w", err)
	}
	s3opts := probe.S3Options{Timeout: opts.ProbeTimeout, IAMEndpoint: opts.IAMEndpoint, Guard: guard, MaxConcurrent: opts.MaxProbes}
	if opts.ProbeViaProxy {
		s3opts.Proxy = http.ProxyFromEnvironment
	}
	s3, err := probe.NewS3Prober(s3opts)
	if err != nil {
		return nil, err
	}
	return probe.NewCache(s3, opts.ProbeCacheTTL, time.Now), nil
}
