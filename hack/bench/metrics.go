package main

import (
	"context"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// scrape reads and parses w's /metrics.
func scrape(ctx context.Context, w *localenv.Webhook) (testkit.Metrics, error) {
	text, err := w.Metrics(ctx)
	if err != nil {
		return nil, err
	}
	return testkit.ParseMetrics(text)
}
