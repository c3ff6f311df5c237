package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/kratix-community/statestore-webhook/internal/probeflags"
	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

// Options are the command's settings, one flag each.
type Options struct {
	Output         string
	RequireSecrets bool
	Probe          bool
	// ProbeFlags are the probe flags the webhook shares.
	ProbeFlags   probeflags.Options
	Summary      bool
	PrintVersion bool

	// The check's own flags: which inputs, and what fails a run.
	Strict         bool
	Include        []string
	Exclude        []string
	StdinFilename  string
	RequireStores  bool
	FailOnWarnings bool
}

// probeConcurrency is how many stores are probed at once with --probe.
const probeConcurrency = 4

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{
		Output:     OutputText,
		ProbeFlags: probeflags.New(),
		Summary:    true,
	}
}

// AddFlags binds the options to flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.Output, "output", "o", o.Output, "output format: "+strings.Join(Outputs, ", ")+"; github prints GitHub Actions annotations")
	fs.BoolVar(&o.RequireSecrets, "require-secrets", o.RequireSecrets, "fail a store whose Secret is not in the input, as the webhook fails a missing Secret, instead of noting that it cannot be checked offline")
	fs.BoolVar(&o.Probe, "probe", o.Probe, "probe each bucket and Git repository as the webhook does, with the credentials of the input's Secrets or, for IAM, of the environment")
	o.ProbeFlags.AddFlags(fs)
	o.ProbeFlags.AddGitFlags(fs)
	fs.BoolVar(&o.Summary, "summary", o.Summary, "print a line counting what was checked to standard error")
	fs.BoolVar(&o.PrintVersion, "version", false, "print the version and exit")
	fs.BoolVar(&o.Strict, "strict", o.Strict, "make an input that is not a Kubernetes manifest (a template, a JSON patch, a values file) an error instead of skipping it with a notice")
	fs.StringSliceVar(&o.Include, "include", o.Include, "glob patterns (** for any directories) of the files to read; if set, other files are not read")
	fs.StringSliceVar(&o.Exclude, "exclude", o.Exclude, "glob patterns (** for any directories) of files not to read, such as 'charts/**'")
	fs.StringVar(&o.StdinFilename, "stdin-filename", o.StdinFilename, "the file name findings give standard input (-), for annotations on the file it was rendered from")
	fs.BoolVar(&o.RequireStores, "require-stores", o.RequireStores, "fail when the input holds no BucketStateStore or GitStateStore, as when the command that renders it failed")
	fs.BoolVar(&o.FailOnWarnings, "fail-on-warnings", o.FailOnWarnings, "fail a store with warnings (exit 1), as an invalid one")
}

// Validate reports every invalid option at once.
func (o *Options) Validate() error {
	var errs []error
	if !slices.Contains(Outputs, o.Output) {
		errs = append(errs, fmt.Errorf("--output must be one of %s, not %q", strings.Join(Outputs, ", "), o.Output))
	}
	if o.ProbeFlags.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("--probe-timeout must be more than 0, not %s", o.ProbeFlags.Timeout))
	}
	errs = append(errs, o.ProbeFlags.Validate()...)
	in := o.inputs()
	if err := in.ValidatePatterns(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// inputs are the options that say what to read.
func (o *Options) inputs() Inputs {
	return Inputs{Include: o.Include, Exclude: o.Exclude, Strict: o.Strict, StdinName: o.StdinFilename}
}

// Run checks the files args name and prints the findings to stdout, and the summary and
// usage errors to stderr. It returns the exit code: 0 when every store is valid, 1 when
// one is not, 2 for bad usage or an input that could not be read, and 128 plus the
// signal's number when ctx is cancelled by a signal (see SignalContext). It returns as
// soon as ctx is done, even while an input blocks.
func Run(ctx context.Context, opts *Options, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if err := opts.Validate(); err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return ExitUsage
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "error: name the files or directories to check, or - for standard input")
		return ExitUsage
	}
	if n := slices.Index(args, Stdin); n >= 0 && slices.Index(args[n+1:], Stdin) >= 0 {
		fmt.Fprintln(stderr, "error: - (standard input) may be given once")
		return ExitUsage
	}
	c := &Checker{RequireSecrets: opts.RequireSecrets, ProbeConcurrency: probeConcurrency, Inputs: opts.inputs()}
	if opts.Probe {
		// No control plane: the command runs outside the cluster, which it knows nothing of.
		s3opts, err := opts.ProbeFlags.S3Options(probe.GuardOptions{})
		if err != nil {
			fmt.Fprintln(stderr, "error:", err)
			return ExitUsage
		}
		s3opts.MaxConcurrent = probeConcurrency
		prober, err := probe.NewS3Prober(s3opts)
		if err != nil {
			fmt.Fprintln(stderr, "error:", err)
			return ExitUsage
		}
		c.Prober = prober
		gitOpts, err := opts.ProbeFlags.GitOptions(probe.GuardOptions{})
		if err != nil {
			fmt.Fprintln(stderr, "error:", err)
			return ExitUsage
		}
		gitOpts.MaxConcurrent = probeConcurrency
		if c.GitProber, err = probe.NewGitProber(gitOpts); err != nil {
			fmt.Fprintln(stderr, "error:", err)
			return ExitUsage
		}
	}
	// Opening or reading a named pipe blocks in a system call that no context reaches;
	// the check runs beside, and is left behind when ctx is done.
	done := make(chan *Result, 1)
	go func() { done <- c.Check(ctx, args, stdin) }()
	var r *Result
	select {
	case r = <-done:
	case <-ctx.Done():
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "error: stopped:", context.Cause(ctx))
		return stoppedCode(ctx)
	}
	if opts.RequireStores && len(r.Stores) == 0 {
		r.Errors = append(r.Errors, InputError{Message: "no BucketStateStore or GitStateStore in the input, and --require-stores asks for one; did the command that renders it fail?"})
	}
	r.FailOnWarnings = opts.FailOnWarnings
	if err := r.Write(stdout, opts.Output); err != nil {
		fmt.Fprintln(stderr, "error: writing the findings:", err)
		return ExitUsage
	}
	if opts.Summary && opts.Output != OutputJSON {
		r.WriteSummary(stderr)
	}
	return r.ExitCode()
}
