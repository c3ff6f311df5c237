package certmanager

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/kratix-community/statestore-webhook/internal/release"
)

// The release the chart's defaults are compared under: the names manifests/default uses.
const (
	defaultRelease   = "statestore-webhook"
	defaultNamespace = "statestore-webhook-system"
)

// chartValues are the values every rendering test runs the chart with, by name: the
// defaults, and each of the chart's ci/*-values.yaml (which cmd/webhook's tests also run
// through the webhook's own flag validation).
func chartValues(t *testing.T) map[string]string {
	t.Helper()
	values := map[string]string{"the defaults": ""}
	files, err := filepath.Glob(filepath.Join(chartDir(), "ci", "*-values.yaml"))
	must(t, err)
	if len(files) == 0 {
		t.Fatalf("the chart has no ci/*-values.yaml")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		must(t, err)
		values["ci/"+filepath.Base(f)] = string(b)
	}
	return values
}

// chartDir is the chart in the tree.
func chartDir() string { return filepath.Join(env.Root, release.ChartDir) }

// parseValues reads a chartValues entry.
func parseValues(t *testing.T, s string) map[string]any {
	t.Helper()
	values := map[string]any{}
	must(t, yaml.Unmarshal([]byte(s), &values))
	return values
}

// kubeVersion is the test API server's, for the chart's kubeVersion and for Helm's
// client-only rendering.
func kubeVersion(t *testing.T) *chartutil.KubeVersion {
	t.Helper()
	v, err := env.Clientset.Discovery().ServerVersion()
	must(t, err)
	return &chartutil.KubeVersion{Version: v.GitVersion, Major: v.Major, Minor: v.Minor}
}

// renderChart runs `helm template` on ch as release name in namespace, against the
// test API server's version and with the Prometheus Operator's API declared, and
// returns the objects.
func renderChart(t *testing.T, ch *chart.Chart, name, namespace string, values map[string]any) []*unstructured.Unstructured {
	t.Helper()
	manifest, err := templateChart(t, ch, name, namespace, values)
	if err != nil {
		t.Fatalf("helm template %s: %v", name, err)
	}
	return decode(t, manifest)
}

// templateChart is helm template: an install that is rendered, not sent.
func templateChart(t *testing.T, ch *chart.Chart, name, namespace string, values map[string]any) (string, error) {
	t.Helper()
	r, err := release.Template(ch, name, namespace, values, release.TemplateOptions{
		KubeVersion: kubeVersion(t),
		APIVersions: []string{"monitoring.coreos.com/v1/ServiceMonitor"},
	})
	return r.Manifest, err
}

func loadChart(t *testing.T, path string) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(path)
	if err != nil {
		t.Fatalf("loading the chart %s: %v", path, err)
	}
	return ch
}

// TestChartLintsClean runs helm lint with each of chartValues: nothing above INFO.
func TestChartLintsClean(t *testing.T) {
	values := chartValues(t)
	for _, name := range slices.Sorted(maps.Keys(values)) {
		t.Run(name, func(t *testing.T) {
			linter := lint.AllWithKubeVersion(chartDir(), parseValues(t, values[name]), defaultNamespace, kubeVersion(t))
			for _, m := range linter.Messages {
				if m.Severity > support.InfoSev {
					t.Errorf("helm lint: %s", m)
				}
			}
		})
	}
}

// TestChartSchemaRefusesWrongValues installs (client-side) with values that
// values.schema.json or the templates must refuse, and checks each names its value.
func TestChartSchemaRefusesWrongValues(t *testing.T) {
	ch := loadChart(t, chartDir())
	for name, tc := range map[string]struct{ values, want string }{
		"a timeout the API server does not allow":      {`webhook: {timeoutSeconds: 31}`, "timeoutSeconds"},
		"a failure policy Kubernetes does not know":    {`webhook: {failurePolicy: Deny}`, "failurePolicy"},
		"a probe mode the webhook does not know":       {`probe: {mode: deny}`, "mode"},
		"a probe timeout that is not a duration":       {`probe: {timeout: 5}`, "timeout"},
		"an IAM policy the webhook does not know":      {`probe: {iamUntrustedEndpoints: warn}`, "iamUntrustedEndpoints"},
		"no probe may run at all":                      {`probe: {maxConcurrent: 0}`, "maxConcurrent"},
		"a deny list entry that is not a CIDR":         {`probe: {denyCIDRs: [10.0.0.1]}`, "denyCIDRs"},
		"a misspelt top-level value":                   {`replicas: 3`, "replicas"},
		"a misspelt nested value":                      {`image: {pullpolicy: Always}`, "pullpolicy"},
		"a certificate source the chart does not know": {`certificates: {source: vault}`, "source"},
		"a user-provided certificate without a Secret": {`certificates: {source: secret}`, "secret"},
		"an issuerRef without a kind":                  {`certificates: {certManager: {issuerRef: {name: my-ca}}}`, "kind"},
		"a NetworkPolicy that admits no API server":    {`networkPolicy: {enabled: true}`, "webhookFrom"},
		"client authentication without a CA":           {`clientAuthentication: {enabled: true, names: [kube-apiserver]}`, "caConfigMap"},
		"client authentication without names":          {`clientAuthentication: {enabled: true, caConfigMap: {name: ca}}`, "names"},
		"no replica":                                   {`replicaCount: 0`, "replicaCount"},
		"an existing ServiceAccount without a name":    {`serviceAccount: {create: false}`, "name"},
		"two probe CA bundles":                         {`probe: {caBundle: {configMap: {name: a}, secret: {name: b}}}`, "probe.caBundle"},
		"an extra argument that is not a flag":         {`extraArgs: [probe-timeout=1s]`, "extraArgs"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := templateChart(t, ch, defaultRelease, defaultNamespace, parseValues(t, tc.values))
			if err == nil {
				t.Fatalf("the chart accepted %s", tc.values)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("refused %s with %q, want a message naming %q", tc.values, err, tc.want)
			}
			t.Logf("refused: %v", err)
		})
	}
}

// TestChartWithDefaultsRendersManifestsDefault compares the chart's defaults, installed
// as statestore-webhook in statestore-webhook-system, with
// manifests/default: the same objects with the same fields, labels aside. Selectors and
// the pods' labels are compared too, but for the labels Helm adds (helmLabels). The
// chart leaves the Namespace to `helm install --create-namespace`.
func TestChartWithDefaultsRendersManifestsDefault(t *testing.T) {
	key := func(o *unstructured.Unstructured) string {
		return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
	}
	comparable := func(o *unstructured.Unstructured) map[string]any {
		obj := withoutHelmLabels(o.Object).(map[string]any)
		unstructured.RemoveNestedField(obj, "metadata", "labels")
		return obj
	}
	want := map[string]map[string]any{}
	for _, o := range decode(t, render(t, release.DefaultManifests)) {
		if o.GetKind() != "Namespace" {
			want[key(o)] = comparable(o)
		}
	}
	got := map[string]map[string]any{}
	for _, o := range renderChart(t, loadChart(t, chartDir()), defaultRelease, defaultNamespace, nil) {
		got[key(o)] = comparable(o)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("manifests/default (-) and the chart's defaults (+) differ:\n%s", diff)
	}
}

// helmLabels are the labels the chart adds to every object and selector; manifests/
// has no release to name.
var helmLabels = []string{"app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "helm.sh/chart"}

// withoutHelmLabels returns v with helmLabels removed from every labels, matchLabels and
// selector map in it.
func withoutHelmLabels(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			if m, ok := e.(map[string]any); ok && (k == "labels" || k == "matchLabels" || k == "selector") {
				m = maps.Clone(m)
				for _, l := range helmLabels {
					delete(m, l)
				}
				e = m
			}
			out[k] = withoutHelmLabels(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = withoutHelmLabels(e)
		}
		return out
	default:
		return v
	}
}

// notServed are kinds the test API server has no API for: the Prometheus Operator's
// CRDs are not installed, and its Go module would move k8s.io dependencies.
var notServed = map[schema.GroupKind]bool{{Group: "monitoring.coreos.com", Kind: "ServiceMonitor"}: true}

// TestChartRenderingsAreValid renders the chart with each of chartValues, decodes every
// object strictly into its Kubernetes or cert-manager Go type (an unknown or misspelt
// field fails), and applies the rendering to the real API server as a server-side
// dry-run with strict field validation, cert-manager's CRD schemas included.
func TestChartRenderingsAreValid(t *testing.T) {
	ch := loadChart(t, chartDir())
	values := chartValues(t)
	for i, name := range slices.Sorted(maps.Keys(values)) {
		t.Run(name, func(t *testing.T) {
			namespace := "chart-" + string(rune('a'+i))
			objs := renderChart(t, ch, "chart-test", namespace, parseValues(t, values[name]))
			var applied []*unstructured.Unstructured
			for _, o := range objs {
				decodeStrictly(t, o)
				if !notServed[o.GroupVersionKind().GroupKind()] {
					applied = append(applied, o)
				}
			}
			createNamespace(t, namespace)
			res := kubectl(t, toYAML(t, applied), "apply", "--server-side", "--dry-run=server", "--validate=strict", "--field-manager="+fieldManager, "-f", "-")
			if res.Exit != 0 || res.Stderr != "" {
				t.Fatalf("kubectl apply --server-side --dry-run=server: exit %d, want 0 and no warnings; stderr:\n%s", res.Exit, res.Stderr)
			}
			if got := strings.Count(res.Stdout, "serverside-applied (server dry run)"); got != len(applied) {
				t.Errorf("the API server accepted %d objects, want all %d:\n%s", got, len(applied), res.Stdout)
			}
		})
	}
}

// decodeStrictly decodes o into the Go type its kind has in the suite's scheme
// (Kubernetes and cert-manager), refusing unknown and duplicate fields.
func decodeStrictly(t *testing.T, o *unstructured.Unstructured) {
	t.Helper()
	gvk := o.GroupVersionKind()
	if notServed[gvk.GroupKind()] {
		return
	}
	typed, err := env.Client.Scheme().New(gvk)
	if err != nil {
		t.Fatalf("%s %s: no Go type for it: %v", gvk, o.GetName(), err)
	}
	b, err := yaml.Marshal(o.Object)
	must(t, err)
	if err := yaml.UnmarshalStrict(b, typed); err != nil {
		t.Errorf("%s %s does not decode strictly into %T: %v", gvk.Kind, o.GetName(), typed, err)
	}
}

// createNamespace creates namespace (server-side, so an existing one is fine); it is
// never deleted: without a namespace controller it would never finish terminating.
func createNamespace(t *testing.T, namespace string) {
	t.Helper()
	ns := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + namespace + "\n"
	if res := kubectl(t, ns, "apply", "--server-side", "--field-manager="+fieldManager, "-f", "-"); res.Exit != 0 {
		t.Fatalf("creating namespace %s: exit %d: %s", namespace, res.Exit, res.Stderr)
	}
}
