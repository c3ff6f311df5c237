package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	ctrladmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kratix-community/bucketstatestore-webhook/pkg/admission"
	"github.com/kratix-community/bucketstatestore-webhook/pkg/probe"
)

// The paths the webhook configurations call.
const (
	MutatePath   = "/mutate-platform-kratix-io-v1alpha1-bucketstatestore"
	ValidatePath = "/validate-platform-kratix-io-v1alpha1-bucketstatestore"
)

// kubeQPS and kubeBurst lift client-go's default client-side rate limit (5 requests/s),
// which would queue every admission behind the previous ones' Secret reads and access
// reviews during a GitOps burst; the API server's priority and fairness still applies.
const (
	kubeQPS   = 200
	kubeBurst = 400
)

// accessReviewTTL is how long a SubjectAccessReview that allowed a user to get a Secret
// is remembered (denials are not): a revoked grant stops working within it.
const accessReviewTTL = 10 * time.Second

// kubeTimeout bounds each of the webhook's own API calls (the Secret read and the
// SubjectAccessReview), so that together with the probe budget the answer comes before
// the API server gives up on the webhook.
const kubeTimeout = 2 * time.Second

// run serves the webhooks until ctx is done, then shuts down gracefully.
func run(ctx context.Context, opts *Options) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	log := zap.New(zap.UseFlagOptions(&opts.Zap))
	ctrl.SetLogger(log)
	log.Info("starting", "version", version, "probe", opts.ProbeMode, "probeTimeout", opts.ProbeTimeout.String(), "probeCacheTTL", opts.ProbeCacheTTL.String())

	cfg, err := restConfig(opts.Kubeconfig)
	if err != nil {
		return err
	}
	clientset, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	prober, err := newProber(opts)
	if err != nil {
		return err
	}

	minTLS := tlsVersions[opts.TLSMinVersion]
	webhookServer := webhook.NewServer(webhook.Options{
		Host:     opts.WebhookHost,
		Port:     opts.WebhookPort,
		CertDir:  opts.CertDir,
		CertName: opts.CertName,
		KeyName:  opts.KeyName,
		TLSOpts: []func(*tls.Config){func(c *tls.Config) {
			c.MinVersion = minTLS
			// HTTP/2 is off: its Rapid Reset attack (CVE-2023-44487) needs no credentials.
			c.NextProtos = []string{"http/1.1"}
		}},
	})
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		WebhookServer:          webhookServer,
		Metrics:                metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress: opts.HealthAddr,
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}

	// The manager serves its webhook server only once it has been asked for it.
	server := mgr.GetWebhookServer()
	secrets := &admission.KubeSecrets{Client: clientset}
	validator := &admission.Validator{
		Secrets:   secrets,
		Prober:    prober,
		ProbeMode: admission.ProbeMode(opts.ProbeMode),
	}
	if opts.AccessReview {
		validator.Access = admission.NewCachedAccess(secrets, accessReviewTTL)
	}
	server.Register(MutatePath, withBodyTimeout(&webhook.Admission{Handler: admission.Defaulter{}, LogConstructor: requestLogger}, bodyTimeout))
	server.Register(ValidatePath, withBodyTimeout(&webhook.Admission{Handler: validator, LogConstructor: requestLogger}, bodyTimeout))

	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("webhook", server.StartedChecker()); err != nil {
		return err
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("serving: %w", err)
	}
	log.Info("stopped")
	return nil
}

// requestLogger gives each request's log lines its UID, store and user. It replaces
// controller-runtime's default, which encodes whole structs by reflection on every
// request and was a sixth of the webhook's CPU under load.
func requestLogger(base logr.Logger, req *ctrladmission.Request) logr.Logger {
	if req == nil {
		return base
	}
	return base.WithValues("requestID", string(req.UID), "name", req.Name, "operation", string(req.Operation), "user", req.UserInfo.Username)
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading the Kubernetes client configuration: %w", err)
	}
	cfg.Timeout = kubeTimeout
	cfg.QPS, cfg.Burst = kubeQPS, kubeBurst
	cfg.UserAgent = "bucketstatestore-webhook/" + version
	return cfg, nil
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
	s3 := probe.NewS3Prober(probe.S3Options{Timeout: opts.ProbeTimeout, IAMEndpoint: opts.IAMEndpoint, Guard: guard})
	return probe.NewCache(s3, opts.ProbeCacheTTL, time.Now), nil
}

// bodyTimeout bounds how long a client may take to send a request body. controller-runtime's
// server bounds the request line and headers (ReadHeaderTimeout, 32s) but sets no
// ReadTimeout, so a client that sends its headers and then stalls or trickles the body
// would hold a connection for as long as it liked, and hold a graceful shutdown until the
// manager's 30s grace period ran out and run failed. The API server sends the body at
// once and gives up on a webhook after timeoutSeconds (10 in our configurations, 30 at
// most).
const bodyTimeout = 10 * time.Second

// withBodyTimeout gives h's request body a read deadline of timeout. The deadline is
// lifted once the body has been read, because the server keeps reading the connection in
// the background to notice a client going away, and a deadline passing there would cancel
// the request's context in the middle of a bucket probe. A body that fails to arrive gets
// controller-runtime's 400 and then the connection is closed: Go's server would otherwise
// keep it and read the rest of the body as the next request.
func withBodyTimeout(h http.Handler, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// controller-runtime answers a missing body itself, by comparing it to http.NoBody.
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			if err := rc.SetReadDeadline(time.Now().Add(timeout)); err == nil {
				r.Body = &deadlineBody{
					ReadCloser: r.Body,
					read:       func() { _ = rc.SetReadDeadline(time.Time{}) },
					failed:     func() { w.Header().Set("Connection", "close") },
				}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody calls read when its body has been read to the end, or failed when reading
// it fails.
type deadlineBody struct {
	io.ReadCloser
	read, failed func()
	once         sync.Once
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		b.once.Do(b.read)
	case err != nil:
		b.once.Do(b.failed)
	}
	return n, err
}
