package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

// The cold Git probe needs no cluster: it starts its own Git server, so it is an offline
// figure, measured before the environment starts and without it under -only gitprobe.
func init() {
	figures = append(figures, "gitprobe")
	offlineSteps["gitprobe"] = measureColdGitProbe
}

// measureColdGitProbe compares probe.NewGitProber against go-git's own smart-HTTP
// transport reading the same two ref advertisements (upload-pack, then receive-pack)
// from the same local git http-backend over HTTPS, with the same credentials: what a
// probe that writes nothing costs beyond the library's raw reads. Both keep their
// connections alive between probes, so the figure is the prober's own work (parsing,
// guard, budget, slots), not TLS handshakes. The server counts the requests of each side.
func measureColdGitProbe(ctx context.Context, o options, r *Report) error {
	dir, err := os.MkdirTemp("", "bench-git-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	git, err := localenv.StartGitServer(dir)
	if err != nil {
		return err
	}
	defer func() { _ = git.Stop() }()
	// Both sides trust the server's CA as the webhook would: the prober through
	// SSL_CERT_FILE, go-git through the same pool. The variable is put back, since the
	// file goes with this figure and the processes of later figures inherit it.
	previous, had := os.LookupEnv("SSL_CERT_FILE")
	defer func() {
		if had {
			_ = os.Setenv("SSL_CERT_FILE", previous)
		} else {
			_ = os.Unsetenv("SSL_CERT_FILE")
		}
	}()
	if err := os.Setenv("SSL_CERT_FILE", git.CA.CertFile); err != nil {
		return err
	}
	prober, err := probe.NewGitProber(probe.GitOptions{})
	if err != nil {
		return err
	}
	url := git.URL + "/" + localenv.GitRepository
	target := probe.GitTarget{URL: url, Branch: localenv.GitBranch, AuthMethod: probe.GitAuthBasic,
		Credentials: &probe.GitCredentials{Username: localenv.GitWriter.Name, Password: localenv.GitWriter.Password}}
	raw := githttp.NewClient(&http.Client{Transport: &http.Transport{TLSClientConfig: git.CA.TLSConfig()}})
	ep, err := transport.NewEndpoint(url)
	if err != nil {
		return err
	}
	auth := &githttp.BasicAuth{Username: localenv.GitWriter.Name, Password: localenv.GitWriter.Password}

	s := r.Section(fmt.Sprintf("Cold Git probe: one probe of a local git http-backend over HTTPS, no cache (%d interleaved pairs)", o.probePairs),
		"probe.GitRepoProber", "raw go-git advertisements")
	timed := func(side string, f func() error) func() *Run {
		return func() *Run {
			run := NewRun(side)
			start := time.Now()
			err := f()
			run.Record(time.Since(start), err)
			return run
		}
	}
	probeOnce := timed("probe.GitRepoProber", func() error { return prober.Probe(ctx, target) })
	rawOnce := timed("raw go-git advertisements", func() error { return rawAdvertisements(ctx, raw, ep, auth) })
	for range 3 { // warm the connection pools and the code paths
		r.CheckRuns("cold Git probe, warm-up", probeOnce(), rawOnce())
	}
	var lat Pairs
	var probeRuns, rawRuns []*Run
	for i := range o.probePairs {
		runs := interleave(i, probeOnce, rawOnce)
		r.CheckRuns(fmt.Sprintf("cold Git probe, pair %d", i+1), runs...)
		lat.Add(latency(runs[0].Percentile(50)), latency(runs[1].Percentile(50)))
		probeRuns, rawRuns = append(probeRuns, runs[0]), append(rawRuns, runs[1])
	}
	s.Add(Row{Figure: "median", Ours: fmtDurF(lat.Ours()), Base: fmtDurF(lat.Base()), Ratio: lat.Ratio(), Target: "<= 1.15x", Met: atMost(lat.Ratio(), 1.15)})
	s.Add(Row{Figure: "p90", Ours: fmtDur(pooledPercentile(probeRuns, 90)), Base: fmtDur(pooledPercentile(rawRuns, 90)), Ratio: ratio(float64(pooledPercentile(probeRuns, 90)), float64(pooledPercentile(rawRuns, 90)))})

	// What each side asks, counted where it arrives.
	before := git.Served()
	if err := prober.Probe(ctx, target); err != nil {
		r.Fail("cold Git probe, counted: %v", err)
	}
	mid := git.Served()
	if err := rawAdvertisements(ctx, raw, ep, auth); err != nil {
		r.Fail("raw go-git advertisements, counted: %v", err)
	}
	ours, base := mid-before, git.Served()-mid
	if ours == 0 || base == 0 {
		r.Fail("cold Git probe: a side reached the server with no request (prober %d, go-git %d)", ours, base)
	}
	s.Note("requests per probe reaching git http-backend: prober %d, raw go-git %d", ours, base)
	return nil
}

// rawAdvertisements is the baseline: go-git's own sessions reading the upload-pack and
// the receive-pack advertisement, and checking the branch in the first.
func rawAdvertisements(ctx context.Context, client transport.Transport, ep *transport.Endpoint, auth transport.AuthMethod) error {
	up, err := client.NewUploadPackSession(ep, auth)
	if err != nil {
		return err
	}
	ar, err := up.AdvertisedReferencesContext(ctx)
	_ = up.Close()
	if err != nil {
		return err
	}
	if _, ok := ar.References["refs/heads/"+localenv.GitBranch]; !ok {
		return fmt.Errorf("%w: branch %q is not advertised", testkit.ErrWrongVerdict, localenv.GitBranch)
	}
	rp, err := client.NewReceivePackSession(ep, auth)
	if err != nil {
		return err
	}
	_, err = rp.AdvertisedReferencesContext(ctx)
	_ = rp.Close()
	return err
}
