package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kratix-community/statestore-webhook/internal/server"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// mainArgsEnv, when set, makes the test binary run main with its value, a JSON list, as
// arguments: TestMainFinishesInFlightRequestsAndExitsZeroOnSIGTERM runs the webhook as a
// process that way.
const mainArgsEnv = "BUCKETSTATESTORE_WEBHOOK_TEST_MAIN_ARGS"

func TestMain(m *testing.M) {
	if env, ok := os.LookupEnv(mainArgsEnv); ok {
		var args []string
		if err := json.Unmarshal([]byte(env), &args); err != nil {
			panic(err)
		}
		os.Args = append([]string{"webhook"}, args...)
		main() // exits 1 itself on an error
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// inFlight is a request that the webhook is handling: it has read the headers and asked
// for the body, which the client holds back.
type inFlight struct {
	conn *tls.Conn
	br   *bufio.Reader
	body []byte
}

// startRequest sends the headers of a POST of body with "Expect: 100-continue" and waits
// for the "100 Continue" that Go's server sends when the handler first reads the body.
func startRequest(t *testing.T, addr string, cfg *tls.Config, path string, body []byte) *inFlight {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	head := strings.Replace(requestHead("POST", path, "application/json", len(body)), "\r\n\r\n", "\r\nExpect: 100-continue\r\n\r\n", 1)
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusContinue {
		t.Fatalf("waiting for 100 Continue: %v %v", resp, err)
	}
	return &inFlight{conn: conn, br: br, body: body}
}

// finish sends the body and reads the answer.
func (r *inFlight) finish(t *testing.T) answer {
	t.Helper()
	if _, err := r.conn.Write(r.body); err != nil {
		t.Fatalf("sending the body: %v", err)
	}
	resp, err := http.ReadResponse(r.br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	return readAnswer(t, resp)
}

// waitRefused waits until addr refuses connections, which it does once shutdown has begun.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	if err := testkit.Poll(context.Background(), 10*time.Second, func(context.Context) (bool, error) {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return true, nil
		}
		_ = conn.Close()
		return false, nil
	}); err != nil {
		t.Fatalf("%s still takes connections 10s after shutdown began", addr)
	}
}

func TestRunFinishesInFlightRequestsWhenItsContextIsCancelled(t *testing.T) {
	t.Parallel()
	w := startWebhook(t)
	req := startRequest(t, w.addr, w.tlsConfig(), server.MutatePath, storeReview(t))

	stopped := make(chan error, 1)
	go func() { stopped <- w.stop() }()
	waitRefused(t, w.addr)
	if diff := cmp.Diff(defaulted, req.finish(t)); diff != "" {
		t.Fatalf("the in-flight request's answer (-want +got):\n%s", diff)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("run returned %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return within 30s of its last request being answered")
	}
}

func TestRunStopsWithinBodyTimeoutWhenAClientStallsItsBody(t *testing.T) {
	t.Parallel()
	w := startWebhook(t)
	req := startRequest(t, w.addr, w.tlsConfig(), server.MutatePath, storeReview(t))
	if _, err := req.conn.Write(req.body[:10]); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	if err := w.stop(); err != nil {
		t.Fatalf("run returned %v, want nil", err)
	}
	if elapsed := time.Since(start); elapsed > server.BodyTimeout+5*time.Second {
		t.Fatalf("run returned %s after its context was cancelled, want at most server.BodyTimeout (%s) and a little", elapsed, server.BodyTimeout)
	}
	resp, err := http.ReadResponse(req.br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	want := answer{HTTPStatus: 200, Code: 400, Message: fmt.Sprintf("read tcp %s->%s: i/o timeout", w.addr, req.conn.LocalAddr())}
	if diff := cmp.Diff(want, readAnswer(t, resp)); diff != "" {
		t.Fatalf("the stalled request's answer (-want +got):\n%s", diff)
	}
}

// TestRunFinishesInFlightValidationsWhenItsContextIsCancelled stops the webhook while a
// validation waits for the API server: the validation must still get its answer, not a
// cancelled context.
func TestRunFinishesInFlightValidationsWhenItsContextIsCancelled(t *testing.T) {
	t.Parallel()
	reviewing, release := make(chan struct{}), make(chan struct{})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/apis/authorization.k8s.io/v1/subjectaccessreviews":
			close(reviewing)
			<-release
			_, _ = io.WriteString(w, `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","status":{"allowed":true}}`)
		case "/api/v1/namespaces/default/secrets/creds":
			_, _ = io.WriteString(w, `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"creds","namespace":"default"},`+
				`"data":{"accessKeyID":"bWluaW8=","secretAccessKey":"c2VjcmV0"}}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer api.Close()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	writeFile(t, kubeconfig, kubeconfigFor(api.URL))
	w := startWebhook(t, "--kubeconfig="+kubeconfig)

	body := review(t, "uid-access-key", `{"spec":{"bucketName":"kratix","endpoint":"minio:9000","authMethod":"accessKey","insecure":false,"secretRef":{"name":"creds","namespace":"default"}}}`)
	conn, err := tls.Dial("tcp", w.addr, w.tlsConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, requestHead("POST", server.ValidatePath, "application/json", len(body))+string(body)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reviewing:
	case <-time.After(10 * time.Second):
		t.Fatal("the webhook did not ask the API server within 10s")
	}

	stopped := make(chan error, 1)
	go func() { stopped <- w.stop() }()
	waitRefused(t, w.addr)
	close(release)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	want := answer{HTTPStatus: 200, APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview", UID: "uid-access-key", Allowed: true, Code: 200}
	if diff := cmp.Diff(want, readAnswer(t, resp)); diff != "" {
		t.Fatalf("the in-flight validation's answer (-want +got):\n%s", diff)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("run returned %v, want nil", err)
	}
}

func TestMainFinishesInFlightRequestsAndExitsZeroOnSIGTERM(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	roots := writeServingCert(t, dir)
	kubeconfig := filepath.Join(dir, "kubeconfig")
	writeFile(t, kubeconfig, kubeconfigFor("https://127.0.0.1:1"))
	port := strconv.Itoa(freePort(t))
	args, err := json.Marshal([]string{"--webhook-host=127.0.0.1", "--webhook-port=" + port, "--cert-dir=" + dir, "--kubeconfig=" + kubeconfig,
		"--metrics-bind-address=0", "--health-probe-bind-address=0", "--probe=off"})
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), mainArgsEnv+"="+string(args))
	logs := &testkit.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // a no-op once it has exited
		if t.Failed() {
			t.Logf("webhook output:\n%s", logs.String())
		}
	})

	addr := net.JoinHostPort("127.0.0.1", port)
	cfg := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	var dialErr error
	if err := testkit.Poll(context.Background(), 60*time.Second, func(context.Context) (bool, error) {
		conn, err := tls.Dial("tcp", addr, cfg)
		if dialErr = err; err != nil {
			return false, nil
		}
		_ = conn.Close()
		return true, nil
	}); err != nil {
		t.Fatalf("the webhook does not serve within 60s: %v", dialErr)
	}
	req := startRequest(t, addr, cfg, server.MutatePath, storeReview(t))

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitRefused(t, addr)
	if diff := cmp.Diff(defaulted, req.finish(t)); diff != "" {
		t.Fatalf("the in-flight request's answer (-want +got):\n%s", diff)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the webhook exited with %v, want status 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the webhook did not exit within 30s of its last request being answered")
	}
}

// kubeconfigFor is a kubeconfig for an API server at url.
func kubeconfigFor(url string) string {
	return `apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "` + url + `"}}]
users: [{name: test, user: {token: test}}]
contexts: [{name: test, context: {cluster: test, user: test}}]
current-context: test
`
}
