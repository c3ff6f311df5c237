// Package server builds the webhook's HTTPS server and the manager that runs it: the
// paths the webhook configurations call, the TLS settings, the bounds on connections
// (ConnLimits), the request-body deadline, the request logger and the logger that makes
// every line safe (SafeLogger), health and metrics. cmd/webhook and the benchmark's baseline
// (hack/bench/bare-webhook) both build their server here, so the baseline is set up like
// the webhook by construction.
package server
