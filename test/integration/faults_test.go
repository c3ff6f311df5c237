package integration

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
)

// probeTimeout is the suite's --probe-timeout: short, so that the faults that run into
// it keep the suite quick, and far above what a probe of the local MinIO takes.
const probeTimeout = "3s"

// TestFaults puts a fault between the webhook and S3 and checks the verdict the user
// sees (TestProbeFaultMatrix has the faults that involve the S3 server's answers). Each is a denial with its reason, never an admission and never the API server's
// own timeout (which would say the webhook could not be called).
func TestFaults(t *testing.T) {
	stopped := stoppedMinIO(t)
	blackHole := blackHole(t)

	runScenarios(t, map[string]scenario{
		"a stopped MinIO is denied as refusing connections": {
			yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: ` + stopped + `
  secretRef:
    name: {{.Secret}}
`),
			wantExit:   1,
			wantStderr: []string{`spec.endpoint: Invalid value: "` + stopped + `"`, "(reason: ConnectionRefused)"},
		},
		"an endpoint that accepts connections and never answers is denied when the budget runs out": {
			yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: ` + blackHole + `
  secretRef:
    name: {{.Secret}}
`),
			wantExit:   1,
			wantStderr: []string{`spec.endpoint: Invalid value: "` + blackHole + `": timed out after ` + probeTimeout + `; check that the webhook can reach endpoint`, "(reason: Timeout)"},
		},
		"a host name that does not resolve is denied": {
			yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: kratix.invalid:9000
  secretRef:
    name: {{.Secret}}
`),
			wantExit:   1,
			wantStderr: []string{`spec.endpoint: Invalid value: "kratix.invalid:9000": host "kratix.invalid" of endpoint "kratix.invalid:9000" could not be resolved`, "(reason: NameNotResolved)"},
		},
	})
}

// TestEndpointGuard shows that the probe cannot be aimed at the cloud metadata service,
// however its address is written.
func TestEndpointGuard(t *testing.T) {
	scenarios := map[string]scenario{}
	for name, endpoint := range map[string]string{
		"the metadata address":                     "169.254.169.254",
		"the metadata address with a port":         "169.254.169.254:80",
		"the metadata address as IPv4-mapped IPv6": "[::ffff:169.254.169.254]:80",
		"the metadata address as a decimal number": "2852039166",
		"the metadata address in octal":            "0251.0376.0251.0376",
		"the AWS IPv6 metadata address":            "[fd00:ec2::254]",
		"a link-local address":                     "169.254.10.1:9000",
		"the GCP metadata name":                    "metadata.google.internal",
		"the unspecified address":                  "0.0.0.0:9000",
		"the IPv6 unspecified address":             "[::]:9000",
		"the EKS Pod Identity agent":               "[fd00:ec2::23]:80",
		"the Azure platform address":               "168.63.129.16",
		"a 6to4 spelling of the metadata address":  "[2002:a9fe:a9fe::1]:80",
		"the kubelet's port on loopback":           "127.0.0.1:10250",
		"etcd's port on loopback":                  "127.0.0.1:2379",
	} {
		scenarios[name+" is refused before any connection"] = scenario{
			yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: "` + endpoint + `"
  secretRef:
    name: {{.Secret}}
`),
			wantExit:   1,
			wantStderr: []string{`spec.endpoint: Invalid value: "` + endpoint + `": endpoint "`, "is refused", "; " + guardRule + " (reason: EndpointForbidden)"},
		}
	}
	scenarios["the GCP metadata name with a trailing dot is refused as no DNS name"] = scenario{
		yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: metadata.google.internal.
  secretRef:
    name: {{.Secret}}
`),
		wantExit:   1,
		wantStderr: []string{`spec.endpoint: Invalid value: "metadata.google.internal.": host must be a DNS name or an IP address`},
	}
	apiServer, err := url.Parse(env.Kube.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	scenarios["the API server the webhook uses is refused, at its port only"] = scenario{
		yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: "` + apiServer.Host + `"
  secretRef:
    name: {{.Secret}}
`),
		wantExit: 1,
		wantStderr: []string{`spec.endpoint: Invalid value: "` + apiServer.Host + `": endpoint "` + apiServer.Hostname() + `" is refused: ` +
			apiServer.Host + ` belongs to the cluster's control plane; ` + guardRule + ` (reason: EndpointForbidden)`},
	}
	const banner = "SSH-2.0-OpenSSH_9.6 banner-of-a-service-that-is-not-s3"
	bannerEndpoint := bannerService(t, banner+"\r\n")
	scenarios["a service that is not S3 gets a fixed answer that does not read out its banner"] = scenario{
		yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: ` + bannerEndpoint + `
  insecure: true
  secretRef:
    name: {{.Secret}}
`),
		wantExit: 1,
		wantStderr: []string{`spec.endpoint: Invalid value: "` + bannerEndpoint + `": "` + bannerEndpoint +
			`" did not answer as an S3 API; check that endpoint is the host and port of the S3 API (reason: NotS3)`},
		wantNotInStderr: []string{"banner-of-a-service"},
	}
	runScenarios(t, scenarios)
}

// guardRule ends every refusal of the endpoint guard.
const guardRule = "this is the webhook's endpoint guard, a security rule, not a store Kratix cannot use"

// TestEndpointGuardWithLoopbackDenied shows that denying loopback cannot be side-stepped
// through the unspecified addresses, which connect to the local host too. The local
// MinIO, on 127.0.0.1, is what they would reach.
func TestEndpointGuardWithLoopbackDenied(t *testing.T) {
	withWebhookFlags(t, "--deny-cidrs=127.0.0.0/8,::1/128")
	_, port, err := net.SplitHostPort(fixtures.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	scenarios := map[string]scenario{}
	for name, c := range map[string]struct{ endpoint, why string }{
		"MinIO itself":                                {fixtures.Endpoint, `endpoint "127.0.0.1" is refused: denied range 127.0.0.0/8`},
		"MinIO's port on 0.0.0.0":                     {"0.0.0.0:" + port, `endpoint "0.0.0.0" is refused: unspecified address 0.0.0.0/8 (connects to the local host)`},
		"MinIO's port on another 0.0.0.0/8":           {"0.1.2.3:" + port, `endpoint "0.1.2.3" is refused: unspecified address 0.0.0.0/8 (connects to the local host)`},
		"MinIO's port on ::":                          {"[::]:" + port, `endpoint "::" is refused: unspecified address :: (connects to the local host)`},
		"MinIO's port on an IPv4-compatible loopback": {"[::127.0.0.1]:" + port, `endpoint "::127.0.0.1" is refused: it reaches 127.0.0.1 through an IPv4-compatible address, denied range 127.0.0.0/8`},
	} {
		scenarios[name+" is refused"] = scenario{
			yaml: store(`
  bucketName: {{.Bucket}}
  endpoint: "` + c.endpoint + `"
  secretRef:
    name: {{.Secret}}
`),
			wantExit:   1,
			wantStderr: []string{`spec.endpoint: Invalid value: "` + c.endpoint + `": ` + c.why + `; ` + guardRule + ` (reason: EndpointForbidden)`},
		}
	}
	runScenarios(t, scenarios)
}

// bannerService returns a local endpoint that writes banner to every connection and
// closes it, as a service that is not S3 would.
func bannerService(t *testing.T, banner string) string {
	t.Helper()
	l := listen(t)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, banner)
			c.Close()
		}
	}()
	return l.Addr().String()
}

// stoppedMinIO starts a second MinIO, stops it and returns the endpoint it served.
func stoppedMinIO(t *testing.T) string {
	t.Helper()
	m, err := localenv.StartMinIO(context.Background(), localenv.MinIOOptions{
		Binary: filepath.Join(env.BinDir, "minio"),
		Dir:    t.TempDir(),
		CA:     env.CA,
	})
	if err != nil {
		t.Fatalf("starting a second MinIO: %v", err)
	}
	if err := m.Stop(); err != nil {
		t.Fatalf("stopping the second MinIO: %v", err)
	}
	return m.Endpoint
}

// blackHole returns the address of a localenv.BlackHole that lives until the test ends.
func blackHole(t *testing.T) string {
	t.Helper()
	return startBlackHole(t).Endpoint
}

// startBlackHole starts a localenv.BlackHole that lives until the test ends.
func startBlackHole(t *testing.T) *localenv.BlackHole {
	t.Helper()
	b, err := localenv.StartBlackHole()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// delayingProxy returns a local endpoint that forwards connections to target and holds
// back every piece of target's answers for delay. (Holding back only the first would
// let a connection whose TLS handshake finished late serve the next probe quickly: the
// HTTP transport keeps dials that outlive the request that started them.)
func delayingProxy(t *testing.T, target string, delay time.Duration) string {
	t.Helper()
	return forward(t, listen(t), target, delay)
}

// untrustedTLS returns a local endpoint that serves TLS with a certificate from a CA the
// webhook does not trust, and forwards the plain bytes to target.
func untrustedTLS(t *testing.T, target string) string {
	t.Helper()
	dir := t.TempDir()
	ca, err := localenv.NewCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteServingCert(dir, "tls.crt", "tls.key"); err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	return forward(t, tls.NewListener(listen(t), &tls.Config{Certificates: []tls.Certificate{cert}}), target, 0)
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// forward accepts connections on l until the test ends and copies each to and from
// target, each piece of the answers after delay.
func forward(t *testing.T, l net.Listener, target string, delay time.Duration) string {
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				upstream, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer upstream.Close()
				// Closing both ends when the test ends stops the copies.
				stop := context.AfterFunc(t.Context(), func() { c.Close(); upstream.Close() })
				defer stop()
				go func() { _, _ = io.Copy(upstream, c) }()
				buf := make([]byte, 32<<10)
				for {
					n, err := upstream.Read(buf)
					select {
					case <-time.After(delay):
					case <-t.Context().Done():
						return
					}
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
					if err != nil {
						return
					}
				}
			})
		}
	}()
	return l.Addr().String()
}
