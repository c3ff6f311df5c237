package localenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// WebhookConfigurations are the admission webhook configurations that ship with the
// webhook, as read from the manifests.
type WebhookConfigurations struct {
	Mutating   []admissionregistrationv1.MutatingWebhookConfiguration
	Validating []admissionregistrationv1.ValidatingWebhookConfiguration
}

// ReadWebhookConfigurations reads every MutatingWebhookConfiguration and
// ValidatingWebhookConfiguration in the YAML files named (other kinds are ignored) and
// fails when there is neither.
func ReadWebhookConfigurations(files ...string) (*WebhookConfigurations, error) {
	var cfgs WebhookConfigurations
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading webhook configurations: %w", err)
		}
		dec := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := dec.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", file, err)
			}
			var meta metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				return nil, fmt.Errorf("reading %s: %w", file, err)
			}
			switch meta.Kind {
			case "MutatingWebhookConfiguration":
				var c admissionregistrationv1.MutatingWebhookConfiguration
				if err := yaml.UnmarshalStrict(doc, &c); err != nil {
					return nil, fmt.Errorf("decoding a MutatingWebhookConfiguration in %s: %w", file, err)
				}
				cfgs.Mutating = append(cfgs.Mutating, c)
			case "ValidatingWebhookConfiguration":
				var c admissionregistrationv1.ValidatingWebhookConfiguration
				if err := yaml.UnmarshalStrict(doc, &c); err != nil {
					return nil, fmt.Errorf("decoding a ValidatingWebhookConfiguration in %s: %w", file, err)
				}
				cfgs.Validating = append(cfgs.Validating, c)
			}
		}
	}
	if len(cfgs.Mutating)+len(cfgs.Validating) == 0 {
		return nil, fmt.Errorf("no webhook configurations in %s", strings.Join(files, ", "))
	}
	return &cfgs, nil
}

// PointAt replaces every webhook's clientConfig with url(path), where path is the
// path of the clientConfig.service (or url) that ships, and sets caBundle. Everything
// else (rules, failurePolicy, sideEffects, timeouts, selectors) stays as shipped.
func (c *WebhookConfigurations) PointAt(url func(path string) string, caBundle []byte) error {
	point := func(cc *admissionregistrationv1.WebhookClientConfig, name string) error {
		path := ""
		switch {
		case cc.Service != nil && cc.Service.Path != nil:
			path = *cc.Service.Path
		case cc.URL != nil:
			_, rest, _ := strings.Cut(strings.TrimPrefix(*cc.URL, "https://"), "/")
			path = "/" + rest
		default:
			return fmt.Errorf("webhook %q has neither clientConfig.service.path nor clientConfig.url", name)
		}
		u := url(path)
		*cc = admissionregistrationv1.WebhookClientConfig{URL: &u, CABundle: caBundle}
		return nil
	}
	for i := range c.Mutating {
		for j := range c.Mutating[i].Webhooks {
			wh := &c.Mutating[i].Webhooks[j]
			if err := point(&wh.ClientConfig, wh.Name); err != nil {
				return err
			}
		}
	}
	for i := range c.Validating {
		for j := range c.Validating[i].Webhooks {
			wh := &c.Validating[i].Webhooks[j]
			if err := point(&wh.ClientConfig, wh.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// WebhookNames returns the names of all webhooks, mutating first.
func (c *WebhookConfigurations) WebhookNames() []string {
	var names []string
	for _, m := range c.Mutating {
		for _, wh := range m.Webhooks {
			names = append(names, wh.Name)
		}
	}
	for _, v := range c.Validating {
		for _, wh := range v.Webhooks {
			names = append(names, wh.Name)
		}
	}
	return names
}

// Apply creates the configurations, or replaces them when they exist.
func (c *WebhookConfigurations) Apply(ctx context.Context, cl client.Client) error {
	objs := make([]client.Object, 0, len(c.Mutating)+len(c.Validating))
	for i := range c.Mutating {
		objs = append(objs, c.Mutating[i].DeepCopy())
	}
	for i := range c.Validating {
		objs = append(objs, c.Validating[i].DeepCopy())
	}
	return Apply(ctx, cl, objs...)
}

// WaitUntilCalled waits until the API server has called a webhook of every
// configuration in c and had an answer (an admission or a denial, not a failed call).
// Registration is eventually consistent: the API server only calls a webhook once its
// informer has seen the configuration, and it sees a configuration whole, so one answered
// webhook shows that all of that configuration's are registered (the guards' webhooks,
// which a create never reaches, are registered with the validating webhook's). Each
// round makes a dry-run create of probe (which a webhook of each configuration must
// match) and reads the API server's admission webhook metrics for the webhooks' names.
func (c *WebhookConfigurations) WaitUntilCalled(ctx context.Context, cl client.Client, cs kubernetes.Interface, probe *unstructured.Unstructured, timeout time.Duration) error {
	var configurations [][]string // the names of each configuration's webhooks
	for _, m := range c.Mutating {
		configurations = append(configurations, (&WebhookConfigurations{Mutating: []admissionregistrationv1.MutatingWebhookConfiguration{m}}).WebhookNames())
	}
	for _, v := range c.Validating {
		configurations = append(configurations, (&WebhookConfigurations{Validating: []admissionregistrationv1.ValidatingWebhookConfiguration{v}}).WebhookNames())
	}
	return poll(ctx, timeout, 200*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		createErr := cl.Create(ctx, probe.DeepCopy(), client.DryRunAll)
		metrics, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
		if err != nil {
			return false, "reading the API server's /metrics: " + err.Error(), nil
		}
		var missing []string
		for _, names := range configurations {
			if !slices.ContainsFunc(names, func(name string) bool { return webhookAnswered(string(metrics), name) }) {
				missing = append(missing, strings.Join(names, " or "))
			}
		}
		if len(missing) == 0 {
			return true, "", nil
		}
		return false, fmt.Sprintf("the API server has had no answer from %s; the last dry-run create returned: %v",
			strings.Join(missing, ", "), createErr), nil
	})
}

// webhookAnswered reports whether the API server's metrics count an answer from the
// webhook named name: an admission (request_total with code 200) or a denial the
// webhook itself returned (rejection_count with error_type no_error). Failed calls count
// under other codes and error types.
func webhookAnswered(metrics, name string) bool {
	m, err := testkit.ParseMetrics(metrics)
	if err != nil {
		return false
	}
	return m.Sum("apiserver_admission_webhook_request_total", "name", name, "code", "200") > 0 ||
		m.Sum("apiserver_admission_webhook_rejection_count", "name", name, "error_type", "no_error") > 0
}
