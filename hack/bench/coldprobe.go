package main

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/kratix-community/statestore-webhook/internal/testkit"
	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

// checkKey is the object the write check starts and aborts an upload of, as pkg/probe
// names it.
const checkKey = "cold-probe/.kratix-write-permission-check"

// measureColdProbe is one probe with nothing cached, on each S3 server the suites run:
// the local MinIO, then SeaweedFS (Kratix's quickstart backend), started for this figure
// alone so that it does not disturb the others. Each gets a section of its own, measured
// the same way (see coldProbeOn).
func measureColdProbe(ctx context.Context, b *benchEnv, o options, r *Report) error {
	// Both sides trust the CA the way the webhook does: through SSL_CERT_FILE, read when
	// the transport is made.
	if err := os.Setenv("SSL_CERT_FILE", b.CA.CertFile); err != nil {
		return err
	}
	if _, err := coldProbeOn(ctx, b.MinIO.Name(), b.MinIO.Endpoint, b.S3Proxy, o, r); err != nil {
		return err
	}
	seaweed, version, err := b.startSeaweedFS(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = seaweed.Stop() }()
	proxy, err := startCountingProxy(b.CA, filepath.Join(b.WorkDir, "seaweedfs-proxy"), seaweed.Endpoint, b.CA.TLSConfig())
	if err != nil {
		return err
	}
	defer proxy.Close()
	s, err := coldProbeOn(ctx, seaweed.Name(), seaweed.Endpoint, proxy, o, r)
	if err != nil {
		return err
	}
	s.Note("SeaweedFS %s (weed mini), started after the MinIO section", strings.Join(strings.Fields(version), " "))
	return nil
}

// coldProbeOn compares probe.NewS3Prober against the server at endpoint with minio-go
// making the same calls (BucketExists, NewMultipartUpload, AbortMultipartUpload) with a
// client made for the probe, as the prober makes one per probe. Both keep their
// connections alive between probes, so the figure is about the prober's own work, not TLS
// handshakes. proxy, in front of the same server, counts what each side sends.
func coldProbeOn(ctx context.Context, server, endpoint string, proxy *countingProxy, o options, r *Report) (*Section, error) {
	s := r.Section(fmt.Sprintf("Cold probe: one probe of the local %s, no cache (%d interleaved pairs)", server, o.probePairs),
		"probe.S3Prober", "raw minio-go")
	prober, err := probe.NewS3Prober(probe.S3Options{})
	if err != nil {
		return nil, err
	}
	target := func(endpoint string) probe.Target {
		return probe.Target{
			Endpoint: endpoint, Bucket: bucket, Path: "cold-probe", AuthMethod: "accessKey",
			Credentials: &probe.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey},
		}
	}
	tr, err := minio.DefaultTransport(true)
	if err != nil {
		return nil, err
	}
	raw := &rawProber{transport: tr}

	timed := func(side string, f func() error) *Run {
		run := NewRun(side)
		start := time.Now()
		err := f()
		run.Record(time.Since(start), err)
		return run
	}
	probeOnce := func() *Run {
		return timed("probe.S3Prober", func() error { return prober.Probe(ctx, target(endpoint)) })
	}
	rawOnce := func() *Run {
		return timed("raw minio-go", func() error { return raw.probe(ctx, endpoint, false) })
	}
	reusedOnce := func() *Run {
		return timed("raw minio-go, one client", func() error { return raw.probe(ctx, endpoint, true) })
	}
	for range 3 { // warm the connection pools and the code paths
		r.CheckRuns(fmt.Sprintf("cold probe on %s, warm-up", server), probeOnce(), rawOnce(), reusedOnce())
	}

	var lat, reused Pairs
	var probeRuns, rawRuns []*Run
	for i := range o.probePairs {
		runs := interleave(i, probeOnce, rawOnce)
		r.CheckRuns(fmt.Sprintf("cold probe on %s, pair %d", server, i+1), runs...)
		lat.Add(latency(runs[0].Percentile(50)), latency(runs[1].Percentile(50)))
		probeRuns, rawRuns = append(probeRuns, runs[0]), append(rawRuns, runs[1])
		ru := reusedOnce()
		r.CheckRuns(fmt.Sprintf("cold probe on %s, one client, pair %d", server, i+1), ru)
		reused.Add(latency(ru.Percentile(50)), latency(runs[1].Percentile(50)))
	}
	s.Add(Row{Figure: "median", Ours: fmtDurF(lat.Ours()), Base: fmtDurF(lat.Base()), Ratio: lat.Ratio(), Target: "<= 1.15x", Met: atMost(lat.Ratio(), 1.15)})
	s.Add(Row{Figure: "p90", Ours: fmtDur(pooledPercentile(probeRuns, 90)), Base: fmtDur(pooledPercentile(rawRuns, 90)), Ratio: ratio(float64(pooledPercentile(probeRuns, 90)), float64(pooledPercentile(rawRuns, 90)))})

	// What each side sends, counted where it arrives.
	proxy.Kinds() // reset
	if err := prober.Probe(ctx, target(proxy.Endpoint)); err != nil {
		r.Fail("cold probe on %s through the counting proxy: %v", server, err)
	}
	probeKinds := proxy.Kinds()
	if err := raw.probe(ctx, proxy.Endpoint, false); err != nil {
		r.Fail("raw minio-go on %s through the counting proxy: %v", server, err)
	}
	rawKinds := proxy.Kinds()
	s.Note("requests per probe reaching %s: prober %s; raw minio-go %s", server, fmtKinds(probeKinds), fmtKinds(rawKinds))
	s.Note("raw minio-go with one client kept across probes (bucket location cached): median %s, %.2fx the fresh client",
		fmtDurF(reused.Ours()), reused.Ratio())
	return s, nil
}

// rawProber is the baseline: minio-go's own calls and nothing else.
type rawProber struct {
	transport http.RoundTripper
	kept      *minio.Client
}

// probe makes the calls of a probe; with reuse it keeps one client across calls, which
// then remembers the bucket's location.
func (p *rawProber) probe(ctx context.Context, endpoint string, reuse bool) error {
	client := p.kept
	if client == nil || !reuse || client.EndpointURL().Host != endpoint {
		var err error
		client, err = minio.New(endpoint, &minio.Options{
			Creds:     credentials.NewStaticV4(accessKey, secretKey, ""),
			Secure:    true,
			Transport: p.transport,
		})
		if err != nil {
			return err
		}
		if reuse {
			p.kept = client
		}
	}
	core := minio.Core{Client: client}
	exists, err := core.BucketExists(ctx, bucket)
	if err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("%w: bucket %q does not exist", testkit.ErrWrongVerdict, bucket)
	}
	id, err := core.NewMultipartUpload(ctx, bucket, checkKey, minio.PutObjectOptions{})
	if err != nil {
		return err
	}
	return core.AbortMultipartUpload(ctx, bucket, checkKey, id)
}

// pooledPercentile is the percentile of every latency of runs together.
func pooledPercentile(runs []*Run, p float64) time.Duration {
	var all []time.Duration
	for _, r := range runs {
		r.mu.Lock()
		all = append(all, r.latencies...)
		r.mu.Unlock()
	}
	return percentile(all, p)
}

func fmtKinds(k map[string]int) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(k)) {
		parts = append(parts, fmt.Sprintf("%s %d", name, k[name]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
