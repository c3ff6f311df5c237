package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kratix-community/statestore-webhook/internal/release"
)

// TestChartReadmeIsGeneratedFromValues keeps the chart's README.md what chartdocs
// writes from values.yaml, so every value is documented and no row is stale.
func TestChartReadmeIsGeneratedFromValues(t *testing.T) {
	dir := filepath.Join("..", "..", release.ChartDir)
	want, err := generate(dir)
	if err != nil {
		t.Fatalf("generating the chart's README: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s/README.md is not what values.yaml generates; run go run ./hack/chartdocs", release.ChartDir)
	}
}
