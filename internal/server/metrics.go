package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// The states of the webhook server's connections, as statestore_webhook_connections
// labels them.
const (
	ConnStateHandshake   = "handshake"
	ConnStateEstablished = "established"
)

// Why the webhook closed a connection before or instead of serving it, as
// statestore_webhook_connections_closed_total labels it and the log counts it.
const (
	// ConnClosedHandshakeFailed: the TLS handshake failed, such as a client without an
	// accepted certificate.
	ConnClosedHandshakeFailed = "handshake_failed"
	// ConnClosedHandshakeTimeout: the handshake did not finish within the timeout.
	ConnClosedHandshakeTimeout = "handshake_timeout"
	// ConnClosedHandshakeEvicted: a handshake made room for a newer one (ConnLimits).
	ConnClosedHandshakeEvicted = "handshake_evicted"
	// ConnClosedIdleEvicted: an idle established connection made room for a new one.
	ConnClosedIdleEvicted = "idle_evicted"
	// ConnClosedFull: a new connection found every established one busy.
	ConnClosedFull = "full"
)

// ConnClosedReasons lists them all.
var ConnClosedReasons = []string{ConnClosedHandshakeFailed, ConnClosedHandshakeTimeout, ConnClosedHandshakeEvicted, ConnClosedIdleEvicted, ConnClosedFull}

var (
	connsGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "statestore_webhook_connections",
		Help: "Connections of the webhook server, by state: handshake (TLS not done yet) or established.",
	}, []string{"state"})
	connsClosed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "statestore_webhook_connections_closed_total",
		Help: "Connections the webhook server closed before or instead of serving them, by reason.",
	}, []string{"reason"})
	clientCAStale = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "statestore_webhook_client_ca_stale",
		Help: "1 when the client CA file could not be read or parsed the last time it changed, so the CAs read before stay in use; else 0.",
	})
)

func init() {
	for _, state := range []string{ConnStateHandshake, ConnStateEstablished} {
		connsGauge.WithLabelValues(state)
	}
	for _, reason := range ConnClosedReasons {
		connsClosed.WithLabelValues(reason)
	}
	metrics.Registry.MustRegister(connsGauge, connsClosed, clientCAStale)
}
