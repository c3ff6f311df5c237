package localenv

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// CheckRun is what one run of statestore-check printed and how it exited.
type CheckRun = testkit.CommandResult

// checkBinary is statestore-check built once per environment.
type checkBinary struct {
	once sync.Once
	path string
	err  error
}

// RunCheck runs the statestore-check binary built from this module on input as
// standard input, with -o json and args, in the environment the webhook gets: trusting
// the CA that signed MinIO's certificate and without AWS_ variables. It decodes the JSON
// result into result (a *check.Result: this package cannot import internal/check, which
// imports pkg/probe, whose tests import this package). A run that cannot start, or
// prints no JSON result, is an error; a non-zero exit is not.
func (e *Env) RunCheck(ctx context.Context, input string, result any, args ...string) (CheckRun, error) {
	e.check.once.Do(func() {
		e.check.path, e.check.err = BuildCommand(ctx, e.Root, e.WorkDir, "statestore-check")
	})
	if e.check.err != nil {
		return CheckRun{}, e.check.err
	}
	cmd := exec.CommandContext(ctx, e.check.path, append(append([]string{"-o", "json"}, args...), "-")...)
	cmd.Env = inheritEnv([]string{"AWS_", "SSL_CERT_"}, "SSL_CERT_FILE="+e.CA.CertFile)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	run, err := testkit.Run(ctx, cmd, input)
	if err != nil {
		return run, err
	}
	if err := json.Unmarshal([]byte(run.Stdout), result); err != nil {
		return run, fmt.Errorf("statestore-check exited %d without a JSON result (%v); stdout: %s; stderr: %s", run.Exit, err, run.Stdout, run.Stderr)
	}
	return run, nil
}

// SecretManifests returns the Secrets in namespace as manifests: the input from which
// statestore-check learns the Secrets the webhook reads. They hold the Secrets'
// values; do not log them.
func (e *Env) SecretManifests(ctx context.Context, namespace string) (string, error) {
	var list corev1.SecretList
	if err := e.Client.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return "", err
	}
	docs := make([]string, 0, len(list.Items))
	for _, s := range list.Items {
		m := corev1.Secret{Data: s.Data}
		m.APIVersion, m.Kind = "v1", "Secret"
		m.Name, m.Namespace = s.Name, s.Namespace
		b, err := yaml.Marshal(m)
		if err != nil {
			return "", err
		}
		docs = append(docs, string(b))
	}
	return strings.Join(docs, "---\n"), nil
}

// KubectlWarnings returns the warnings kubectl printed on stderr, without their
// "Warning: " prefix.
func KubectlWarnings(stderr string) []string {
	var ws []string
	for _, line := range strings.Split(stderr, "\n") {
		if w, ok := strings.CutPrefix(line, "Warning: "); ok {
			ws = append(ws, w)
		}
	}
	return ws
}

var kubectlInvalid = regexp.MustCompile(`(?m)^The [A-Za-z.]+ "[^"]*" is invalid: (.*)$`)

// KubectlCauses returns the causes of a 422 answer, the webhook's or the API server's
// own, as kubectl apply prints them on stderr: `The <Kind> "<name>" is invalid: <cause>`,
// or for several causes that line empty and one `* <cause>` line each after it. A cause
// reads `<field>: <message>`. ok is false when stderr holds no such answer.
func KubectlCauses(stderr string) (causes []string, ok bool) {
	loc := kubectlInvalid.FindStringSubmatchIndex(stderr)
	if loc == nil {
		return nil, false
	}
	if first := strings.TrimSpace(stderr[loc[2]:loc[3]]); first != "" {
		return []string{first}, true
	}
	for _, line := range strings.Split(stderr[loc[1]:], "\n")[1:] {
		cause, ok := strings.CutPrefix(line, "* ")
		if !ok {
			break
		}
		causes = append(causes, cause)
	}
	return causes, true
}
