// Package examples proves that the files in examples/ do what their headers promise,
// applied with the real kubectl exactly as `make run` prints the command, against the
// environment `make run` starts: both come from internal/demo.
//
// The examples name MinIO and the Git servers at fixed addresses (127.0.0.1:9000,
// 127.0.0.1:9443, 127.0.0.1:8443 and 127.0.0.1:2222), and this suite runs the demo on
// those very ports so that it proves the files as they are, rather than copies with the
// endpoint or url rewritten. Fixed ports are shared by the whole
// machine, so demo.Start takes a lock per port: a second demo on the same machine, such
// as a `make run` in another terminal or a concurrent run of this suite, makes this one
// wait (up to lockWait) and then fail, saying which process holds the port. The other
// packages under test/ only use ports the kernel picks from the ephemeral range, which
// never includes these four, so `go test ./test/...` running packages in parallel is safe.
package examples

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kratix-community/statestore-webhook/internal/demo"

	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// lockWait is how long the suite waits for another demo to free the examples' ports.
const lockWait = 5 * time.Minute

// env is the demo every test shares, as `make run` starts it.
var env *demo.Demo

func TestMain(m *testing.M) {
	// envtest logs through controller-runtime; without a logger it prints a warning
	// instead of its messages.
	ctrllog.SetLogger(funcr.New(func(prefix, args string) { fmt.Fprintln(os.Stderr, prefix, args) }, funcr.Options{}))
	suite := testkit.Suite{
		Name: "demo environment of `make run`",
		Start: func(ctx context.Context) (err error) {
			env, err = demo.Start(ctx, demo.Options{LockWait: lockWait, Progress: os.Stderr})
			return err
		},
		Stop: func() error { return env.Stop() },
	}
	os.Exit(suite.Run(m.Run))
}
