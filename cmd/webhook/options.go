package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/kratix-community/statestore-webhook/internal/probeflags"
	"github.com/kratix-community/statestore-webhook/internal/server"
	"github.com/kratix-community/statestore-webhook/pkg/admission"
	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

// Options are the webhook's settings, one flag each.
type Options struct {
	WebhookHost   string
	WebhookPort   int
	CertDir       string
	CertName      string
	KeyName       string
	TLSMinVersion string
	// CertManagerCertificate (namespace/name) issues the files in CertDir; with it the
	// webhook waits for them, and deletes ValidatingConfiguration and
	// MutatingConfiguration while they cannot come.
	CertManagerCertificate                         string
	ValidatingConfiguration, MutatingConfiguration string
	ClientCAFile                                   string
	ClientNames                                    []string
	// Conns bound the webhook server's connections.
	Conns       server.ConnLimits
	HealthAddr  string
	MetricsAddr string
	Kubeconfig  string
	ProbeMode   string
	// Probe are the probe flags statestore-check shares.
	Probe         probeflags.Options
	ProbeCacheTTL time.Duration
	MaxProbes     int
	ProbeViaProxy bool
	IAMUntrusted  string
	// AllowControlPlane lets the probe reach the cluster's control plane.
	AllowControlPlane bool
	AccessReview      bool
	DeleteGuard       string
	SecretGuard       string
	DestinationPoll   time.Duration
	SecretNamespaces  []string
	PrintVersion      bool
	Zap               zap.Options
}

// tlsVersions are the accepted values of --tls-min-version; older versions are refused.
var tlsVersions = map[string]uint16{"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{
		WebhookPort:     9443,
		CertDir:         "/tmp/k8s-webhook-server/serving-certs",
		CertName:        "tls.crt",
		KeyName:         "tls.key",
		TLSMinVersion:   "1.2",
		Conns:           server.DefaultConnLimits,
		HealthAddr:      ":8081",
		MetricsAddr:     ":8080",
		ProbeMode:       string(admission.ProbeEnforce),
		Probe:           probeflags.New(),
		ProbeCacheTTL:   time.Minute,
		MaxProbes:       probe.DefaultMaxConcurrent,
		AccessReview:    true,
		DeleteGuard:     string(admission.GuardDeny),
		SecretGuard:     string(admission.GuardWarn),
		DestinationPoll: 30 * time.Second,
		IAMUntrusted:    iamUntrustedAdmit,
	}
}

// The values of --iam-untrusted-endpoints.
const (
	iamUntrustedAdmit = "admit"
	iamUntrustedDeny  = "deny"
)

// AddFlags binds the options to flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.WebhookHost, "webhook-host", o.WebhookHost, "address the webhook server listens on; empty means all interfaces")
	fs.IntVar(&o.WebhookPort, "webhook-port", o.WebhookPort, "port of the webhook server (HTTPS)")
	fs.StringVar(&o.CertDir, "cert-dir", o.CertDir, "directory holding the serving certificate and key; they are reloaded when they change")
	fs.StringVar(&o.CertName, "cert-name", o.CertName, "file name of the serving certificate in --cert-dir")
	fs.StringVar(&o.KeyName, "key-name", o.KeyName, "file name of the serving key in --cert-dir")
	fs.StringVar(&o.CertManagerCertificate, "cert-manager-certificate", o.CertManagerCertificate, "namespace/name of the cert-manager Certificate that issues the files in --cert-dir: the webhook then waits for them, not ready, instead of failing without them")
	fs.StringVar(&o.ValidatingConfiguration, "validating-webhook-configuration", o.ValidatingConfiguration, "with --cert-manager-certificate, this install's ValidatingWebhookConfiguration, which the webhook deletes while it has no certificate files and the Certificate (or cert-manager) has been missing for 30s, if the configuration is 30s old too")
	fs.StringVar(&o.MutatingConfiguration, "mutating-webhook-configuration", o.MutatingConfiguration, "with --cert-manager-certificate, this install's MutatingWebhookConfiguration, deleted as --validating-webhook-configuration is")
	fs.StringVar(&o.TLSMinVersion, "tls-min-version", o.TLSMinVersion, "minimum TLS version of the webhook server: 1.2 or 1.3")
	fs.StringVar(&o.ClientCAFile, "client-ca-file", o.ClientCAFile, "PEM file of the CAs that sign the API server's client certificate; when set, only clients with such a certificate are served; it is reloaded when it changes")
	fs.StringSliceVar(&o.ClientNames, "client-cert-names", o.ClientNames, "with --client-ca-file, names (common name or DNS name) of which a client certificate must carry one")
	fs.IntVar(&o.Conns.MaxConns, "max-connections", o.Conns.MaxConns, "most established connections the webhook server keeps; past it a new one closes the longest-idle connection of the client with the most, or is closed itself when all are busy")
	fs.IntVar(&o.Conns.MaxHandshakes, "max-handshakes", o.Conns.MaxHandshakes, "most connections the webhook server keeps in their TLS handshake; past it a new one closes the oldest handshake of the client with the most")
	fs.DurationVar(&o.Conns.HandshakeTimeout, "handshake-timeout", o.Conns.HandshakeTimeout, "time a client has to finish its TLS handshake")
	fs.DurationVar(&o.Conns.IdleTimeout, "idle-timeout", o.Conns.IdleTimeout, "time an established connection may wait for its next request before it is closed")
	fs.StringVar(&o.HealthAddr, "health-probe-bind-address", o.HealthAddr, "address of /healthz and /readyz; 0 disables them")
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", o.MetricsAddr, "address of the Prometheus /metrics endpoint; 0 disables it")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "kubeconfig for running outside a cluster; empty means the in-cluster config")
	fs.StringVar(&o.ProbeMode, "probe", o.ProbeMode, "what a failed probe (bucket or Git repository) does: enforce (deny), warn (admit with a warning) or off (do not probe)")
	o.Probe.AddFlags(fs)
	o.Probe.AddGitFlags(fs)
	fs.DurationVar(&o.ProbeCacheTTL, "probe-cache-ttl", o.ProbeCacheTTL, "how long a successful probe is remembered; 0 disables the cache (identical probes in flight are still merged)")
	fs.IntVar(&o.MaxProbes, "max-concurrent-probes", o.MaxProbes, "how many probes of each kind (bucket, Git repository) may run at once; a probe waits for a slot within its --probe-timeout and past it the store is denied as Busy (cache hits and merged probes take no slot)")
	fs.BoolVar(&o.ProbeViaProxy, "probe-via-proxy", o.ProbeViaProxy, "send probes through the proxy in HTTPS_PROXY/HTTP_PROXY/NO_PROXY, as Kratix's minio-go does; the guard then checks endpoint host names and what they resolve to in the webhook, not the address the proxy connects to")
	fs.StringVar(&o.IAMUntrusted, "iam-untrusted-endpoints", o.IAMUntrusted, "what happens to an authMethod IAM store at any other endpoint, or over plain HTTP: admit (unprobed, with a warning) or deny")
	fs.BoolVar(&o.AllowControlPlane, "allow-control-plane", o.AllowControlPlane, "let the probe reach the cluster's control plane: the kubernetes Service, the API server the webhook uses, and the kubelet and etcd ports")
	fs.BoolVar(&o.AccessReview, "subject-access-review", o.AccessReview, "check with a SubjectAccessReview that the requesting user may get a Secret before reading it")
	fs.StringVar(&o.DeleteGuard, "delete-guard", o.DeleteGuard, "what deleting a BucketStateStore that Destinations use does: deny, warn (allow with a warning) or off")
	fs.StringVar(&o.SecretGuard, "secret-guard", o.SecretGuard, "what deleting or changing a Secret so that the BucketStateStores using it break does: deny, warn (allow with a warning) or off")
	fs.DurationVar(&o.DestinationPoll, "destination-crd-poll-interval", o.DestinationPoll, "how often the webhook asks whether the Destination CRD is installed (or gone), to turn the delete guard on or off")
	fs.StringSliceVar(&o.SecretNamespaces, "secret-namespaces", o.SecretNamespaces, "if set, the only namespaces whose Secrets the webhook reads; a store naming a Secret elsewhere is denied (pair with namespaced RBAC: manifests/components/secret-namespaces)")
	fs.BoolVar(&o.PrintVersion, "version", false, "print the version and exit")

	zfs := flag.NewFlagSet("zap", flag.ContinueOnError)
	o.Zap.BindFlags(zfs)
	fs.AddGoFlagSet(zfs)
}

// Validate reports every invalid option at once, before anything starts.
func (o *Options) Validate() error {
	var errs []error
	if o.WebhookPort < 1 || o.WebhookPort > 65535 {
		errs = append(errs, fmt.Errorf("--webhook-port must be from 1 to 65535, not %d", o.WebhookPort))
	}
	if _, ok := tlsVersions[o.TLSMinVersion]; !ok {
		errs = append(errs, fmt.Errorf("--tls-min-version must be 1.2 or 1.3, not %q", o.TLSMinVersion))
	}
	errs = append(errs, o.validateUnissued()...)
	if len(o.ClientNames) > 0 && o.ClientCAFile == "" {
		errs = append(errs, errors.New("--client-cert-names needs --client-ca-file"))
	}
	if o.ClientCAFile != "" && len(o.ClientNames) == 0 {
		errs = append(errs, errors.New("--client-ca-file needs --client-cert-names: without names any certificate the CA signed is let in (a kubelet's, if it is the cluster's CA); name the API server's client certificate, e.g. --client-cert-names=kube-apiserver-webhook-client"))
	}
	if o.Conns.MaxConns < 1 {
		errs = append(errs, fmt.Errorf("--max-connections must be at least 1, not %d", o.Conns.MaxConns))
	}
	if o.Conns.MaxHandshakes < 1 {
		errs = append(errs, fmt.Errorf("--max-handshakes must be at least 1, not %d", o.Conns.MaxHandshakes))
	}
	if o.Conns.HandshakeTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--handshake-timeout must be more than 0, not %s", o.Conns.HandshakeTimeout))
	}
	if o.Conns.IdleTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--idle-timeout must be more than 0, not %s", o.Conns.IdleTimeout))
	}
	if !slices.Contains(admission.ProbeModes, admission.ProbeMode(o.ProbeMode)) {
		errs = append(errs, fmt.Errorf("--probe must be one of %v, not %q", admission.ProbeModes, o.ProbeMode))
	}
	for flag, mode := range map[string]string{"--delete-guard": o.DeleteGuard, "--secret-guard": o.SecretGuard} {
		if !slices.Contains(admission.GuardModes, admission.GuardMode(mode)) {
			errs = append(errs, fmt.Errorf("%s must be one of %v, not %q", flag, admission.GuardModes, mode))
		}
	}
	if o.DestinationPoll <= 0 {
		errs = append(errs, fmt.Errorf("--destination-crd-poll-interval must be more than 0, not %s", o.DestinationPoll))
	}
	if o.Probe.Timeout <= 0 || o.Probe.Timeout > 25*time.Second {
		errs = append(errs, fmt.Errorf("--probe-timeout must be more than 0 and at most 25s (the API server waits 30s at most), not %s", o.Probe.Timeout))
	}
	if o.ProbeCacheTTL < 0 {
		errs = append(errs, fmt.Errorf("--probe-cache-ttl must not be negative, not %s", o.ProbeCacheTTL))
	}
	if o.MaxProbes < 1 {
		errs = append(errs, fmt.Errorf("--max-concurrent-probes must be at least 1, not %d", o.MaxProbes))
	}
	for _, ns := range o.SecretNamespaces {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("--secret-namespaces: %q is not a namespace name: %s", ns, strings.Join(msgs, "; ")))
		}
	}
	errs = append(errs, o.Probe.Validate()...)
	if o.IAMUntrusted != iamUntrustedAdmit && o.IAMUntrusted != iamUntrustedDeny {
		errs = append(errs, fmt.Errorf("--iam-untrusted-endpoints must be admit or deny, not %q", o.IAMUntrusted))
	}
	return errors.Join(errs...)
}

// validateUnissued checks --cert-manager-certificate and the configurations it removes.
func (o *Options) validateUnissued() []error {
	var errs []error
	if o.CertManagerCertificate != "" {
		ns, name, ok := strings.Cut(o.CertManagerCertificate, "/")
		if !ok || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
			errs = append(errs, fmt.Errorf("--cert-manager-certificate must be namespace/name, such as statestore-webhook-system/statestore-webhook-serving, not %q", o.CertManagerCertificate))
		}
	}
	configs := map[string]string{"--validating-webhook-configuration": o.ValidatingConfiguration, "--mutating-webhook-configuration": o.MutatingConfiguration}
	for _, flag := range slices.Sorted(maps.Keys(configs)) {
		name := configs[flag]
		if name == "" {
			continue
		}
		if o.CertManagerCertificate == "" {
			errs = append(errs, fmt.Errorf("%s needs --cert-manager-certificate: the webhook deletes the configuration only when that Certificate cannot issue its certificate", flag))
		}
		if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a name: %s", flag, name, strings.Join(msgs, "; ")))
		}
	}
	if (o.ValidatingConfiguration == "") != (o.MutatingConfiguration == "") {
		errs = append(errs, errors.New("--validating-webhook-configuration and --mutating-webhook-configuration go together: an install has both"))
	}
	return errs
}
