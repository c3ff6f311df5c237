// Command run is `make run`: it starts a kube-apiserver, MinIO (or with --s3=seaweedfs
// SeaweedFS, Kratix's quickstart backend), Git servers and the webhook on this machine
// (internal/demo), prints the kubectl command lines that apply the examples, and keeps
// everything running until SIGINT or SIGTERM, when it stops all of it and exits 0.
//
// The examples name the S3 server at 127.0.0.1:9000 (plain HTTP) and 127.0.0.1:9443
// (HTTPS), and the Git repository at https://127.0.0.1:8443/kratix.git and
// ssh://git@127.0.0.1:2222/kratix.git; --http-port, --https-port, --git-https-port and
// --git-ssh-port move those, and then the examples' endpoint or url must be edited to
// match. The Secrets whose keys the demo generates are written to .run/secrets.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/kratix-community/statestore-webhook/internal/demo"
	"github.com/kratix-community/statestore-webhook/internal/localenv"
)

// options are the command's flags.
type options struct {
	httpPort, httpsPort, imdsPort int
	gitHTTPSPort, gitSSHPort      int
	webhookLog, backend           string
}

func (o *options) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.backend, "s3", demo.BackendMinIO, fmt.Sprintf("the S3 server the demo runs on, one of %v; seaweedfs is Kratix's quickstart backend (built on first use)", demo.Backends))
	fs.IntVar(&o.httpPort, "http-port", demo.DefaultHTTPPort, "port on 127.0.0.1 that serves the S3 server as plain HTTP; the examples with insecure: true name 9000")
	fs.IntVar(&o.httpsPort, "https-port", demo.DefaultHTTPSPort, "port on 127.0.0.1 that serves the S3 server with TLS; the other examples name 9443")
	fs.IntVar(&o.gitHTTPSPort, "git-https-port", demo.DefaultGitHTTPSPort, "port on 127.0.0.1 that serves the Git repository over HTTPS; the Git examples name 8443")
	fs.IntVar(&o.gitSSHPort, "git-ssh-port", demo.DefaultGitSSHPort, "port on 127.0.0.1 that serves the Git repository over SSH; the ssh example's Secret names 2222")
	fs.IntVar(&o.imdsPort, "imds-port", 0, "port on 127.0.0.1 of the instance metadata stand-in for authMethod IAM; 0 picks a free one")
	fs.StringVar(&o.webhookLog, "webhook-log", "", `file the webhook's log is written to (truncated at start); "-" is stderr; default .run/webhook.log in the module`)
}

func main() {
	var opts options
	fs := pflag.NewFlagSet("run", pflag.ExitOnError)
	opts.addFlags(fs)
	_ = fs.Parse(os.Args[1:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// run starts the demo, prints how to use it to out and progress to errOut, and stops
// the demo when ctx ends. An interruption, during the start-up as well, is not an error.
func run(ctx context.Context, opts options, out, errOut io.Writer) error {
	root, err := localenv.ModuleRoot(".")
	if err != nil {
		return err
	}
	logPath, logFile, err := openWebhookLog(root, opts.webhookLog)
	if err != nil {
		return err
	}
	var webhookOutput io.Writer = errOut
	if logFile != nil {
		defer logFile.Close()
		webhookOutput = logFile
	}

	d, err := demo.Start(ctx, demo.Options{
		Dir:           root,
		HTTPPort:      opts.httpPort,
		HTTPSPort:     opts.httpsPort,
		GitHTTPSPort:  opts.gitHTTPSPort,
		GitSSHPort:    opts.gitSSHPort,
		SecretsDir:    filepath.Join(root, ".run", "secrets"),
		IMDSPort:      opts.imdsPort,
		Backend:       opts.backend,
		Progress:      errOut,
		WebhookOutput: webhookOutput,
	})
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(errOut, "interrupted during the start-up; everything started is stopped")
			return nil
		}
		return err
	}
	defer func() {
		fmt.Fprintf(errOut, "stopping the webhook, %s, the Git servers, kube-apiserver and etcd\n", d.S3.Name())
		if err := d.Stop(); err != nil {
			fmt.Fprintln(errOut, "error while stopping:", err)
		}
		fmt.Fprintln(errOut, "stopped")
	}()
	if err := printUsage(out, root, logPath, d); err != nil {
		return err
	}

	// The webhook ending on its own is an error: the API server could no longer admit
	// any store.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(errOut)
			return nil
		case <-tick.C:
			if exited, code := d.Env.Webhook.Exited(); exited {
				return fmt.Errorf("the webhook exited with code %d; its log is in %s", code, logPath)
			}
		}
	}
}

// openWebhookLog opens the log file flag names; "-" means the progress stream.
func openWebhookLog(root, flagValue string) (string, *os.File, error) {
	switch flagValue {
	case "-":
		return "stderr", nil, nil
	case "":
		flagValue = filepath.Join(root, ".run", "webhook.log")
	}
	path, err := filepath.Abs(flagValue)
	if err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return "", nil, fmt.Errorf("opening the webhook log: %w", err)
	}
	return path, f, nil
}

func printUsage(out io.Writer, root, logPath string, d *demo.Demo) error {
	examples, err := d.Examples()
	if err != nil {
		return err
	}
	env := d.Env
	p := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	p("")
	p("The webhook is registered with the API server. From %s, apply the examples with", root)
	p("the kubectl built for this API server (each file's header says what the webhook answers):")
	p("")
	for _, file := range examples {
		p("  %s", d.ApplyLine(file))
	}
	p("")
	p("Or: export KUBECONFIG=%s and use %s", env.Kube.KubeconfigPath, env.Kube.KubectlPath)
	p("")
	p("%-17shttp://%s (for insecure: true) and https://%s (CA %s)", d.S3.Name()+" (S3):", d.HTTPEndpoint, d.HTTPSEndpoint, env.CA.CertFile)
	p("                 bucket %s; access key %s, secret key %s, also in Secret %s/%s", demo.Bucket, demo.AccessKeyID, demo.SecretAccessKey, demo.SecretNamespace, demo.SecretName)
	p("authMethod IAM:  the webhook gets role %s's credentials from the metadata stand-in at %s (--iam-endpoint)", demo.Role, d.IMDS.URL)
	p("                 and lends them only to the S3 server's address (--iam-endpoints=127.0.0.1), over HTTPS")
	p("Git:             %s (CA %s) and %s, branch %s", d.GitHTTPSURL, env.CA.CertFile, d.GitSSHURL, demo.GitBranch)
	p("                 basicAuth: user %s, password %s, also in Secret %s/%s; user %s may only read", localenv.GitWriter.Name, localenv.GitWriter.Password, demo.SecretNamespace, demo.GitSecretName, localenv.GitReader.Name)
	p("                 ssh and githubApp: keys generated at this start, in Secrets that the examples name,")
	p("                 created already in %s and written to:", demo.SecretNamespace)
	for _, f := range d.SecretFiles {
		p("                   %s", f)
	}
	p("                 the webhook mints the App's tokens from the GitHub API stand-in at %s (--github-api-url)", d.GitHubAPIURL)
	p("Webhook logs:    %s", logPath)
	p("")
	p("Press Ctrl-C to stop everything.")
	return nil
}
