package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kratix-community/statestore-webhook/internal/server"
	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

func TestServerTLSVersions(t *testing.T) {
	t.Parallel()
	servers := map[string]*testWebhook{
		"1.2": startWebhook(t, "--tls-min-version=1.2"),
		"1.3": startWebhook(t, "--tls-min-version=1.3"),
	}
	refused := "remote error: tls: protocol version not supported"
	tests := map[string]struct {
		minVersion string
		client     uint16
		wantErr    string
	}{
		"a TLS 1.0 client is refused by default":            {minVersion: "1.2", client: tls.VersionTLS10, wantErr: refused},
		"a TLS 1.1 client is refused by default":            {minVersion: "1.2", client: tls.VersionTLS11, wantErr: refused},
		"a TLS 1.2 client is served by default":             {minVersion: "1.2", client: tls.VersionTLS12},
		"a TLS 1.3 client is served by default":             {minVersion: "1.2", client: tls.VersionTLS13},
		"a TLS 1.1 client is refused with 1.3 as a minimum": {minVersion: "1.3", client: tls.VersionTLS11, wantErr: refused},
		"a TLS 1.2 client is refused with 1.3 as a minimum": {minVersion: "1.3", client: tls.VersionTLS12, wantErr: refused},
		"a TLS 1.3 client is served with 1.3 as a minimum":  {minVersion: "1.3", client: tls.VersionTLS13},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := servers[tc.minVersion]
			cfg := w.tlsConfig()
			cfg.MinVersion, cfg.MaxVersion = tc.client, tc.client
			conn, err := tls.Dial("tcp", w.addr, cfg)
			if tc.wantErr != "" {
				if err == nil {
					_ = conn.Close()
					t.Fatalf("the handshake succeeded, want %q", tc.wantErr)
				}
				if err.Error() != tc.wantErr {
					t.Fatalf("handshake error = %q, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			defer func() { _ = conn.Close() }()
			if got := conn.ConnectionState().Version; got != tc.client {
				t.Fatalf("negotiated %s, want %s", tls.VersionName(got), tls.VersionName(tc.client))
			}
			// And the connection serves.
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			body := storeReview(t)
			if _, err := io.WriteString(conn, requestHead("POST", server.ValidatePath, "application/json", len(body))+string(body)); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(admitted, readAnswer(t, resp)); diff != "" {
				t.Fatalf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServerDoesNotNegotiateHTTP2(t *testing.T) {
	t.Parallel()
	w := startWebhook(t)
	tests := map[string]struct {
		offer         []string
		wantProtocol  string
		wantHandshake string
	}{
		"a client offering h2 and http/1.1 gets http/1.1": {offer: []string{"h2", "http/1.1"}, wantProtocol: "http/1.1"},
		"a client offering only h2 is refused":            {offer: []string{"h2"}, wantHandshake: "remote error: tls: no application protocol"},
		"a client offering nothing gets nothing":          {offer: nil, wantProtocol: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := w.tlsConfig()
			cfg.NextProtos = tc.offer
			conn, err := tls.Dial("tcp", w.addr, cfg)
			if tc.wantHandshake != "" {
				if err == nil {
					_ = conn.Close()
					t.Fatalf("the handshake succeeded with %q, want %q", conn.ConnectionState().NegotiatedProtocol, tc.wantHandshake)
				}
				if err.Error() != tc.wantHandshake {
					t.Fatalf("handshake error = %q, want %q", err, tc.wantHandshake)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = conn.Close() }()
			if got := conn.ConnectionState().NegotiatedProtocol; got != tc.wantProtocol {
				t.Fatalf("negotiated %q, want %q", got, tc.wantProtocol)
			}
		})
	}

	t.Run("an HTTP client that prefers HTTP/2 talks HTTP/1.1", func(t *testing.T) {
		cfg := w.tlsConfig()
		cfg.NextProtos = nil // the transport offers h2 and http/1.1 itself
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
		defer client.CloseIdleConnections()
		resp, err := client.Post("https://"+w.addr+server.MutatePath, "application/json", bytes.NewReader(storeReview(t)))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Proto != "HTTP/1.1" {
			t.Fatalf("protocol %s, want HTTP/1.1", resp.Proto)
		}
		if diff := cmp.Diff(defaulted, readAnswer(t, resp)); diff != "" {
			t.Fatalf("answer (-want +got):\n%s", diff)
		}
	})

	t.Run("the HTTP/2 connection preface is refused", func(t *testing.T) {
		resp := w.exchange(t, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", nil)
		if got := readAnswer(t, resp); got != (answer{HTTPStatus: http.StatusBadRequest}) {
			t.Fatalf("answer = %+v, want a bare 400", got)
		}
	})
}

// TestServerAnswersHostileRequests checks that requests no API server sends get a clear
// answer at once: each exchange must be over within dial's 10s.
func TestServerAnswersHostileRequests(t *testing.T) {
	t.Parallel()
	w := startWebhook(t)
	valid := storeReview(t)
	cm := testkit.Review{UID: "uid-cm", Operation: admissionv1.Create,
		Object: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"b"}}`)}.Request()
	cm.Kind = metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	configMap, err := testkit.ReviewJSON(cm)
	if err != nil {
		t.Fatal(err)
	}
	const tooLarge = "request entity is too large; limit is 7340032 bytes"
	bare := func(code int32, message string) answer { return answer{HTTPStatus: 200, Code: code, Message: message} }
	typed := func(uid string, code int32, message string) answer {
		return answer{HTTPStatus: 200, APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview", UID: uid, Code: code, Message: message}
	}
	tests := map[string]struct {
		head string
		body io.Reader
		want answer
	}{
		"a valid store is defaulted": {
			head: requestHead("POST", server.MutatePath, "application/json", len(valid)), body: bytes.NewReader(valid),
			want: defaulted,
		},
		"a valid store is admitted": {
			head: requestHead("POST", server.ValidatePath, "application/json", len(valid)), body: bytes.NewReader(valid),
			want: admitted,
		},
		"an empty body is a bad request": {
			head: requestHead("POST", server.ValidatePath, "application/json", 0),
			want: bare(400, "request body is empty"),
		},
		"truncated JSON is a bad request": {
			head: requestHead("POST", server.ValidatePath, "application/json", len(valid)/2), body: bytes.NewReader(valid[:len(valid)/2]),
			want: bare(400, "couldn't get version/kind; json parse error: unexpected end of JSON input"),
		},
		"a body that is not JSON is a bad request": {
			head: requestHead("POST", server.MutatePath, "application/json", 5), body: strings.NewReader("\x00\x01\x02\x03\x04"),
			want: bare(400, "yaml: control characters are not allowed"),
		},
		"a wrong Content-Type is a bad request": {
			head: requestHead("POST", server.ValidatePath, "text/plain", len(valid)), body: bytes.NewReader(valid),
			want: bare(400, "contentType=text/plain, expected application/json"),
		},
		"a missing Content-Type is a bad request": {
			head: requestHead("POST", server.MutatePath, "", len(valid)), body: bytes.NewReader(valid),
			want: bare(400, "contentType=, expected application/json"),
		},
		"a ConfigMap is refused by the validating webhook": {
			head: requestHead("POST", server.ValidatePath, "application/json", len(configMap)), body: bytes.NewReader(configMap),
			want: typed("uid-cm", 400, "this webhook admits BucketStateStore.platform.kratix.io, not /v1, Kind=ConfigMap"),
		},
		"a ConfigMap is refused by the mutating webhook": {
			head: requestHead("POST", server.MutatePath, "application/json", len(configMap)), body: bytes.NewReader(configMap),
			want: typed("uid-cm", 400, "this webhook admits BucketStateStore.platform.kratix.io, not /v1, Kind=ConfigMap"),
		},
		"a 10 MiB body is too large": {
			head: requestHead("POST", server.ValidatePath, "application/json", 10<<20), body: bytes.NewReader(bytes.Repeat([]byte(" "), 10<<20)),
			want: bare(413, tooLarge),
		},
		"a 10 MiB chunked body is too large": {
			head: requestHead("POST", server.MutatePath, "application/json", -1), body: chunked(bytes.Repeat([]byte(" "), 10<<20)),
			want: bare(413, tooLarge),
		},
		"a 10 MiB store is too large": {
			head: requestHead("POST", server.MutatePath, "application/json", len(valid)+10<<20),
			body: io.MultiReader(bytes.NewReader(valid[:len(valid)-2]), bytes.NewReader(bytes.Repeat([]byte(" "), 10<<20)), strings.NewReader("}}")),
			want: bare(413, tooLarge),
		},
		"a GET is a bad request": {
			head: "GET " + server.ValidatePath + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
			want: bare(400, "request body is empty"),
		},
		"an unknown path is not found": {
			head: requestHead("POST", "/convert", "application/json", len(valid)), body: bytes.NewReader(valid),
			want: answer{HTTPStatus: 404, Message: "404 page not found\n"},
		},
		"headers over 1 MiB are refused": {
			head: "POST " + server.MutatePath + " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n",
			want: answer{HTTPStatus: 431, Message: "431 Request Header Fields Too Large"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := readAnswer(t, w.exchange(t, tc.head, tc.body))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

// TestServerDisconnectsSlowClients holds connections open the way a slowloris client
// does. The server gives the TLS handshake --handshake-timeout (5s by default), the
// request line and the headers server.ReadHeaderTimeout (10s), and the body
// server.BodyTimeout (10s).
func TestServerDisconnectsSlowClients(t *testing.T) {
	t.Parallel()
	w := startWebhook(t)
	valid := storeReview(t)
	headerTimeout, handshakeTimeout := server.ReadHeaderTimeout, server.DefaultConnLimits.HandshakeTimeout
	tests := map[string]struct {
		// raw is true for a client that never starts the TLS handshake.
		raw bool
		// send is what the client sends, each part a second after the one before.
		send []string
		// wantAnswer is the AdmissionReview answer, if any, its message a format for the
		// server's and the client's address; wantRest is what comes after it.
		wantAnswer *answer
		wantRest   string
		// The server closes the connection no sooner than closedNoSooner and no later
		// than closedNoLater.
		closedNoSooner, closedNoLater time.Duration
	}{
		"a client that never starts the TLS handshake is disconnected": {
			raw: true, closedNoSooner: handshakeTimeout - time.Second, closedNoLater: handshakeTimeout + 10*time.Second,
		},
		"a client that sends half a header gets a 400 and is disconnected": {
			send:           []string{"POST " + server.MutatePath + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty"},
			wantRest:       "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request",
			closedNoSooner: headerTimeout - time.Second, closedNoLater: headerTimeout + 10*time.Second,
		},
		"a client that sends a header a second is disconnected": {
			send:           append([]string{"POST " + server.MutatePath + " HTTP/1.1\r\n"}, repeat("X-Slow: 1\r\n", 60)...),
			closedNoSooner: headerTimeout - time.Second, closedNoLater: headerTimeout + 10*time.Second,
		},
		"a client that stops halfway through its body gets a 400 and is disconnected": {
			send:           []string{requestHead("POST", server.MutatePath, "application/json", len(valid)) + string(valid[:len(valid)/2])},
			wantAnswer:     &answer{HTTPStatus: 200, Code: 400, Message: "read tcp %s->%s: i/o timeout"},
			closedNoSooner: server.BodyTimeout - time.Second, closedNoLater: server.BodyTimeout + 10*time.Second,
		},
		"a client that sends its body a byte a second gets a 400 and is disconnected": {
			send:           append([]string{requestHead("POST", server.ValidatePath, "application/json", len(valid))}, strings.Split(string(valid), "")...),
			wantAnswer:     &answer{HTTPStatus: 200, Code: 400, Message: "read tcp %s->%s: i/o timeout"},
			closedNoSooner: server.BodyTimeout - time.Second, closedNoLater: server.BodyTimeout + 10*time.Second,
		},
	}
	// The clients wait side by side, each in its own goroutine; the subtests then check
	// what each saw.
	results := make(map[string]chan slowResult, len(tests))
	for name, tc := range tests {
		result := make(chan slowResult, 1)
		results[name] = result
		go func() { result <- slowClient(w, tc.raw, tc.send, tc.wantAnswer != nil, tc.closedNoLater) }()
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := <-results[name]
			if r.err != nil {
				t.Fatal(r.err)
			}
			if tc.wantAnswer != nil {
				if r.answer == nil {
					t.Fatalf("no answer after %s: %v", r.elapsed, r.readErr)
				}
				// The message names the server's and the client's address.
				want := *tc.wantAnswer
				want.Message = fmt.Sprintf(want.Message, w.addr, r.local)
				if diff := cmp.Diff(want, *r.answer); diff != "" {
					t.Fatalf("answer (-want +got):\n%s", diff)
				}
			}
			var netErr net.Error
			if errors.As(r.readErr, &netErr) && netErr.Timeout() {
				t.Fatalf("still connected after %s", r.elapsed)
			}
			if string(r.rest) != tc.wantRest || r.elapsed < tc.closedNoSooner {
				t.Fatalf("disconnected after %s with %q (%v), want %q and no sooner than %s", r.elapsed, r.rest, r.readErr, tc.wantRest, tc.closedNoSooner)
			}
		})
	}
}

// slowResult is what a slow client saw.
type slowResult struct {
	err     error // the client could not even start
	local   net.Addr
	answer  *answer // if it waited for one and got it
	rest    []byte  // what came after the answer, until the connection closed
	readErr error   // why reading stopped, nil for a closed connection
	elapsed time.Duration
}

// slowClient connects, sends each of send a second after the one before and reads until
// the server closes the connection or closedNoLater passes.
func slowClient(w *testWebhook, raw bool, send []string, wantAnswer bool, closedNoLater time.Duration) slowResult {
	tcp, err := net.Dial("tcp", w.addr)
	if err != nil {
		return slowResult{err: err}
	}
	defer func() { _ = tcp.Close() }()
	_ = tcp.SetDeadline(time.Now().Add(closedNoLater))
	start := time.Now()
	r := slowResult{local: tcp.LocalAddr()}
	var conn net.Conn = tcp
	if !raw {
		tlsConn := tls.Client(tcp, w.tlsConfig())
		if err := tlsConn.Handshake(); err != nil {
			return slowResult{err: err}
		}
		conn = tlsConn
	}
	go func() {
		for _, part := range send {
			if _, err := io.WriteString(conn, part); err != nil {
				return
			}
			time.Sleep(time.Second)
		}
	}()

	br := bufio.NewReader(conn)
	if wantAnswer {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			r.readErr, r.elapsed = err, time.Since(start)
			return r
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			r.readErr, r.elapsed = err, time.Since(start)
			return r
		}
		a := parseAnswer(resp.StatusCode, body)
		r.answer = &a
	}
	r.rest, r.readErr = io.ReadAll(br)
	r.elapsed = time.Since(start)
	return r
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// chunked encodes body with chunked transfer coding, in chunks of 64 KiB.
func chunked(body []byte) io.Reader {
	var b bytes.Buffer
	for len(body) > 0 {
		n := min(len(body), 64<<10)
		fmt.Fprintf(&b, "%x\r\n", n)
		b.Write(body[:n])
		b.WriteString("\r\n")
		body = body[n:]
	}
	b.WriteString("0\r\n\r\n")
	return &b
}
