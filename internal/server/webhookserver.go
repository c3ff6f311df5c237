package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// ReadHeaderTimeout bounds how long a client may take to send a request's line and
// headers on an established connection; the API server sends them at once.
const ReadHeaderTimeout = 10 * time.Second

// shutdownTimeout is how long a graceful shutdown waits for requests in flight, as
// controller-runtime's server does; the manager's own grace period ends it sooner.
const shutdownTimeout = time.Minute

// webhookServer serves the webhooks as controller-runtime's server does (its Register
// adds the same per-path metrics) but through a connLimiter: controller-runtime's
// server has no hook for its listener, and net/http would otherwise do the TLS handshake
// of every accepted connection, however many there are, and log each that fails.
type webhookServer struct {
	webhook.Server // controller-runtime's, for Register, WebhookMux and NeedLeaderElection

	host     string
	port     int
	certPath string
	keyPath  string
	// waitForCert makes Start wait for the certificate's files instead of failing.
	waitForCert bool
	tlsOpts     []func(*tls.Config)
	limits      ConnLimits
	log         logr.Logger
	logEvery    time.Duration
	started     atomic.Bool
	listenAddr  atomic.Value // net.Addr, once listening
}

// Start serves until ctx is done, then shuts down gracefully.
func (s *webhookServer) Start(ctx context.Context) error {
	if s.waitForCert {
		if err := waitForFiles(ctx, s.log, s.certPath, s.keyPath); err != nil {
			return nil // stopped before it could serve
		}
	}
	cfg := &tls.Config{}
	for _, op := range s.tlsOpts {
		op(cfg)
	}
	watcher, err := certwatcher.New(s.certPath, s.keyPath)
	if err != nil {
		return err
	}
	cfg.GetCertificate = watcher.GetCertificate
	go func() {
		if err := watcher.Start(ctx); err != nil {
			s.log.Error(err, "certificate watcher error")
		}
	}()

	inner, err := net.Listen("tcp", net.JoinHostPort(s.host, strconv.Itoa(s.port)))
	if err != nil {
		return err
	}
	s.listenAddr.Store(inner.Addr())
	limiter := newConnLimiter(inner, cfg, s.limits, newConnLog(s.log, s.logEvery))
	srv := &http.Server{
		BaseContext:       func(net.Listener) context.Context { return ctx },
		Handler:           s.WebhookMux(),
		MaxHeaderBytes:    1 << 20,
		ReadHeaderTimeout: ReadHeaderTimeout,
		IdleTimeout:       s.limits.IdleTimeout,
		ConnState:         limiter.connState,
	}
	s.log.Info("serving webhook server", "address", inner.Addr().String(),
		"maxConnections", s.limits.MaxConns, "maxHandshakes", s.limits.MaxHandshakes)

	shutdown := make(chan struct{})
	go func() {
		defer close(shutdown)
		<-ctx.Done()
		s.log.Info("shutting down the webhook server")
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			s.log.Error(err, "shutting down the webhook server")
		}
	}()
	s.started.Store(true)
	if err := srv.Serve(limiter); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	<-shutdown
	return nil
}

// StartedChecker passes once the server listens. Unlike controller-runtime's, it does
// not connect to the server, which would take a handshake slot and, with client
// authentication on, fail one at every readiness probe.
func (s *webhookServer) StartedChecker() healthz.Checker {
	return func(*http.Request) error {
		if !s.started.Load() {
			return fmt.Errorf("webhook server has not been started yet")
		}
		return nil
	}
}

// Addr is the address the server listens on, or nil before it does.
func (s *webhookServer) Addr() net.Addr {
	a, _ := s.listenAddr.Load().(net.Addr)
	return a
}

func newWebhookServer(opts Options, tlsOpts []func(*tls.Config), log logr.Logger) *webhookServer {
	limits := opts.ConnLimits
	if limits == (ConnLimits{}) {
		limits = DefaultConnLimits
	}
	logEvery := opts.ConnLogInterval
	if logEvery <= 0 {
		logEvery = ConnLogInterval
	}
	certDir, certName, keyName := opts.CertDir, opts.CertName, opts.KeyName
	if certDir == "" {
		certDir = filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs")
	}
	if certName == "" {
		certName = "tls.crt"
	}
	if keyName == "" {
		keyName = "tls.key"
	}
	port := opts.Port
	if port == 0 {
		port = webhook.DefaultPort
	}
	return &webhookServer{
		// Only its Register, WebhookMux and NeedLeaderElection are used.

		Server:      webhook.NewServer(webhook.Options{Port: port}),
		host:        opts.Host,
		port:        port,
		certPath:    filepath.Join(certDir, certName),
		keyPath:     filepath.Join(certDir, keyName),
		waitForCert: opts.WaitForCert,
		tlsOpts:     tlsOpts,
		limits:      limits,
		log:         log,
		logEvery:    logEvery,
	}
}
