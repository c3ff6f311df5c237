// Command bare-webhook is the floor the benchmark harness (hack/bench) compares the
// webhook with: the manager and webhook server that internal/server builds for the real
// one (same paths, TLS options, body deadline, request logger, metrics and health
// servers), whose only handler admits every request. With --get-secret it first reads one
// Secret per validation, as the webhook does for an accessKey store by design: the floor
// of that design. It takes the webhook's serving flags, so localenv.StartWebhook can
// start and wait for it.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrladmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kratix-community/statestore-webhook/internal/server"
	"github.com/kratix-community/statestore-webhook/pkg/admission"
)

func main() {
	var host, certDir, healthAddr, metricsAddr, kubeconfig, secret string
	var port int
	fs := pflag.NewFlagSet("bare-webhook", pflag.ExitOnError)
	fs.StringVar(&host, "webhook-host", "", "address the webhook server listens on")
	fs.IntVar(&port, "webhook-port", 9443, "port of the webhook server (HTTPS)")
	fs.StringVar(&certDir, "cert-dir", "", "directory holding tls.crt and tls.key")
	fs.StringVar(&healthAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	fs.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "address of /metrics")
	fs.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig the manager is built from")
	fs.StringVar(&secret, "get-secret", "", "namespace/name of a Secret to read, as the webhook reads an accessKey store's, before admitting each validation")
	_ = fs.Parse(os.Args[1:])

	if err := run(ctrl.SetupSignalHandler(), host, port, certDir, healthAddr, metricsAddr, kubeconfig, secret); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, host string, port int, certDir, healthAddr, metricsAddr, kubeconfig, secret string) error {
	cfg, err := server.RestConfig(kubeconfig, "bare-webhook")
	if err != nil {
		return err
	}
	admitAll := ctrladmission.HandlerFunc(func(context.Context, ctrladmission.Request) ctrladmission.Response {
		return ctrladmission.Allowed("")
	})
	validate := admitAll
	if secret != "" {
		namespace, name, ok := strings.Cut(secret, "/")
		if !ok {
			return fmt.Errorf("--get-secret must be namespace/name, not %q", secret)
		}
		clientset, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return err
		}
		// The webhook's own Secret reader, so the floor reads as the webhook does.
		secrets := &admission.KubeSecrets{Client: clientset}
		validate = ctrladmission.HandlerFunc(func(ctx context.Context, _ ctrladmission.Request) ctrladmission.Response {
			if _, err := secrets.GetSecret(ctx, namespace, name); err != nil {
				return ctrladmission.Errored(http.StatusInternalServerError, err)
			}
			return ctrladmission.Allowed("")
		})
	}
	mgr, err := server.NewManager(cfg, server.Options{
		Host: host, Port: port, CertDir: certDir, HealthAddr: healthAddr, MetricsAddr: metricsAddr,
	}, server.Handlers{server.MutatePath: admitAll, server.ValidatePath: validate})
	if err != nil {
		return err
	}
	return mgr.Start(ctx)
}
