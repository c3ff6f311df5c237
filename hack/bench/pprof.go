package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// webhookProfiler fetches profiles from the webhook's /debug/pprof while a figure is
// measured, when the webhook serves it on its metrics address. cmd/webhook does not
// today; a build that adds net/http/pprof to metricsserver.Options.ExtraHandlers does,
// and -webhook-pprof then captures what the webhook does at the handler's target
// concurrency.
type webhookProfiler struct {
	dir string
}

// capture starts, after delay, a CPU profile of length d and, halfway through it, a dump
// of every goroutine's stack. The returned function waits for both and says what it
// wrote.
func (p *webhookProfiler) capture(ctx context.Context, metricsAddr, name string, delay, d time.Duration) func() string {
	if p == nil || p.dir == "" {
		return func() string { return "" }
	}
	base := "http://" + metricsAddr + "/debug/pprof/"
	if err := fetch(ctx, base, io.Discard); err != nil {
		return func() string {
			return fmt.Sprintf("no webhook profile: %s does not serve /debug/pprof (%v)", metricsAddr, err)
		}
	}
	seconds := max(1, int(d.Seconds()))
	cpuFile := filepath.Join(p.dir, name+"-cpu.pprof")
	stacksFile := filepath.Join(p.dir, name+"-goroutines.txt")
	done := make(chan string, 1)
	go func() {
		time.Sleep(delay)
		stacks := make(chan error, 1)
		go func() {
			time.Sleep(time.Duration(seconds) * time.Second / 2)
			stacks <- fetchToFile(ctx, base+"goroutine?debug=1", stacksFile)
		}()
		cpuErr := fetchToFile(ctx, base+"profile?seconds="+strconv.Itoa(seconds), cpuFile)
		done <- fmt.Sprintf("webhook profiles: %s (%v), %s (%v)", cpuFile, errOrOK(cpuErr), stacksFile, errOrOK(<-stacks))
	}()
	return func() string { return <-done }
}

func errOrOK(err error) string {
	if err != nil {
		return err.Error()
	}
	return "ok"
}

func fetchToFile(ctx context.Context, url, file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	return fetch(ctx, url, f)
}

func fetch(ctx context.Context, url string, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
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
