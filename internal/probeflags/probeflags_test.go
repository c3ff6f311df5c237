package probeflags

import (
	"context"
	"errors"
	"testing"

	"github.com/spf13/pflag"

	"github.com/kratix-community/statestore-webhook/pkg/probe"
)

func TestGitFlags(t *testing.T) {
	tests := map[string]struct {
		args    []string
		wantErr string
		wantAPI string
	}{
		"the GitHub API is github.com's by default": {wantAPI: probe.DefaultGitHubAPIURL},
		"a GitHub Enterprise Server API is taken": {
			args: []string{"--github-api-url=https://ghe.example.com/api/v3"}, wantAPI: "https://ghe.example.com/api/v3"},
		"a GitHub API URL without a scheme is refused": {
			args:    []string{"--github-api-url=ghe.example.com"},
			wantErr: `--github-api-url: "ghe.example.com" is not an absolute https:// URL such as https://api.github.com or https://<host>/api/v3`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o := New()
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			o.AddFlags(fs)
			o.AddGitFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}

			err := errors.Join(o.Validate()...)

			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("Validate = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			opts, err := o.GitOptions(probe.GuardOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if opts.GitHubAPIURL != tc.wantAPI || opts.Timeout != probe.DefaultTimeout {
				t.Errorf("GitOptions = %+v, want the API %q and the default budget", opts, tc.wantAPI)
			}
		})
	}
}

func TestGitOptionsGuardRefusesTheDeniedCIDRs(t *testing.T) {
	o := New()
	o.DenyCIDRs = []string{"10.0.0.0/8"}
	opts, err := o.GitOptions(probe.GuardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := probe.NewGitProber(opts)
	if err != nil {
		t.Fatal(err)
	}

	err = p.Probe(context.Background(), probe.GitTarget{URL: "https://10.1.2.3/org/repo.git", AuthMethod: probe.GitAuthBasic,
		Credentials: &probe.GitCredentials{Username: "u", Password: "p"}})

	if got := probe.ReasonOf(err); got != probe.ReasonEndpointForbidden {
		t.Errorf("got %v, want EndpointForbidden", err)
	}
}
