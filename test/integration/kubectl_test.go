package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// kubectlResult is what a kubectl run printed and how it exited.
type kubectlResult = testkit.CommandResult

// kubectl runs the real kubectl as the cluster administrator with stdin as its input
// ("" for none). A kubectl that cannot be started or runs over a minute fails the test;
// a non-zero exit does not.
func kubectl(t *testing.T, stdin string, args ...string) kubectlResult {
	t.Helper()
	return kubectlAs(t, env.Kube.KubeconfigPath, stdin, args...)
}

// kubectlAs is kubectl with another user's kubeconfig (see localenv.Kube.AddUser).
func kubectlAs(t *testing.T, kubeconfig, stdin string, args ...string) kubectlResult {
	t.Helper()
	res, err := testkit.RunCommand("", stdin, time.Minute, env.Kube.KubectlPath, append([]string{"--kubeconfig=" + kubeconfig}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	transcript.record(res.Stdout, res.Stderr)
	t.Logf("kubectl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), res.Exit, res.Stdout, res.Stderr)
	return res
}

// transcript keeps everything kubectl printed and every answer the load tests got, for
// the search for leaked secrets.
var transcript recorder

// recorder collects text from concurrent writers.
type recorder struct{ testkit.Buffer }

// record appends texts, each on a line of its own, in one write.
func (r *recorder) record(texts ...string) {
	var b strings.Builder
	for _, s := range texts {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	_, _ = r.Write([]byte(b.String()))
}
