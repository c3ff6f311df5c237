package server

import (
	"fmt"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// kubeQPS and kubeBurst lift client-go's default client-side rate limit (5 requests/s),
// which would queue every admission behind the previous ones' Secret reads and access
// reviews during a GitOps burst; the API server's priority and fairness still applies.
const (
	kubeQPS   = 200
	kubeBurst = 400
)

// KubeTimeout bounds each of the webhook's own API calls (the Secret read and the
// SubjectAccessReview), so that together with the probe budget the answer comes before
// the API server gives up on the webhook.
const KubeTimeout = 2 * time.Second

// RestConfig loads the client configuration from kubeconfig, or the in-cluster one when
// it is empty, with the webhook's timeout and rate limits.
func RestConfig(kubeconfig, userAgent string) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading the Kubernetes client configuration: %w", err)
	}
	cfg.Timeout = KubeTimeout
	cfg.QPS, cfg.Burst = kubeQPS, kubeBurst
	cfg.UserAgent = userAgent
	return cfg, nil
}
