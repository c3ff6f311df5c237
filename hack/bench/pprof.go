package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// pprofBuildTag is the build tag under which internal/server serves net/http/pprof on
// the metrics address. With -webhook-pprof the harness builds the webhook and the bare
// webhooks with it (through GOFLAGS, which their builds inherit); cmd/webhook as
// released serves no profile.
const pprofBuildTag = "benchpprof"

// withPprofBuild adds the pprof build tag to GOFLAGS, for the builds the harness starts.
func withPprofBuild() error {
	flags := strings.TrimSpace(os.Getenv("GOFLAGS") + " -tags=" + pprofBuildTag)
	return os.Setenv("GOFLAGS", flags)
}

// webhookProfiler fetches profiles while a figure is measured: from a webhook's
// /debug/pprof on its metrics address (a build with pprofBuildTag), and from the
// kube-apiserver's, which serves it to an administrator. It does nothing when dir is
// empty (no -webhook-pprof).
type webhookProfiler struct {
	dir string
}

func (p *webhookProfiler) enabled() bool { return p != nil && p.dir != "" }

// capture starts, after delay, a CPU profile of length d of the webhook serving metrics
// on metricsAddr and, halfway through it, a dump of every goroutine's stack. The
// returned function waits for both and says what it wrote.
func (p *webhookProfiler) capture(ctx context.Context, metricsAddr, name string, delay, d time.Duration) func() string {
	if !p.enabled() {
		return func() string { return "" }
	}
	return p.captureFrom(ctx, http.DefaultClient, "http://"+metricsAddr+"/debug/pprof/", name, delay, d, delay+d/2)
}

// captureAPIServer is capture for the kube-apiserver of cfg, as an administrator.
func (p *webhookProfiler) captureAPIServer(ctx context.Context, cfg *rest.Config, name string, delay, d time.Duration) func() string {
	if !p.enabled() {
		return func() string { return "" }
	}
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return func() string { return fmt.Sprintf("no API server profile: %v", err) }
	}
	return p.captureFrom(ctx, client, strings.TrimSuffix(cfg.Host, "/")+"/debug/pprof/", name, delay, d, delay+d/2)
}

// captureFrom starts, after delay, a CPU profile of length d from the pprof handlers at
// base, and a dump of every goroutine's stack stacksAt after now. The returned function
// waits for both and says what it wrote.
func (p *webhookProfiler) captureFrom(ctx context.Context, client *http.Client, base, name string, delay, d, stacksAt time.Duration) func() string {
	if err := fetch(ctx, client, base, io.Discard); err != nil {
		return func() string {
			return fmt.Sprintf("no profile %s: %s does not serve /debug/pprof (%v)", name, base, err)
		}
	}
	seconds := max(1, int(d.Seconds()))
	cpuFile := filepath.Join(p.dir, name+"-cpu.pprof")
	stacksFile := filepath.Join(p.dir, name+"-goroutines.txt")
	stacks := make(chan error, 1)
	go func() {
		time.Sleep(stacksAt)
		stacks <- fetchToFile(ctx, client, base+"goroutine?debug=1", stacksFile)
	}()
	done := make(chan string, 1)
	go func() {
		time.Sleep(delay)
		cpuErr := fetchToFile(ctx, client, base+"profile?seconds="+strconv.Itoa(seconds), cpuFile)
		done <- fmt.Sprintf("profiles: %s (%v), %s (%v)", cpuFile, errOrOK(cpuErr), stacksFile, errOrOK(<-stacks))
	}()
	return func() string { return <-done }
}

func errOrOK(err error) string {
	if err != nil {
		return err.Error()
	}
	return "ok"
}

func fetchToFile(ctx context.Context, client *http.Client, url, file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	return fetch(ctx, client, url, f)
}

func fetch(ctx context.Context, client *http.Client, url string, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}
