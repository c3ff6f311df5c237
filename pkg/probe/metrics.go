package probe

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	probesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "statestore_webhook_probes_total",
		Help: "Probes of S3 endpoints and Git servers, by the reason they ended with (OK for success).",
	}, []string{"reason"})

	probeDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "statestore_webhook_probe_duration_seconds",
		Help:    "Time a probe of an S3 endpoint or a Git server took, whatever its outcome.",
		Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	})

	// probesBusyForEndpoint counts the probes denied Busy because their endpoint already
	// ran its share of the slots: the sign of an endpoint that holds its probes, or of a
	// burst at one endpoint larger than PerEndpointLimit lets through in the budget.
	probesBusyForEndpoint = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "statestore_webhook_probes_busy_for_endpoint_total",
		Help: "Probes denied Busy because their endpoint already ran its share of the probe slots (a quarter of --max-concurrent-probes, at least 4).",
	})

	cacheHits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "statestore_webhook_probe_cache_hits_total",
		Help: "Probes answered from the cache of recent successes.",
	})

	cacheMisses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "statestore_webhook_probe_cache_misses_total",
		Help: "Probes the cache could not answer, including those merged with one in flight.",
	})
)

// init registers the metrics with controller-runtime's registry, which its manager
// serves on the metrics endpoint, and creates a series for every reason so dashboards
// see zeros rather than gaps.
func init() {
	metrics.Registry.MustRegister(probesTotal, probeDuration, probesBusyForEndpoint, cacheHits, cacheMisses)
	for _, r := range Reasons {
		probesTotal.WithLabelValues(string(r))
	}
}

// observeProbe records one finished probe.
func observeProbe(err error, d time.Duration) {
	probesTotal.WithLabelValues(string(ReasonOf(err))).Inc()
	probeDuration.Observe(d.Seconds())
}
