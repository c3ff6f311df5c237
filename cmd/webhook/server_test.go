package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// testWebhook is the webhook served by run, as startWebhook starts it.
type testWebhook struct {
	// addr is host:port of the webhook server.
	addr string
	// roots trusts the serving certificate.
	roots *x509.CertPool
	// cert, when set, is the client certificate tlsConfig presents.
	cert *tls.Certificate
	// logs is what the webhook logged.
	logs *testkit.Buffer
	// stop cancels run's context and returns what run returned.
	stop func() error
}

// startWebhook calls run with args on top of settings for a test: a free port on
// 127.0.0.1, a certificate in t.TempDir(), a kubeconfig for an API server that is not
// there (the requests below never need one), no metrics or health servers and no probe.
// It returns once the server answers TLS handshakes; t.Cleanup stops it and checks that
// run returned nil.
func startWebhook(t *testing.T, args ...string) *testWebhook {
	t.Helper()
	return startWebhookAs(t, nil, args...)
}

// startWebhookAs is startWebhook for a webhook that requires client certificates: cert
// is the one its clients, and the wait until it serves, present.
func startWebhookAs(t *testing.T, cert *tls.Certificate, args ...string) *testWebhook {
	t.Helper()
	dir := t.TempDir()
	roots := writeServingCert(t, dir)
	kubeconfig := filepath.Join(dir, "kubeconfig")
	writeFile(t, kubeconfig, kubeconfigFor("https://127.0.0.1:1"))
	port := freePort(t)
	opts := NewOptions()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	opts.AddFlags(fs)
	base := []string{"--webhook-host=127.0.0.1", "--webhook-port=" + strconv.Itoa(port), "--cert-dir=" + dir,
		"--kubeconfig=" + kubeconfig, "--metrics-bind-address=0", "--health-probe-bind-address=0", "--probe=off"}
	if err := fs.Parse(append(base, args...)); err != nil {
		t.Fatal(err)
	}
	logs := &testkit.Buffer{}
	opts.Zap.DestWriter = logs

	// run sets controller-runtime's global logger, which is not safe to set from two
	// goroutines at once: parallel tests start their webhooks one at a time.
	startMu.Lock()
	defer startMu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, opts) }()
	var once sync.Once
	var runErr error
	w := &testWebhook{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), roots: roots, cert: cert, logs: logs, stop: func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(90 * time.Second):
				runErr = errors.New("run did not return within 90s of its context being cancelled")
			}
		})
		return runErr
	}}
	t.Cleanup(func() {
		if err := w.stop(); err != nil {
			t.Errorf("run returned %v", err)
		}
		if t.Failed() {
			t.Logf("webhook logs:\n%s", logs.String())
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := tls.Dial("tcp", w.addr, w.tlsConfig())
		if err == nil {
			_ = conn.Close()
			return w
		}
		select {
		case err := <-done:
			done <- err // for stop
			t.Fatalf("run returned before serving: %v\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the webhook does not serve within 30s: %v\n%s", err, logs.String())
		}
	}
}

// startMu serialises startWebhook.
var startMu sync.Mutex

// tlsConfig is a client configuration that trusts the webhook and speaks HTTP/1.1.
func (w *testWebhook) tlsConfig() *tls.Config {
	c := &tls.Config{RootCAs: w.roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	if w.cert != nil {
		c.Certificates = []tls.Certificate{*w.cert}
	}
	return c
}

// dial opens a TLS connection that must finish within 10s; the tests call that quickly.
func (w *testWebhook) dial(t *testing.T) *tls.Conn {
	t.Helper()
	conn, err := tls.Dial("tcp", w.addr, w.tlsConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return conn
}

// exchange sends head and body on a new connection and reads one response. The body is
// written from its own goroutine, because the server may answer before it has read it all;
// a write error after that is expected and ignored.
func (w *testWebhook) exchange(t *testing.T, head string, body io.Reader) *http.Response {
	t.Helper()
	conn := w.dial(t)
	go func() {
		if _, err := io.WriteString(conn, head); err == nil && body != nil {
			_, _ = io.Copy(conn, body)
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer within 10s: %v", err)
	}
	return resp
}

// requestHead is an HTTP/1.1 request line and headers; contentLength -1 sends the body
// chunked.
func requestHead(method, path, contentType string, contentLength int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n", method, path)
	if contentType != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", contentType)
	}
	if contentLength < 0 {
		b.WriteString("Transfer-Encoding: chunked\r\n")
	} else {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", contentLength)
	}
	b.WriteString("\r\n")
	return b.String()
}

// storeReview is an AdmissionReview for a CREATE of a valid IAM store: the mutating
// webhook defaults it and the validating webhook admits it with --probe=off, without a
// Secret or an API server.
func storeReview(t *testing.T) []byte {
	t.Helper()
	return review(t, "uid-store", `{"apiVersion":"platform.kratix.io/v1alpha1","kind":"BucketStateStore","metadata":{"name":"s"},`+
		`"spec":{"bucketName":"kratix","endpoint":"s3.eu-west-2.amazonaws.com","authMethod":"IAM"}}`)
}

// defaulted and admitted are the mutating and the validating webhook's answers to
// storeReview.
var (
	defaulted = answer{HTTPStatus: 200, APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview", UID: "uid-store", Allowed: true, Code: 200,
		Patch: `[{"op":"add","path":"/spec/insecure","value":false}]`}
	admitted = answer{HTTPStatus: 200, APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview", UID: "uid-store", Allowed: true, Code: 200}
)

// review is the AdmissionReview the API server sends for a CREATE of a store, object.
func review(t *testing.T, uid, object string) []byte {
	t.Helper()
	b, err := testkit.Review{UID: types.UID(uid), Operation: admissionv1.Create, Object: []byte(object)}.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// answer is what the tests check of a webhook's answer.
type answer struct {
	HTTPStatus int
	APIVersion string
	Kind       string
	UID        string
	Allowed    bool
	Code       int32
	Message    string
	Patch      string
}

// readAnswer reads an AdmissionReview answer; an answer that is not one comes back with
// its body as the message.
func readAnswer(t *testing.T, resp *http.Response) answer {
	t.Helper()
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return parseAnswer(resp.StatusCode, body)
}

// parseAnswer is readAnswer for a status and body already read.
func parseAnswer(status int, body []byte) answer {
	a := answer{HTTPStatus: status}
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &ar); err != nil || ar.Response == nil {
		a.Message = string(body)
		return a
	}
	a.APIVersion, a.Kind = ar.APIVersion, ar.Kind
	a.UID, a.Allowed, a.Patch = string(ar.Response.UID), ar.Response.Allowed, string(ar.Response.Patch)
	if r := ar.Response.Result; r != nil {
		a.Code, a.Message = r.Code, r.Message
	}
	return a
}

// freePort returns a port that was free a moment ago. --webhook-port refuses 0.
func freePort(t *testing.T) int {
	t.Helper()
	port, err := testkit.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// writeServingCert writes a CA-signed certificate for 127.0.0.1 to dir/tls.crt and
// dir/tls.key and returns a pool holding the CA.
func writeServingCert(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	ca, err := testkit.NewCA(dir)
	if err == nil {
		err = ca.WriteServingCert(dir, "tls.crt", "tls.key")
	}
	if err != nil {
		t.Fatal(err)
	}
	return ca.Pool()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
