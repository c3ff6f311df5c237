package localenv

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// WebhookOptions configures StartWebhook.
type WebhookOptions struct {
	// Binary is the webhook binary, from BuildWebhook.
	Binary string
	// CertDir holds tls.crt and tls.key for 127.0.0.1.
	CertDir string
	// Kubeconfig is the file the webhook reads Secrets and makes SubjectAccessReviews with.
	Kubeconfig string
	// CA is trusted by the webhook through SSL_CERT_FILE (it signed MinIO's certificate)
	// and by the readiness check.
	CA *CA
	// ClientCA, when set, makes the webhook require a client certificate it signed that
	// carries ClientName (--client-ca-file, --client-cert-names); the readiness check
	// and TLSConfig present one.
	ClientCA   *CA
	ClientName string
	// Port, HealthPort and MetricsPort are the ports to listen on; 0 picks a free one.
	Port, HealthPort, MetricsPort int
	// ServerName is the name the readiness check verifies the serving certificate
	// for, as the API server does for a webhook registered by Service; empty means
	// 127.0.0.1.
	ServerName string
	// Args are appended to the flags StartWebhook sets; a repeated flag's last value wins.
	Args []string
	// Env is added to the webhook's environment, which is this process's without
	// AWS_* variables, so the IAM credential chain only sees what a test gives it.
	Env []string
	// Output, when set, also receives the webhook's stdout and stderr.
	Output io.Writer
	// WaitingForCert says CertDir is empty on purpose and the webhook waits for its
	// certificate (--cert-manager-certificate): StartWebhook then waits until /healthz
	// answers 200 and checks that /readyz does not.
	WaitingForCert bool
}

// Webhook is a running webhook binary.
type Webhook struct {
	// Port is the HTTPS port the API server calls.
	Port int
	// HealthAddr and MetricsAddr are host:port of the health probes and metrics.
	HealthAddr, MetricsAddr string
	// Args are the arguments the binary was started with.
	Args []string
	// Output holds everything the webhook wrote to stdout and stderr.
	Output *LogBuffer

	opts WebhookOptions // as started, with the ports filled in
	proc *process
}

// StartWebhook starts the webhook binary on 127.0.0.1 and waits until /readyz answers
// 200 and its HTTPS port completes a TLS handshake.
func StartWebhook(ctx context.Context, opts WebhookOptions) (_ *Webhook, retErr error) {
	for _, p := range []*int{&opts.Port, &opts.HealthPort, &opts.MetricsPort} {
		if *p != 0 {
			continue
		}
		port, err := testkit.FreePort()
		if err != nil {
			return nil, err
		}
		*p = port
	}
	w := &Webhook{
		Port:        opts.Port,
		HealthAddr:  net.JoinHostPort("127.0.0.1", strconv.Itoa(opts.HealthPort)),
		MetricsAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(opts.MetricsPort)),
		opts:        opts,
	}
	w.Args = []string{
		"--webhook-host=127.0.0.1",
		"--webhook-port=" + strconv.Itoa(opts.Port),
		"--cert-dir=" + opts.CertDir,
		"--health-probe-bind-address=" + w.HealthAddr,
		"--metrics-bind-address=" + w.MetricsAddr,
		"--kubeconfig=" + opts.Kubeconfig,
	}
	if opts.ClientCA != nil {
		w.Args = append(w.Args, "--client-ca-file="+opts.ClientCA.CertFile, "--client-cert-names="+opts.ClientName)
	}
	w.Args = append(w.Args, opts.Args...)
	env := inheritEnv([]string{"AWS_", "SSL_CERT_"}, append([]string{"SSL_CERT_FILE=" + opts.CA.CertFile}, opts.Env...)...)
	var err error
	w.proc, err = startProcess("webhook", opts.Binary, w.Args, env, opts.Output)
	if err != nil {
		return nil, err
	}
	w.Output = w.proc.out
	defer func() {
		if retErr != nil {
			_ = w.Stop()
		}
	}()

	tlsConfig, err := w.TLSConfig()
	if err != nil {
		return nil, err
	}
	err = poll(ctx, 30*time.Second, 100*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		if done, _ := w.proc.exited(); done {
			return false, "", fmt.Errorf("%s", w.proc.describeExit())
		}
		if opts.WaitingForCert {
			return w.waitingForCert(ctx)
		}
		code, body, err := get(ctx, "http://"+w.HealthAddr+"/readyz?verbose")
		if err != nil {
			return false, "GET /readyz: " + err.Error(), nil
		}
		if code != http.StatusOK {
			return false, fmt.Sprintf("GET /readyz?verbose: HTTP %d: %s", code, body), nil
		}
		d := tls.Dialer{Config: tlsConfig}
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(w.Port)))
		if err != nil {
			return false, "TLS handshake with the webhook port: " + err.Error(), nil
		}
		conn.Close()
		return true, "", nil
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for the webhook (%s %v): %w\nits output:\n%s", opts.Binary, w.Args, err, w.Output.excerpt(2000))
	}
	return w, nil
}

// waitingForCert is StartWebhook's check for a webhook without its certificate: alive,
// and not ready.
func (w *Webhook) waitingForCert(ctx context.Context) (bool, string, error) {
	code, body, err := get(ctx, "http://"+w.HealthAddr+"/healthz")
	if err != nil || code != http.StatusOK {
		return false, fmt.Sprintf("GET /healthz: HTTP %d, %v: %s", code, err, body), nil
	}
	code, body, err = get(ctx, "http://"+w.HealthAddr+"/readyz?verbose")
	if err != nil {
		return false, "GET /readyz: " + err.Error(), nil
	}
	if code == http.StatusOK {
		return false, "", fmt.Errorf("/readyz answers 200 with no certificate in %s: %s", w.opts.CertDir, body)
	}
	return true, "", nil
}

// URL returns the HTTPS URL of path on the webhook server.
func (w *Webhook) URL(path string) string {
	return "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(w.Port)) + path
}

// Terminate sends SIGTERM, as the kubelet does, and waits up to timeout for the webhook
// to exit. It returns the exit code.
func (w *Webhook) Terminate(timeout time.Duration) (int, error) {
	if err := w.proc.signal(syscall.SIGTERM); err != nil {
		return -1, fmt.Errorf("sending SIGTERM to the webhook: %w", err)
	}
	if err := w.proc.wait(timeout); err != nil {
		return -1, err
	}
	return w.proc.exitCode(), nil
}

// PID is the webhook process's id.
func (w *Webhook) PID() int {
	return w.proc.cmd.Process.Pid
}

// CertDir is the directory the webhook reads its serving certificate from; writing a
// new tls.crt and tls.key there rotates it.
func (w *Webhook) CertDir() string {
	return w.opts.CertDir
}

// Exited reports whether the webhook has ended and, if so, its exit code.
func (w *Webhook) Exited() (bool, int) {
	done, _ := w.proc.exited()
	return done, w.proc.exitCode()
}

// Stop ends the webhook (SIGTERM, then SIGKILL after 10 seconds) if it still runs.
func (w *Webhook) Stop() error {
	return w.proc.stop(10 * time.Second)
}

// Metrics returns the text the metrics server serves at /metrics.
func (w *Webhook) Metrics(ctx context.Context) (string, error) {
	code, body, err := get(ctx, "http://"+w.MetricsAddr+"/metrics")
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("GET /metrics on the webhook: HTTP %d: %s", code, body)
	}
	return body, err
}

// Health returns the status code of path (/healthz or /readyz) on the health server.
func (w *Webhook) Health(ctx context.Context, path string) (int, error) {
	code, _, err := get(ctx, "http://"+w.HealthAddr+path)
	return code, err
}

func get(ctx context.Context, url string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}
