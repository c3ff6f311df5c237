// Command bare-webhook is the floor the benchmark harness (hack/bench) compares the
// webhook with: the manager and webhook server that internal/server builds for the real
// one (same paths, TLS options, body deadline, request logger, metrics and health
// servers), whose only handler admits every request.
//
// With --get-secret, --review-access and --patch-file, each given per store kind, it is
// the floor of the design: before admitting each validation of a store of a kind it asks
// the access reviewer whether the requester may get that kind's Secret and reads it,
// through the webhook's own reviewer and reader, as the webhook does for an accessKey
// BucketStateStore or any GitStateStore; and its mutating webhook answers with the
// defaulting patch the webhook gives for that kind, computed once. What the webhook
// takes beyond this floor is its own work: decoding, rules, the probe cache, building the
// patch, answers. It serves the paths of both kinds, and takes the webhook's serving
// flags, so localenv.StartWebhook can start and wait for it.
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
	// secrets are, by kind, namespace/name of the Secret each validation reads;
	// reviewAccess asks the access reviewer first; patchFiles hold, by kind, the JSON
	// patch the mutating webhook answers.
	secrets, patchFiles map[string]string
	reviewAccess        bool
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
	fs.StringToStringVar(&f.secrets, "get-secret", nil, "kind=namespace/name: a Secret to read, as the webhook reads a store's, before admitting each validation of a store of that kind (BucketStateStore, GitStateStore); repeatable")
	fs.BoolVar(&f.reviewAccess, "review-access", false, "with --get-secret, ask first whether the requester may get the Secret, through the webhook's access reviewer")
	fs.StringToStringVar(&f.patchFiles, "patch-file", nil, "kind=file: a JSON patch the mutating webhook answers each CREATE and UPDATE of a store of that kind with; repeatable")
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
	mutate, validate := map[string]ctrladmission.Handler{}, map[string]ctrladmission.Handler{}
	for kind, file := range f.patchFiles {
		if mutate[kind], err = patching(file); err != nil {
			return err
		}
	}
	if len(f.secrets) > 0 {
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
		for kind, secret := range f.secrets {
			if validate[kind], err = readingSecret(secrets, access, secret); err != nil {
				return err
			}
		}
	}
	handlers := server.Handlers{}
	for _, paths := range server.StorePaths {
		handlers[paths.Mutate] = byKind(mutate, admitAll)
		handlers[paths.Validate] = byKind(validate, admitAll)
	}
	mgr, err := server.NewManager(cfg, server.Options{
		Host: f.host, Port: f.port, CertDir: f.certDir, HealthAddr: f.healthAddr, MetricsAddr: f.metricsAddr,
	}, handlers)
	if err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// byKind hands each request to the handler of its kind, or to otherwise.
func byKind(handlers map[string]ctrladmission.Handler, otherwise ctrladmission.Handler) ctrladmission.Handler {
	return ctrladmission.HandlerFunc(func(ctx context.Context, req ctrladmission.Request) ctrladmission.Response {
		if h, ok := handlers[req.Kind.Kind]; ok {
			return h.Handle(ctx, req)
		}
		return otherwise.Handle(ctx, req)
	})
}

// readingSecret asks access, when set, whether the requester may get secret
// (namespace/name) and reads it, then admits.
func readingSecret(secrets *admission.KubeSecrets, access admission.AccessReviewer, secret string) (ctrladmission.Handler, error) {
	namespace, name, ok := strings.Cut(secret, "/")
	if !ok {
		return nil, fmt.Errorf("--get-secret must be kind=namespace/name, not %q", secret)
	}
	return ctrladmission.HandlerFunc(func(ctx context.Context, req ctrladmission.Request) ctrladmission.Response {
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
	}), nil
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
