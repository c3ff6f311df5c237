package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestOptionsValidate(t *testing.T) {
	tests := map[string]struct {
		args    []string
		wantErr []string
	}{
		"the defaults are valid": {},
		"every flag can be set": {
			args: []string{"--webhook-host=127.0.0.1", "--webhook-port=10443", "--tls-min-version=1.3", "--probe=warn",
				"--client-ca-file=/etc/client-ca/ca.crt", "--client-cert-names=kube-apiserver",
				"--probe-timeout=2s", "--probe-cache-ttl=0", "--deny-cidrs=10.0.0.0/8,fd00::/8", "--allow-endpoints=s3.amazonaws.com,127.0.0.0/8",
				"--subject-access-review=false", "--max-concurrent-probes=4", "--probe-via-proxy", "--secret-namespaces=kratix-credentials,platform", "--zap-log-level=debug",
				"--iam-endpoints=minio.example.com,10.0.0.0/8", "--iam-untrusted-endpoints=deny", "--allow-control-plane",
				"--max-connections=64", "--max-handshakes=16", "--handshake-timeout=2s", "--idle-timeout=30s",
				"--cert-manager-certificate=platform/webhook-serving", "--validating-webhook-configuration=v", "--mutating-webhook-configuration=m"},
		},
		"a Certificate without its namespace is refused, with an example": {
			args:    []string{"--cert-manager-certificate=statestore-webhook-serving"},
			wantErr: []string{`--cert-manager-certificate must be namespace/name, such as statestore-webhook-system/statestore-webhook-serving, not "statestore-webhook-serving"`},
		},
		"a Certificate left as an unexpanded $(POD_NAMESPACE) is refused": {
			args:    []string{"--cert-manager-certificate=$(POD_NAMESPACE)/statestore-webhook-serving"},
			wantErr: []string{`--cert-manager-certificate must be namespace/name, such as statestore-webhook-system/statestore-webhook-serving, not "$(POD_NAMESPACE)/statestore-webhook-serving"`},
		},
		"configurations to delete without the Certificate that decides are refused": {
			args: []string{"--validating-webhook-configuration=v", "--mutating-webhook-configuration=m"},
			wantErr: []string{
				"--mutating-webhook-configuration needs --cert-manager-certificate: the webhook deletes the configuration only when that Certificate cannot issue its certificate",
				"--validating-webhook-configuration needs --cert-manager-certificate: the webhook deletes the configuration only when that Certificate cannot issue its certificate",
			},
		},
		"one configuration without the other is refused": {
			args:    []string{"--cert-manager-certificate=ns/c", "--validating-webhook-configuration=v"},
			wantErr: []string{"--validating-webhook-configuration and --mutating-webhook-configuration go together: an install has both"},
		},
		"an IAM policy that is neither admit nor deny is refused": {
			args:    []string{"--iam-untrusted-endpoints=warn"},
			wantErr: []string{`--iam-untrusted-endpoints must be admit or deny, not "warn"`},
		},
		"IAM endpoints with a scheme are refused": {
			args:    []string{"--iam-endpoints=https://minio.example.com"},
			wantErr: []string{`--iam-endpoints: entry "https://minio.example.com" is neither a host name nor a CIDR`},
		},
		"client certificate names without a client CA are refused": {
			args:    []string{"--client-cert-names=kube-apiserver"},
			wantErr: []string{"--client-cert-names needs --client-ca-file"},
		},
		"a client CA without client certificate names is refused, with the fix": {
			args:    []string{"--client-ca-file=/etc/client-ca/ca.crt"},
			wantErr: []string{"--client-ca-file needs --client-cert-names: without names any certificate the CA signed is let in (a kubelet's, if it is the cluster's CA); name the API server's client certificate, e.g. --client-cert-names=kube-apiserver-webhook-client"},
		},
		"connection limits that would serve nothing are refused": {
			args: []string{"--max-connections=0", "--max-handshakes=0", "--handshake-timeout=0", "--idle-timeout=-1s"},
			wantErr: []string{
				"--max-connections must be at least 1, not 0",
				"--max-handshakes must be at least 1, not 0",
				"--handshake-timeout must be more than 0, not 0s",
				"--idle-timeout must be more than 0, not -1s",
			},
		},
		"a secret namespace that cannot be a namespace is refused": {
			args:    []string{"--secret-namespaces=platform,Kratix_Creds"},
			wantErr: []string{`--secret-namespaces: "Kratix_Creds" is not a namespace name: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`},
		},
		"TLS 1.1 is refused": {
			args:    []string{"--tls-min-version=1.1"},
			wantErr: []string{`--tls-min-version must be 1.2 or 1.3, not "1.1"`},
		},
		"an unknown probe mode is refused": {
			args:    []string{"--probe=sometimes"},
			wantErr: []string{`--probe must be one of [enforce warn off], not "sometimes"`},
		},
		"a probe budget the API server would not wait for is refused": {
			args:    []string{"--probe-timeout=40s"},
			wantErr: []string{"--probe-timeout must be more than 0 and at most 25s (the API server waits 30s at most), not 40s"},
		},
		"no probe slot at all is refused": {
			args:    []string{"--max-concurrent-probes=0"},
			wantErr: []string{"--max-concurrent-probes must be at least 1, not 0"},
		},
		"all problems are reported at once": {
			args: []string{"--webhook-port=0", "--probe-cache-ttl=-1s", "--deny-cidrs=not-a-cidr"},
			wantErr: []string{
				"--webhook-port must be from 1 to 65535, not 0",
				"--probe-cache-ttl must not be negative, not -1s",
				`--deny-cidrs: "not-a-cidr" is not a CIDR`,
			},
		},
		"an invalid allowlist is reported with the other problems": {
			args: []string{"--webhook-port=0", "--allow-endpoints=s3.example.com/x"},
			wantErr: []string{
				"--webhook-port must be from 1 to 65535, not 0",
				`--allow-endpoints: entry "s3.example.com/x" is neither a host name nor a CIDR`,
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			opts := NewOptions()
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			opts.AddFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatalf("parse: %v", err)
			}
			err := opts.Validate()
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.wantErr)
			}
			if got := strings.Split(err.Error(), "\n"); strings.Join(got, "|") != strings.Join(tc.wantErr, "|") {
				t.Fatalf("errors = %q, want %q", got, tc.wantErr)
			}
		})
	}
}

func TestControlPlane(t *testing.T) {
	tests := map[string]struct {
		serviceHost string
		apiServer   string
		want        []string
	}{
		"in a pod, the kubernetes Service's address is refused on every port": {
			serviceHost: "10.96.0.1",
			apiServer:   "https://10.96.0.1:443",
			want:        []string{"10.96.0.1:0", "10.96.0.1:443"},
		},
		"outside a cluster, only the API server's port on its address": {
			apiServer: "https://127.0.0.1:6443",
			want:      []string{"127.0.0.1:6443"},
		},
		"a server without a port is reached at HTTPS's": {
			apiServer: "https://192.0.2.1",
			want:      []string{"192.0.2.1:443"},
		},
		"a server without a scheme is reached over HTTPS": {
			apiServer: "[2001:db8::1]:6443",
			want:      []string{"[2001:db8::1]:6443"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Setenv("KUBERNETES_SERVICE_HOST", tc.serviceHost)
			got, err := controlPlane(context.Background(), tc.apiServer)
			if err != nil {
				t.Fatal(err)
			}
			var shown []string
			for _, ap := range got {
				shown = append(shown, ap.String())
			}
			if strings.Join(shown, " ") != strings.Join(tc.want, " ") {
				t.Errorf("got %q, want %q", shown, tc.want)
			}
		})
	}
}

func TestNewOptionsDefaults(t *testing.T) {
	o := NewOptions()
	if o.WebhookPort != 9443 || o.Probe.Timeout != 5*time.Second || o.ProbeCacheTTL != time.Minute ||
		o.ProbeMode != "enforce" || o.TLSMinVersion != "1.2" || !o.AccessReview || o.MaxProbes != 32 || o.ProbeViaProxy {
		t.Fatalf("defaults changed: %+v", o)
	}
}

// TestRunStopsOnAnUnusableTrustBundle shows that a trust bundle the probe cannot use
// stops the webhook at start-up, before it needs a cluster, instead of being ignored:
// every store signed by the missing CA would otherwise be denied as untrusted.
func TestRunStopsOnAnUnusableTrustBundle(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not-pem.crt")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.crt")
	for name, tc := range map[string]struct {
		file    string
		wantErr string
	}{
		"a file that does not exist": {
			file:    missing,
			wantErr: "SSL_CERT_FILE: cannot read the probe's trust bundle: open " + missing + ": no such file or directory; mount it there or unset SSL_CERT_FILE",
		},
		"a file without a PEM certificate": {
			file:    notPEM,
			wantErr: "SSL_CERT_FILE: " + notPEM + " holds no PEM certificate; give it the CA bundle the probe should trust or unset SSL_CERT_FILE",
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("SSL_CERT_FILE", tc.file)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			err := run(ctx, NewOptions())
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("run = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
