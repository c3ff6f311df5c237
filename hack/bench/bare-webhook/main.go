// Command bare-webhook is the floor the benchmark harness (hack/bench) compares the
// webhook with: a controller-runtime manager and webhook server set up as
// cmd/webhook/run.go sets up the real one (same TLS options, HTTP/1.1 only, metrics and
// health servers), whose only handler admits every request. It takes the webhook's
// serving flags, so localenv.StartWebhook can start and wait for it.
package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"

	"github.com/spf13/pflag"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// The paths of the real webhook, so a request body meant for it fits here unchanged.
const (
	mutatePath   = "/mutate-platform-kratix-io-v1alpha1-bucketstatestore"
	validatePath = "/validate-platform-kratix-io-v1alpha1-bucketstatestore"
)

func main() {
	var host, certDir, healthAddr, metricsAddr, kubeconfig string
	var port int
	fs := pflag.NewFlagSet("bare-webhook", pflag.ExitOnError)
	fs.StringVar(&host, "webhook-host", "", "address the webhook server listens on")
	fs.IntVar(&port, "webhook-port", 9443, "port of the webhook server (HTTPS)")
	fs.StringVar(&certDir, "cert-dir", "", "directory holding tls.crt and tls.key")
	fs.StringVar(&healthAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	fs.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "address of /metrics")
	fs.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig the manager is built from")
	_ = fs.Parse(os.Args[1:])

	if err := run(ctrl.SetupSignalHandler(), host, port, certDir, healthAddr, metricsAddr, kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, host string, port int, certDir, healthAddr, metricsAddr, kubeconfig string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	server := webhook.NewServer(webhook.Options{
		Host:    host,
		Port:    port,
		CertDir: certDir,
		TLSOpts: []func(*tls.Config){func(c *tls.Config) {
			// As cmd/webhook: TLS 1.2 at least (its default) and HTTP/1.1 only.
			c.MinVersion = tls.VersionTLS12
			c.NextProtos = []string{"http/1.1"}
		}},
	})
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		WebhookServer:          server,
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: healthAddr,
	})
	if err != nil {
		return err
	}
	admitAll := &webhook.Admission{Handler: admission.HandlerFunc(func(context.Context, admission.Request) admission.Response {
		return admission.Allowed("")
	})}
	srv := mgr.GetWebhookServer()
	srv.Register(validatePath, admitAll)
	srv.Register(mutatePath, admitAll)
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("webhook", srv.StartedChecker()); err != nil {
		return err
	}
	return mgr.Start(ctx)
}
