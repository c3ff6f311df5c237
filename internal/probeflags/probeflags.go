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
	// GitHubAPIURL is the GitHub API githubApp GitStateStores mint tokens from.
	GitHubAPIURL string
}

// New returns the defaults.
func New() Options {
	return Options{Timeout: probe.DefaultTimeout, GitHubAPIURL: probe.DefaultGitHubAPIURL}
}

// AddFlags binds the options to flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.DurationVar(&o.Timeout, "probe-timeout", o.Timeout, "time budget of one bucket probe")
	fs.StringVar(&o.IAMEndpoint, "iam-endpoint", o.IAMEndpoint, "endpoint the IAM credential chain asks for credentials instead of the instance metadata service; for testing")
	fs.StringSliceVar(&o.IAMEndpoints, "iam-endpoints", o.IAMEndpoints, "hosts and CIDRs besides Amazon S3's that authMethod IAM stores may be probed at with the prober's own IAM credentials")
	fs.StringSliceVar(&o.DenyCIDRs, "deny-cidrs", o.DenyCIDRs, "CIDRs the probe may not connect to, in addition to link-local and cloud metadata addresses")
	fs.StringSliceVar(&o.AllowEndpoints, "allow-endpoints", o.AllowEndpoints, "if set, the only hosts and CIDRs the probe may connect to")
}

// AddGitFlags binds the options that only the Git probe has to flags.
func (o *Options) AddGitFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.GitHubAPIURL, "github-api-url", o.GitHubAPIURL, "GitHub API that githubApp GitStateStores mint installation tokens from; https://<host>/api/v3 for GitHub Enterprise Server")
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
	if err := probe.CheckGitHubAPIURL(o.GitHubAPIURL); o.GitHubAPIURL != "" && err != nil {
		errs = append(errs, fmt.Errorf("--github-api-url: %w", err))
	}
	return errs
}

// S3Options are the prober's options the flags describe, with the endpoint guard built
// from guard and the flags' lists. The caller sets what only it has (concurrency, the
// proxy, the IAM policy).
func (o *Options) S3Options(guard probe.GuardOptions) (probe.S3Options, error) {
	g, err := o.guard(guard)
	if err != nil {
		return probe.S3Options{}, err
	}
	iamEndpoints, err := probe.ParseHostList(o.IAMEndpoints)
	if err != nil {
		return probe.S3Options{}, fmt.Errorf("--iam-endpoints: %w", err)
	}
	return probe.S3Options{Timeout: o.Timeout, IAMEndpoint: o.IAMEndpoint, IAMEndpoints: iamEndpoints, Guard: g}, nil
}

// GitOptions are the Git prober's options the flags describe, with the endpoint guard
// built as for S3Options. The caller sets concurrency and the proxy.
func (o *Options) GitOptions(guard probe.GuardOptions) (probe.GitOptions, error) {
	g, err := o.guard(guard)
	if err != nil {
		return probe.GitOptions{}, err
	}
	return probe.GitOptions{Timeout: o.Timeout, Guard: g, GitHubAPIURL: o.GitHubAPIURL}, nil
}

// guard builds the endpoint guard from guard and the flags' lists.
func (o *Options) guard(guard probe.GuardOptions) (*probe.Guard, error) {
	deny, err := probe.ParseCIDRs(o.DenyCIDRs)
	if err != nil {
		return nil, fmt.Errorf("--deny-cidrs: %w", err)
	}
	guard.Deny, guard.Allow = deny, o.AllowEndpoints
	g, err := probe.NewGuard(guard)
	if err != nil {
		return nil, fmt.Errorf("--allow-endpoints: %w", err)
	}
	return g, nil
}
