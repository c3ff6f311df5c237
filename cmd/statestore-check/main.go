// Command statestore-check validates the BucketStateStores and GitStateStores in manifest files with
// the webhook's own defaults, static rules and Secret checks, and optionally its bucket
// probe, so that CI and pre-commit hooks refuse what the webhook would refuse, with the
// same message, on the file and line to fix.
//
//	statestore-check [flags] <file|directory|->...
//
// It exits 0 when every store is valid, 1 when one is not, 2 for bad usage or an input
// it cannot read, and 128 plus the signal's number when SIGINT or SIGTERM stops it.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/kratix-community/statestore-webhook/internal/check"
)

// version is stamped at build time with -ldflags "-X main.version=..."; when it is not,
// the build information gives it (check.Version).
var version string

func main() {
	opts := check.NewOptions()
	fs := pflag.NewFlagSet("statestore-check", pflag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: statestore-check [flags] <file|directory|->...\n\nFlags:\n%s", fs.FlagUsages())
	}
	opts.AddFlags(fs)
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			os.Exit(check.ExitValid)
		}
		// pflag prints nothing itself when it continues on error.
		fmt.Fprintln(os.Stderr, "error:", err)
		fs.Usage()
		os.Exit(check.ExitUsage)
	}
	if opts.PrintVersion {
		fmt.Println(check.Version(version))
		return
	}
	ctx, stop := check.SignalContext(context.Background())
	code := check.Run(ctx, opts, fs.Args(), os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
