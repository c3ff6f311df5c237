package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

func TestAnEmptiedClientCAFileKeepsTheLastGoodCAAndSaysSo(t *testing.T) {
	dir := t.TempDir()
	if _, err := testkit.NewCA(dir); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.crt")
	good, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	log := funcr.New(func(_, args string) { lines = append(lines, args) }, funcr.Options{})
	now := time.Unix(0, 0)
	clock := func() time.Time { return now }
	a, err := newClientAuth(caFile, []string{"kube-apiserver"}, log, clock)
	if err != nil {
		t.Fatal(err)
	}
	before := a.current()
	if got := testutil.ToFloat64(clientCAStale); got != 0 {
		t.Fatalf("client_ca_stale = %v after a good read, want 0", got)
	}

	if err := os.WriteFile(caFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * ClientCACheckInterval)
	if a.current() != before {
		t.Error("an emptied client CA file replaced the CAs in use")
	}
	if got := testutil.ToFloat64(clientCAStale); got != 1 {
		t.Errorf("client_ca_stale = %v with an emptied file, want 1", got)
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "the client CA file changed but is not valid; the CAs read before stay in use") {
		t.Errorf("logged %q, want one line that says the CAs read before stay in use", lines)
	}
	// Read again, still empty: still stale, and not logged again.
	now = now.Add(2 * ClientCACheckInterval)
	a.current()
	if got := testutil.ToFloat64(clientCAStale); got != 1 || len(lines) != 1 {
		t.Errorf("the same empty file read again: client_ca_stale = %v, %d lines; want 1, 1", got, len(lines))
	}

	if err := os.WriteFile(caFile, good, 0o600); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * ClientCACheckInterval)
	a.current()
	if got := testutil.ToFloat64(clientCAStale); got != 0 {
		t.Errorf("client_ca_stale = %v once a valid file is back, want 0", got)
	}
}
