package probeflags

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

// Options are the shared probe flags' values.
type Options struct {
	Timeout        time.Duration
	IAMEndpoint    string
	IAMEndpoints   []string
	DenyCIDRs      []string
	AllowEndpoints []string
}

// New returns the defaults.
func New() Options {
	return Options{Timeout: probe.DefaultTimeout}
}

// AddFlags binds the options to flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.DurationVar(&o.Timeout, "probe-timeout", o.Timeout, "time budget of one bucket probe")
	fs.StringVar(&o.IAMEndpoint, "iam-endpoint", o.IAMEndpoint, "endpoint the IAM credential chain asks for credentials instead of the instance metadata service; for testing")
	fs.StringSliceVar(&o.IAMEndpoints, "iam-endpoints", o.IAMEndpoints, "hosts and CIDRs besides Amazon S3's that authMethod IAM stores may be probed at with the prober's own IAM credentials")
	fs.StringSliceVar(&o.DenyCIDRs, "deny-cidrs", o.DenyCIDRs, "CIDRs the probe may not connect to, in addition to link-local and cloud metadata addresses")
	fs.StringSliceVar(&o.AllowEndpoints, "allow-endpoints", o.AllowEndpoints, "if set, the only hosts and CIDRs the probe may connect to")
}

// Validate reports each invalid list. The time budget's bounds are the command's.
func (o *Options) Validate() []error {
	var errs []error
	if _, err := probe.ParseCIDRs(o.DenyCIDRs); err != nil {
		errs = append(errs, fmt.Errorf("--deny-cidrs: %w", err))
	}
	if _, err := probe.ParseHostList(o.AllowEndpoints); err != nil {
		errs = append(errs, fmt.Errorf("--allow-endpoints: %w", err))
	}
	if _, err := probe.ParseHostList(o.IAMEndpoints); err != nil {
		errs = append(errs, fmt.Errorf("--iam-endpoints: %w", err))
	}
	return errs
}

// S3Options are the prober's options the flags describe, with the endpoint guard built
// from guard and the flags' lists. The caller sets what only it has (concurrency, the
// proxy, the IAM policy).
func (o *Options) S3Options(guard probe.GuardOptions) (probe.S3Options, error) {
	deny, err := probe.ParseCIDRs(o.DenyCIDRs)
	if err != nil {
		return probe.S3Options{}, fmt.Errorf("--deny-cidrs: %w", err)
	}
	guard.Deny, guard.Allow = deny, o.AllowEndpoints
	g, err := probe.NewGuard(guard)
	if err != nil {
		return probe.S3Options{}, fmt.Errorf("--allow-endpoints: %w", err)
	}
	iamEndpoints, err := probe.ParseHostList(o.IAMEndpoints)
	if err != nil {
		return probe.S3Options{}, fmt.Errorf("--iam-endpoints: %w", err)
	}
	return probe.S3Options{Timeout: o.Timeout, IAMEndpoint: o.IAMEndpoint, IAMEndpoints: iamEndpoints, Guard: g}, nil
}
