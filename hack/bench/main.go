// Command bench is `make bench`'s harness: in one run on one machine it measures each
// figure of the webhook's performance next to its baseline and prints both with their
// ratio and the target. It brings up a real kube-apiserver, MinIO, a Git server (git
// http-backend) and the webhook binary built from this module (internal/localenv),
// SeaweedFS for the cold probe alone, plus a bare controller-runtime webhook that admits
// everything with the same TLS settings (./bare-webhook), which is also the floor of the
// design for each store kind.
//
// Repetitions interleave the two sides and ratios are taken pair by pair, then their
// median, because the machines it runs on are shared and noisy. It exits non-zero when a
// measurement cannot be trusted: a side answered errors or the wrong verdict, or
// measured nothing. A missed target is reported, not a failure.
//
//	go run ./hack/bench            # the full run, several minutes on two cores; the report prints its total run time
//	go run ./hack/bench -quick     # a smoke run: every figure, few samples
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// options are the harness's settings; quick ones make a smoke run.
type options struct {
	reps        int
	concurrency []int
	warmup      time.Duration
	window      time.Duration

	probePairs     int
	burstSize      int
	apiPairs       int
	unreachableSeq int
	// unreachableConc stores are sent at once, each with its own probe.
	unreachableConc int
	memRate         float64
	memWindow       time.Duration
	// floodStores stores at once, floodRounds times, name hostile endpoints.
	floodStores int
	floodRounds int
	// floodRaw sockets that never handshake and floodIdle idle TLS connections make the
	// connection flood.
	floodRaw, floodIdle int

	// cliPairs are the interleaved runs of statestore-check and kubeconform;
	// kubeconform is the path of its binary.
	cliPairs    int
	kubeconform string

	only       []string
	cpuProfile string
	// webhookPprof is a directory for the webhook's own profiles (see webhookProfiler).
	webhookPprof string
	verbose      bool
}

// figures are the measurements in the order they run; -only picks some. Those starting
// with "git" measure a GitStateStore as the figure without the prefix measures a
// BucketStateStore.
var figures = []string{"cli", "probe", "handler", "githandler", "apiserver", "gitapiserver", "secretguard", "unreachable", "burst", "gitburst", "memory", "flood"}

// offlineSteps measure the figures that need no environment: they run before it starts,
// and without it when no other figure is selected.
var offlineSteps = map[string]func(context.Context, options, *Report) error{"cli": measureCLI}

func defaultOptions() options {
	return options{
		reps:            3,
		concurrency:     []int{1, 8, 32, 64},
		warmup:          500 * time.Millisecond,
		window:          2 * time.Second,
		probePairs:      30,
		burstSize:       1000,
		apiPairs:        30,
		unreachableSeq:  3,
		unreachableConc: 8,
		memRate:         1000,
		memWindow:       30 * time.Second,
		floodStores:     32,
		floodRounds:     5,
		floodRaw:        6000,
		floodIdle:       3000,
		cliPairs:        5,
	}
}

// quickOptions keep every figure but take few samples: for checking that the harness
// works, not for numbers.
func quickOptions() options {
	o := defaultOptions()
	o.reps = 1
	o.warmup, o.window = 200*time.Millisecond, 500*time.Millisecond
	o.probePairs, o.apiPairs = 5, 5
	o.burstSize = 100
	o.unreachableSeq, o.unreachableConc = 1, 2
	o.memRate, o.memWindow = 200, 2*time.Second
	o.floodStores, o.floodRounds = 8, 1
	o.floodRaw, o.floodIdle = 3000, 1500
	o.cliPairs = 1
	return o
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	report, err := run(ctx, o, os.Stderr)
	if report != nil {
		report.Print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	if len(report.Failures) > 0 {
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "a smoke run: every figure with few samples, about a minute")
	reps := fs.Int("reps", 0, "repetitions of each interleaved measurement (default 3, 1 with -quick)")
	only := fs.String("only", "", "comma-separated figures to measure, of "+strings.Join(figures, ","))
	cpuProfile := fs.String("cpuprofile", "", "write the harness's CPU profile here (the in-process prober and the load generators)")
	webhookPprof := fs.String("webhook-pprof", "", "directory for CPU and goroutine profiles of the webhooks (built with the tag "+pprofBuildTag+") and the API server during the handler, apiserver and burst figures")
	verbose := fs.Bool("v", false, "show the environment's progress")
	kubeconform := fs.String("kubeconform", "", "path of the kubeconform binary the cli figure compares with (make bench builds it)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	o := defaultOptions()
	if *quick {
		o = quickOptions()
	}
	if *reps > 0 {
		o.reps = *reps
	}
	if *only != "" {
		o.only = strings.Split(*only, ",")
		for _, f := range o.only {
			if !slices.Contains(figures, f) {
				return options{}, fmt.Errorf("-only: unknown figure %q; the figures are %s", f, strings.Join(figures, ","))
			}
		}
	}
	o.cpuProfile, o.webhookPprof, o.verbose, o.kubeconform = *cpuProfile, *webhookPprof, *verbose, *kubeconform
	return o, nil
}

// run measures every figure o selects. An error means the harness could not run (the
// environment did not come up); a run whose measurements cannot be trusted has
// Failures in its report.
func run(ctx context.Context, o options, progress io.Writer) (*Report, error) {
	began := time.Now()
	// controller-runtime's packages log through this; the report says what went wrong.
	ctrllog.SetLogger(logr.Discard())
	r := &Report{Header: machineHeader()}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	selected := func(name string) bool { return len(o.only) == 0 || slices.Contains(o.only, name) }
	needEnv := false
	for _, name := range figures {
		step, offline := offlineSteps[name]
		switch {
		case !selected(name):
		case !offline:
			needEnv = true
		default:
			if err := measureStep(ctx, name, progress, func() error { return step(ctx, o, r) }); err != nil {
				return r, err
			}
		}
	}
	if !needEnv {
		return finish(r, began)
	}

	envProgress := io.Discard
	if o.verbose {
		envProgress = progress
	}
	if o.webhookPprof != "" {
		if err := os.MkdirAll(o.webhookPprof, 0o755); err != nil {
			return r, err
		}
		if err := withPprofBuild(); err != nil {
			return r, err
		}
	}
	fmt.Fprintln(progress, "bench: starting kube-apiserver, etcd, MinIO, a Git server, the webhook and the bare webhook")
	b, err := startEnv(ctx, envProgress)
	if err != nil {
		return r, err
	}
	defer func() {
		if err := b.stop(); err != nil {
			fmt.Fprintln(progress, "bench: stopping the environment:", err)
		}
	}()
	r.Header = append(r.Header, sourceLine(ctx, b.Root),
		"webhook: built from the source above; flags --probe-timeout="+probeBudget.String()+", --iam-endpoint=<metadata stand-in> and --iam-endpoints=127.0.0.1 (the local MinIO), every other at its default",
		fmt.Sprintf("components: kube-apiserver %s, etcd %s, minio %s; environment up in %s",
			b.Versions["kube-apiserver"], b.Versions["etcd"], b.Versions["minio"], time.Since(began).Round(time.Second)))

	steps := map[string]func(context.Context, *benchEnv, options, *Report) error{
		"probe":       measureColdProbe,
		"secretguard": measureSecretGuard,
		"unreachable": measureUnreachable,
		"memory":      measureMemory,
		"flood":       measureFlood,
	}
	for name, measure := range map[string]func(context.Context, *benchEnv, *storeKind, options, *Report) error{
		"handler": measureHandler, "apiserver": measureAPIServer, "burst": measureBurst,
	} {
		for prefix, k := range map[string]*storeKind{"": b.Buckets, "git": b.Gits} {
			steps[prefix+name] = func(ctx context.Context, b *benchEnv, o options, r *Report) error { return measure(ctx, b, k, o, r) }
		}
	}
	for _, name := range figures {
		if _, offline := offlineSteps[name]; !selected(name) || offline {
			continue
		}
		err := measureStep(ctx, name, progress, func() error { return steps[name](ctx, b, o, r) })
		if err != nil {
			return r, fmt.Errorf("%w\nwebhook output (end):\n%s", err, indent(tail(b.Webhook.Output.String(), 1500), "  "))
		}
	}
	if exited, code := b.Webhook.Exited(); exited {
		r.Fail("the webhook exited (code %d) during the run", code)
	}
	return finish(r, began)
}

// measureStep runs one figure's measurement between progress lines.
func measureStep(ctx context.Context, name string, progress io.Writer, measure func() error) error {
	step := time.Now()
	fmt.Fprintf(progress, "bench: measuring %s\n", name)
	if err := measure(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	fmt.Fprintf(progress, "bench: %s done in %s\n", name, time.Since(step).Round(100*time.Millisecond))
	return nil
}

// finish closes a report that measured something.
func finish(r *Report, began time.Time) (*Report, error) {
	if len(r.Sections) == 0 {
		return r, errors.New("no figure was measured")
	}
	r.Header = append(r.Header, fmt.Sprintf("total run time %s", time.Since(began).Round(time.Second)))
	return r, nil
}

// machineHeader says where the numbers come from.
func machineHeader() []string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
				cpu = strings.TrimSpace(value)
				break
			}
		}
	}
	load := "unknown"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return []string{
		fmt.Sprintf("statestore-webhook benchmarks, %s", time.Now().UTC().Format(time.RFC3339)),
		fmt.Sprintf("machine: %d cores (GOMAXPROCS %d), %s, %s/%s; load average at start %s", runtime.NumCPU(), runtime.GOMAXPROCS(0), cpu, runtime.GOOS, runtime.GOARCH, load),
		fmt.Sprintf("go: %s", runtime.Version()),
	}
}

// sourceLine names the commit the webhook was built from and the files that differed
// from it, so that a result can be traced to the code it measured.
func sourceLine(ctx context.Context, root string) string {
	git := func(args ...string) string {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	commit := git("rev-parse", "--short", "HEAD")
	if commit == "" {
		return "source: not a git checkout"
	}
	changed := strings.Fields(git("diff", "--name-only", "HEAD", "--", "cmd", "pkg", "api", "internal"))
	if len(changed) == 0 {
		return "source: commit " + commit
	}
	return fmt.Sprintf("source: commit %s with uncommitted changes to %s", commit, strings.Join(changed, ", "))
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
