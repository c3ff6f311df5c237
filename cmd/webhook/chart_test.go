package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/kratix-community/statestore-webhook/internal/release"
)

// chartPath is the chart in the tree, relative to this package's directory; its ci/
// holds the value files every chart test renders.
const chartPath = "../../" + release.ChartDir

// TestChartRefusesWhatTheWebhookRefuses keeps values.schema.json and the webhook's flag
// validation one rule: each case is rendered as `helm template` does with no cluster,
// and the chart must refuse it exactly when Validate refuses the webhook arguments the
// templates make of it (rendered with the schema skipped). Cases only the chart refuses
// (the API server refuses them, or they are valid but harmful) say why in chartOnly.
func TestChartRefusesWhatTheWebhookRefuses(t *testing.T) {
	cases := map[string]struct {
		values    string
		refused   bool
		chartOnly string
	}{
		"the defaults are accepted":                       {values: ``},
		"a 25s probe timeout is accepted":                 {values: `probe: {timeout: 25s}`},
		"a 500ms probe timeout is accepted":               {values: `probe: {timeout: 500ms}`},
		"a 30s probe timeout is refused":                  {values: `probe: {timeout: 30s}`, refused: true},
		"a 25001ms probe timeout is refused":              {values: `probe: {timeout: 25001ms}`, refused: true},
		"a minute's probe timeout is refused":             {values: `probe: {timeout: 1m}`, refused: true},
		"a zero probe timeout is refused":                 {values: `probe: {timeout: 0s}`, refused: true},
		"a probe timeout without a unit is refused":       {values: `probe: {timeout: "5"}`, refused: true},
		"a negative cache TTL is refused":                 {values: `probe: {cacheTTL: -1s}`, refused: true},
		"no cache is accepted":                            {values: `probe: {cacheTTL: 0s}`},
		"a probe mode the webhook does not know":          {values: `probe: {mode: deny}`, refused: true},
		"no probe slot is refused":                        {values: `probe: {maxConcurrent: 0}`, refused: true},
		"a deny entry that is an address, not a CIDR":     {values: `probe: {denyCIDRs: [10.0.0.1]}`, refused: true},
		"a deny CIDR with an octet over 255":              {values: `probe: {denyCIDRs: [300.0.0.0/8]}`, refused: true},
		"a deny CIDR with a prefix over 32":               {values: `probe: {denyCIDRs: [10.0.0.0/33]}`, refused: true},
		"an IPv6 deny CIDR is accepted":                   {values: `probe: {denyCIDRs: ["fd00:ec2::/32"]}`},
		"an allowed endpoint with a scheme is refused":    {values: `probe: {allowEndpoints: ["https://s3.example.com"]}`, refused: true},
		"an allowed endpoint with a port is refused":      {values: `probe: {allowEndpoints: ["s3.example.com:9000"]}`, refused: true},
		"a wildcard allowed endpoint is accepted":         {values: `probe: {allowEndpoints: ["*.s3.example.com", "10.0.0.0/8", "fd00::1"]}`},
		"an IAM endpoint with a path is refused":          {values: `probe: {iamEndpoints: [s3.example.com/bucket]}`, refused: true},
		"an IAM policy the webhook does not know":         {values: `probe: {iamUntrustedEndpoints: warn}`, refused: true},
		"a guard mode the webhook does not know":          {values: `guards: {delete: refuse}`, refused: true},
		"webhook port 0 is refused":                       {values: `webhook: {port: 0}`, refused: true},
		"webhook port 65536 is refused":                   {values: `webhook: {port: 65536}`, refused: true},
		"a host-network port is accepted":                 {values: `{hostNetwork: true, webhook: {port: 10260}}`},
		"client authentication with names is accepted":    {values: `clientAuthentication: {enabled: true, caConfigMap: {name: ca}, names: [kube-apiserver]}`},
		"a timeout the API server does not allow":         {values: `webhook: {timeoutSeconds: 31}`, refused: true, chartOnly: "timeoutSeconds is 1 to 30"},
		"no replica at all":                               {values: `replicaCount: 0`, refused: true, chartOnly: "valid, but leaves both fail-closed webhooks with nothing behind them"},
		"a PodDisruptionBudget that blocks every drain":   {values: `podDisruptionBudget: {maxUnavailable: 0}`, refused: true, chartOnly: "valid, but no node drain could ever evict a pod"},
		"a PodDisruptionBudget of 100% that blocks drain": {values: `podDisruptionBudget: {minAvailable: 100%}`, refused: true, chartOnly: "valid, but no node drain could ever evict a pod"},
		"a chart flag in extraArgs is refused":            {values: `extraArgs: [--probe-timeout=30s]`, refused: true, chartOnly: "extraArgs would bypass the value's rule; set probe.timeout"},
		"a flag left to extraArgs is accepted":            {values: `extraArgs: [--tls-min-version=1.3, --zap-log-level=debug]`},
	}
	for _, file := range ciValueFiles(t) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		cases["ci/"+filepath.Base(file)+" is accepted"] = struct {
			values    string
			refused   bool
			chartOnly string
		}{values: string(b)}
	}
	ch := loadChart(t)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			values := parseValues(t, tc.values)
			_, chartErr := release.Template(ch, "bsw", "bsw-system", values, release.TemplateOptions{})
			if chartRefused := chartErr != nil; chartRefused != tc.refused {
				t.Errorf("helm template: refused %v (%v), want refused %v", chartRefused, chartErr, tc.refused)
			}
			if tc.chartOnly != "" {
				return
			}
			args, err := webhookArgs(ch, values, true)
			if err != nil {
				// The templates refused it themselves (required, fail).
				if !tc.refused {
					t.Errorf("helm template without the schema: %v", err)
				}
				return
			}
			validateErr := validateArgs(args)
			if webhookRefused := validateErr != nil; webhookRefused != tc.refused {
				t.Errorf("the webhook's Validate on the rendered args %q: refused %v (%v), want refused %v", args, webhookRefused, validateErr, tc.refused)
			}
		})
	}
}

// TestChartRendersWithoutACluster is `helm template` with no cluster and no
// --kube-version, where Helm assumes v1.20.0: it renders, while a cluster Helm knows to
// be older than 1.30 is refused.
func TestChartRendersWithoutACluster(t *testing.T) {
	ch := loadChart(t)
	if _, err := release.Template(ch, "bsw", "bsw-system", nil, release.TemplateOptions{}); err != nil {
		t.Errorf("helm template with no cluster: %v", err)
	}
	for version, wantErr := range map[string]bool{"v1.29.9": true, "v1.30.0": false, "v1.37.2": false, "v1.30.0-eks-1234": false} {
		kv, err := chartutil.ParseKubeVersion(version)
		if err != nil {
			t.Fatal(err)
		}
		_, err = release.Template(ch, "bsw", "bsw-system", nil, release.TemplateOptions{KubeVersion: kv})
		if (err != nil) != wantErr {
			t.Errorf("helm template --kube-version %s: error %v, want an error: %v", version, err, wantErr)
		} else if err != nil && !strings.Contains(err.Error(), "1.30 or later") {
			t.Errorf("helm template --kube-version %s: %v, want it to say 1.30 or later is needed", version, err)
		}
	}
}

// TestChartNotesSayClientAuthenticationIsOff: where users decide, helm install's notes
// say what client authentication off leaves open, and say nothing of it once it is on.
func TestChartNotesSayClientAuthenticationIsOff(t *testing.T) {
	ch := loadChart(t)
	for name, tc := range map[string]struct {
		values string
		want   []string
	}{
		"off, the default": {``, []string{"CLIENT AUTHENTICATION IS OFF", "access key ID", "offline dictionary attack", "docs/security.md#without-client-authentication", "No NetworkPolicy"}},
		"off, with the probe held to allowed endpoints": {`probe: {allowEndpoints: [s3.example.com]}`, []string{"CLIENT AUTHENTICATION IS OFF", "the probe reaches only probe.allowEndpoints"}},
		"on": {`clientAuthentication: {enabled: true, caConfigMap: {name: ca}, names: [kube-apiserver]}`, nil},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := release.Template(ch, "bsw", "bsw-system", parseValues(t, tc.values), release.TemplateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Notes, w) {
					t.Errorf("the notes do not say %q:\n%s", w, r.Notes)
				}
			}
			if tc.want == nil && strings.Contains(r.Notes, "CLIENT AUTHENTICATION") {
				t.Errorf("with client authentication on, the notes still warn:\n%s", r.Notes)
			}
		})
	}
}

// Every webhook flag is either set by the chart from a value (chartFlags: the value, or
// what fixes it) or deliberately left to extraArgs (extraArgsFlags: why). A new flag
// fails TestEveryWebhookFlagIsAChartValueOrLeftToExtraArgs until it is in one of them.
var (
	chartFlags = map[string]string{
		"webhook-port":                     "webhook.port",
		"cert-dir":                         "fixed: where the serving Secret is mounted",
		"cert-manager-certificate":         "certificates.source: the release's serving Certificate",
		"validating-webhook-configuration": "certificates.source: the release's configuration",
		"mutating-webhook-configuration":   "certificates.source: the release's configuration",
		"health-probe-bind-address":        "healthPort",
		"metrics-bind-address":             "metricsPort",
		"client-ca-file":                   "clientAuthentication.caConfigMap",
		"client-cert-names":                "clientAuthentication.names",
		"probe":                            "probe.mode",
		"probe-timeout":                    "probe.timeout",
		"probe-cache-ttl":                  "probe.cacheTTL",
		"max-concurrent-probes":            "probe.maxConcurrent",
		"probe-via-proxy":                  "probe.viaProxy",
		"iam-endpoints":                    "probe.iamEndpoints",
		"iam-untrusted-endpoints":          "probe.iamUntrustedEndpoints",
		"deny-cidrs":                       "probe.denyCIDRs",
		"allow-endpoints":                  "probe.allowEndpoints",
		"allow-control-plane":              "probe.allowControlPlane",
		"subject-access-review":            "subjectAccessReview",
		"delete-guard":                     "guards.delete",
		"secret-guard":                     "guards.secret",
	}
	extraArgsFlags = map[string]string{
		"webhook-host":                  "a pod listens on every interface; only tests bind one address",
		"cert-name":                     "the serving Secret is kubernetes.io/tls, so its files are tls.crt and tls.key",
		"key-name":                      "the serving Secret is kubernetes.io/tls, so its files are tls.crt and tls.key",
		"tls-min-version":               "1.2 is the default and what the API server speaks; 1.3 is a one-flag choice",
		"kubeconfig":                    "a pod uses its ServiceAccount (in-cluster config)",
		"iam-endpoint":                  "for tests: an instance-metadata stand-in",
		"destination-crd-poll-interval": "a tuning knob whose default suits every cluster",
		"max-connections":               "connection bounds sized for the shipped 128Mi memory limit; raise them only with that limit",
		"max-handshakes":                "connection bounds sized for the shipped 128Mi memory limit; raise them only with that limit",
		"handshake-timeout":             "connection bounds sized for the shipped 128Mi memory limit; raise them only with that limit",
		"idle-timeout":                  "longer than the API server's own idle timeout for its keep-alive connections (90s)",
		"secret-namespaces":             "pairs with namespaced RBAC the chart does not render (manifests/components/secret-namespaces)",
		"version":                       "prints the version and exits",
		"github-api-url":                "GitHub Enterprise Server only, and Kratix itself mints tokens from api.github.com alone",
	}
)

// zapFlagPrefix: controller-runtime's logging flags (--zap-log-level, ...) go to
// extraArgs as a group; the reference documents them together.
const zapFlagPrefix = "zap-"

// TestEveryWebhookFlagIsAChartValueOrLeftToExtraArgs checks that each flag AddFlags
// registers is in exactly one of chartFlags and extraArgsFlags, that neither names a
// flag that does not exist, and that every chart flag is rendered by the chart with
// ci/every-option-values.yaml, where every value is set away from its default.
func TestEveryWebhookFlagIsAChartValueOrLeftToExtraArgs(t *testing.T) {
	fs := pflag.NewFlagSet("webhook", pflag.ContinueOnError)
	NewOptions().AddFlags(fs)
	registered := map[string]bool{}
	fs.VisitAll(func(f *pflag.Flag) {
		if strings.HasPrefix(f.Name, zapFlagPrefix) {
			return
		}
		registered[f.Name] = true
		_, inChart := chartFlags[f.Name]
		_, inExtra := extraArgsFlags[f.Name]
		if inChart == inExtra {
			t.Errorf("--%s: in chartFlags %v, in extraArgsFlags %v; want it in exactly one (a value in values.yaml, or why it is left to extraArgs)", f.Name, inChart, inExtra)
		}
	})
	for _, m := range []map[string]string{chartFlags, extraArgsFlags} {
		for name := range m {
			if !registered[name] {
				t.Errorf("--%s is listed but the webhook has no such flag", name)
			}
		}
	}

	// values.schema.json refuses the chart's flags in extraArgs, where they would bypass
	// the values' rules, and only those.
	ch := loadChart(t)
	for name := range registered {
		_, inChart := chartFlags[name]
		_, err := release.Template(ch, "bsw", "bsw-system", map[string]any{"extraArgs": []any{"--" + name + "=x"}}, release.TemplateOptions{})
		if refused := err != nil; refused != inChart {
			t.Errorf("extraArgs: [--%s=x]: refused %v (%v), want refused %v (a chart flag: %v)", name, refused, err, inChart, inChart)
		}
	}

	b, err := os.ReadFile(filepath.Join(chartPath, "ci", "every-option-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	args, err := webhookArgs(ch, parseValues(t, string(b)), false)
	if err != nil {
		t.Fatalf("helm template with ci/every-option-values.yaml: %v", err)
	}
	for name, value := range chartFlags {
		if !slices.ContainsFunc(args, func(a string) bool { return a == "--"+name || strings.HasPrefix(a, "--"+name+"=") }) {
			t.Errorf("--%s (%s) is not among the rendered args with every option set: %q", name, value, args)
		}
	}
}

// webhookArgs renders the chart as `helm template` does with no cluster and returns the
// webhook container's args.
func webhookArgs(ch *chart.Chart, values map[string]any, skipSchema bool) ([]string, error) {
	r, err := release.Template(ch, "bsw", "bsw-system", values, release.TemplateOptions{SkipSchemaValidation: skipSchema})
	if err != nil {
		return nil, err
	}
	for _, doc := range strings.Split(r.Manifest, "\n---\n") {
		var d appsv1.Deployment
		if err := yaml.Unmarshal([]byte(doc), &d); err != nil || d.Kind != "Deployment" {
			continue
		}
		return release.ContainerArgs(&d, "webhook")
	}
	return nil, os.ErrNotExist
}

// validateArgs parses args as main does and runs Validate.
func validateArgs(args []string) error {
	opts := NewOptions()
	fs := pflag.NewFlagSet("webhook", pflag.ContinueOnError)
	opts.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	return opts.Validate()
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartPath)
	if err != nil {
		t.Fatalf("loading the chart: %v", err)
	}
	return ch
}

func parseValues(t *testing.T, s string) map[string]any {
	t.Helper()
	values := map[string]any{}
	if err := yaml.Unmarshal([]byte(s), &values); err != nil {
		t.Fatalf("values %q: %v", s, err)
	}
	return values
}

// ciValueFiles are the chart's ci/*-values.yaml.
func ciValueFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chartPath, "ci", "*-values.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no ci/*-values.yaml in the chart (%v)", err)
	}
	return files
}
