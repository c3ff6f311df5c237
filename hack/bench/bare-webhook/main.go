// Command bare-webhook is the floor the benchmark harness (hack/bench) compares the
// webhook with: the manager and webhook server that internal/server builds for the real
// one (same paths, TLS options, body deadline, request logger, metrics and health
// servers), whose only handler admits every request.
//
// With --get-secret, --review-access and --patch-file it is the floor of the design:
// before admitting each validation it asks the access reviewer whether the requester may
// get the Secret and reads it, through the webhook's own reviewer and reader, as the
// webhook does for an accessKey store; and its mutating webhook answers with the
// defaulting patch the webhook gives, computed once. What the webhook takes beyond this
// floor is its own work: decoding, rules, the probe cache, building the patch, answers.
// It takes the webhook's serving flags, so localenv.StartWebhook can start and wait for it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrladmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kratix-community/statestore-webhook/internal/server"
	"github.com/kratix-community/statestore-webhook/pkg/admission"
)

// flags are the bare webhook's settings.
type flags struct {
	host, certDir, healthAddr, metricsAddr, kubeconfig string
	port                                               int
	// secret is namespace/name of the Secret each validation reads; reviewAccess asks the
	// access reviewer first; patchFile holds the JSON patch the mutating webhook answers.
	secret, patchFile string
	reviewAccess      bool
}

func main() {
	var f flags
	fs := pflag.NewFlagSet("bare-webhook", pflag.ExitOnError)
	fs.StringVar(&f.host, "webhook-host", "", "address the webhook server listens on")
	fs.IntVar(&f.port, "webhook-port", 9443, "port of the webhook server (HTTPS)")
	fs.StringVar(&f.certDir, "cert-dir", "", "directory holding tls.crt and tls.key")
	fs.StringVar(&f.healthAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", ":8080", "address of /metrics")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig the manager is built from")
	fs.StringVar(&f.secret, "get-secret", "", "namespace/name of a Secret to read, as the webhook reads an accessKey store's, before admitting each validation")
	fs.BoolVar(&f.reviewAccess, "review-access", false, "with --get-secret, ask first whether the requester may get the Secret, through the webhook's access reviewer")
	fs.StringVar(&f.patchFile, "patch-file", "", "a JSON patch the mutating webhook answers each CREATE and UPDATE with")
	_ = fs.Parse(os.Args[1:])

	if err := run(ctrl.SetupSignalHandler(), f); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, f flags) error {
	cfg, err := server.RestConfig(f.kubeconfig, "bare-webhook")
	if err != nil {
		return err
	}
	admitAll := ctrladmission.HandlerFunc(func(context.Context, ctrladmission.Request) ctrladmission.Response {
		return ctrladmission.Allowed("")
	})
	var mutate, validate ctrladmission.Handler = admitAll, admitAll
	if f.patchFile != "" {
		if mutate, err = patching(f.patchFile); err != nil {
			return err
		}
	}
	if f.secret != "" {
		namespace, name, ok := strings.Cut(f.secret, "/")
		if !ok {
			return fmt.Errorf("--get-secret must be namespace/name, not %q", f.secret)
		}
		clientset, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return err
		}
		// The webhook's own reader and access reviewer, so the floor reads as it does.
		secrets := &admission.KubeSecrets{Client: clientset}
		var access admission.AccessReviewer
		if f.reviewAccess {
			access = admission.NewCachedAccess(secrets, admission.AccessReviewTTL)
		}
		validate = ctrladmission.HandlerFunc(func(ctx context.Context, req ctrladmission.Request) ctrladmission.Response {
			if access != nil {
				allowed, err := access.CanGetSecret(ctx, req.UserInfo, namespace, name)
				if err == nil && !allowed {
					err = errors.New("the access review denied the requester")
				}
				if err != nil {
					return ctrladmission.Errored(http.StatusInternalServerError, err)
				}
			}
			if _, err := secrets.GetSecret(ctx, namespace, name); err != nil {
				return ctrladmission.Errored(http.StatusInternalServerError, err)
			}
			return ctrladmission.Allowed("")
		})
	}
	mgr, err := server.NewManager(cfg, server.Options{
		Host: f.host, Port: f.port, CertDir: f.certDir, HealthAddr: f.healthAddr, MetricsAddr: f.metricsAddr,
	}, server.Handlers{server.MutatePath: mutate, server.ValidatePath: validate})
	if err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// patching answers each CREATE and UPDATE with the JSON patch in file, and admits every
// other request as it is.
func patching(file string) (ctrladmission.Handler, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var patch []jsonpatch.Operation
	if err := json.Unmarshal(data, &patch); err != nil {
		return nil, fmt.Errorf("--patch-file %s: %w", file, err)
	}
	return ctrladmission.HandlerFunc(func(_ context.Context, req ctrladmission.Request) ctrladmission.Response {
		if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
			return ctrladmission.Allowed("")
		}
		return ctrladmission.Patched("", patch...)
	}), nil
}
