package server

import (
	"crypto/tls"
	"fmt"
	"maps"
	"time"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// The paths the webhook configurations call.
const (
	MutatePath   = "/mutate-platform-kratix-io-v1alpha1-bucketstatestore"
	ValidatePath = "/validate-platform-kratix-io-v1alpha1-bucketstatestore"
	// DeleteGuardPath is the guard on deleting a store that Destinations use.
	DeleteGuardPath = "/guard-platform-kratix-io-v1alpha1-bucketstatestore-delete"
	// SecretGuardPath is the guard on changing or deleting a store's credentials Secret.
	SecretGuardPath = "/guard-v1-secret"

	// GitMutatePath, GitValidatePath and GitDeleteGuardPath are the same webhooks for
	// GitStateStores.
	GitMutatePath      = "/mutate-platform-kratix-io-v1alpha1-gitstatestore"
	GitValidatePath    = "/validate-platform-kratix-io-v1alpha1-gitstatestore"
	GitDeleteGuardPath = "/guard-platform-kratix-io-v1alpha1-gitstatestore-delete"
)

// StorePaths are the paths of each store kind's mutating and validating webhooks, by the
// kind's name.
var StorePaths = map[string]struct{ Mutate, Validate string }{
	"BucketStateStore": {MutatePath, ValidatePath},
	"GitStateStore":    {GitMutatePath, GitValidatePath},
}

// Options configure the servers. Zero values are controller-runtime's defaults, except
// TLSMinVersion, which is at least TLS 1.2.
type Options struct {
	// Host and Port are where the HTTPS webhook server listens.
	Host string
	Port int
	// CertDir holds the serving certificate CertName and key KeyName; they are reloaded
	// when they change.
	CertDir, CertName, KeyName string
	// WaitForCert makes the webhook server wait for the certificate's files, not ready
	// meanwhile, instead of failing to start without them: for a Secret that is mounted
	// optional because cert-manager may issue it after the pod starts.
	WaitForCert bool
	// TLSMinVersion is the lowest TLS version the webhook server accepts.
	TLSMinVersion uint16
	// HealthAddr and MetricsAddr are the addresses of /healthz and /readyz, and of
	// /metrics; "0" turns them off.
	HealthAddr, MetricsAddr string
	// ClientCAFile, when set, makes the webhook server require a client certificate
	// signed by a CA in this PEM file, refusing any other client at the TLS handshake,
	// before a handler runs. The file is read again when it changes.
	ClientCAFile string
	// ClientNames, when set with ClientCAFile, are the names a client certificate must
	// carry one of, as its common name or a DNS name.
	ClientNames []string
	// ConnLimits bound the webhook server's connections; the zero value means
	// DefaultConnLimits.
	ConnLimits ConnLimits
	// ConnLogInterval is how often, at most, closed connections are logged; zero means
	// ConnLogInterval.
	ConnLogInterval time.Duration
}

// Handlers are the admission handlers to serve, by path.
type Handlers map[string]admission.Handler

// NewManager returns a manager that, once started, serves handlers on the webhook
// server, with a health check and a readiness check that passes once the webhook server
// is serving.
func NewManager(cfg *rest.Config, opts Options, handlers Handlers) (ctrl.Manager, error) {
	minTLS := max(opts.TLSMinVersion, tls.VersionTLS12)
	var clients *clientAuth
	if opts.ClientCAFile != "" {
		var err error
		if clients, err = newClientAuth(opts.ClientCAFile, opts.ClientNames, ctrl.Log.WithName("client-auth"), time.Now); err != nil {
			return nil, err
		}
	}
	webhookServer := newWebhookServer(opts, []func(*tls.Config){func(c *tls.Config) {
		c.MinVersion = minTLS
		// HTTP/2 is off: its Rapid Reset attack (CVE-2023-44487) needs no credentials.
		c.NextProtos = []string{"http/1.1"}
		if clients != nil {
			clients.configure(c)
		}
	}}, ctrl.Log.WithName("webhook-server"))
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		WebhookServer:          webhookServer,
		Metrics:                metricsserver.Options{BindAddress: opts.MetricsAddr, ExtraHandlers: maps.Clone(debugHandlers)},
		HealthProbeBindAddress: opts.HealthAddr,
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	// The manager serves its webhook server only once it has been asked for it.
	srv := mgr.GetWebhookServer()
	for path, h := range handlers {
		srv.Register(path, withBodyTimeout(&webhook.Admission{Handler: h, LogConstructor: requestLogger}, BodyTimeout))
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("webhook", srv.StartedChecker()); err != nil {
		return nil, err
	}
	return mgr, nil
}

// BodyTimeout bounds how long a client may take to send a request body. controller-runtime's
// server bounds the request line and headers (ReadHeaderTimeout, 32s) but sets no
// ReadTimeout, so a client that sends its headers and then stalls or trickles the body
// would hold a connection for as long as it liked, and hold a graceful shutdown until the
// manager's 30s grace period ran out. The API server sends the body at once and gives up
// on a webhook after timeoutSeconds (30 at most).
const BodyTimeout = 10 * time.Second
