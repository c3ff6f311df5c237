// Command webhook serves the defaulting and validating admission webhooks for Kratix
// BucketStateStores.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"
	ctrl "sigs.k8s.io/controller-runtime"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	opts := NewOptions()
	fs := pflag.NewFlagSet("webhook", pflag.ExitOnError)
	opts.AddFlags(fs)
	_ = fs.Parse(os.Args[1:])
	if opts.PrintVersion {
		fmt.Println(version)
		return
	}
	if err := run(ctrl.SetupSignalHandler(), opts); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
