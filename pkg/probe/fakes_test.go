package probe

import (
	"crypto/x509"
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
)

// init loads the system's certificate pool before any test sets SSL_CERT_FILE: Go reads
// that variable once, when the pool is first loaded, and would otherwise trust the test
// servers' certificate in every later test.
func init() {
	_, _ = x509.SystemCertPool()
}

// s3Answer is what the fake S3 answers one kind of request with instead of success.
type s3Answer struct {
	status int
	// code is the S3 error code of an XML error body; empty sends body as it is.
	code string
	body string
	// gate, when not nil, holds the answer back until it is closed or the client hangs
	// up, so a test decides when the answer comes.
	gate chan struct{}
}

// fakeS3 is an S3 endpoint good enough for the requests a probe makes. It answers
// success unless answers says otherwise for an operation: "location" (GET ?location),
// "head" (HEAD bucket), "initiate" (POST ?uploads) or "abort" (DELETE ?uploadId).
type fakeS3 struct {
	answers map[string]s3Answer

	mu       sync.Mutex
	requests []string      // "METHOD /path?query" of every request
	auth     []string      // Authorization header of every request
	tokens   []string      // X-Amz-Security-Token header of every request
	aborted  chan struct{} // closed when the first abort has been answered
	once     sync.Once
}

func newFakeS3(answers map[string]s3Answer) *fakeS3 {
	return &fakeS3{answers: answers, aborted: make(chan struct{})}
}

// start serves f over plain HTTP, or TLS with the test server's self-signed certificate.
func (f *fakeS3) start(t *testing.T, tls bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(f)
	// Failed handshakes are what some tests are about; keep them out of the output.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := s3Operation(r)
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.tokens = append(f.tokens, r.Header.Get("X-Amz-Security-Token"))
	f.mu.Unlock()
	if op == "abort" {
		defer f.once.Do(func() { close(f.aborted) })
	}

	a, ok := f.answers[op]
	if a.gate != nil {
		select {
		case <-a.gate:
		case <-r.Context().Done():
			return
		}
	}
	if ok && a.status != 0 {
		body := a.body
		if a.code != "" {
			body = fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>`+
				`<Error><Code>%s</Code><Message>fake %s</Message><RequestId>req-1</RequestId></Error>`, a.code, a.code)
			w.Header().Set("Content-Type", "application/xml")
		}
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(body))
		return
	}
	switch op {
	case "location":
		w.Header().Set("Content-Type", "application/xml")
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?>` +
			`<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">us-east-1</LocationConstraint>`))
	case "head":
		w.WriteHeader(http.StatusOK)
	case "initiate":
		bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		w.Header().Set("Content-Type", "application/xml")
		_ = xml.NewEncoder(w).Encode(struct {
			XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
			Bucket   string
			Key      string
			UploadID string `xml:"UploadId"`
		}{Bucket: bucket, Key: key, UploadID: "upload-1"})
	case "abort":
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusNotImplemented)
	}
}

func s3Operation(r *http.Request) string {
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodGet && q.Has("location"):
		return "location"
	case r.Method == http.MethodHead:
		return "head"
	case r.Method == http.MethodPost && q.Has("uploads"):
		return "initiate"
	case r.Method == http.MethodDelete && q.Has("uploadId"):
		return "abort"
	}
	return r.Method + " " + r.URL.Path
}

// signatures returns the Authorization and X-Amz-Security-Token headers of every request.
func (f *fakeS3) signatures() (auth, tokens []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.auth...), append([]string(nil), f.tokens...)
}

func (f *fakeS3) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

// blackHole returns the address of a localenv.BlackHole that lives until the test ends.
func blackHole(t *testing.T) string {
	t.Helper()
	b, err := localenv.StartBlackHole()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b.Endpoint
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// checkFailure fails t unless err is a *Failure with exactly want's reason and message.
func checkFailure(t *testing.T, err error, want *Failure) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("want success, got %v", err)
		}
		return
	}
	f, ok := err.(*Failure)
	if !ok {
		t.Fatalf("want *Failure %s %q, got %T %v", want.Reason, want.Message, err, err)
	}
	if f.Reason != want.Reason || f.Message != want.Message {
		t.Errorf("got  %s: %s\nwant %s: %s", f.Reason, f.Message, want.Reason, want.Message)
	}
}

// mustProber is NewS3Prober for a test that does not expect it to fail.
func mustProber(t *testing.T, opts S3Options) *S3Prober {
	t.Helper()
	p, err := NewS3Prober(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startHandler serves h over plain HTTP until the test ends.
func startHandler(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	return serveHandler(t, h, false)
}

// startTLSHandler serves h over HTTPS, with the test server's certificate, until the
// test ends.
func startTLSHandler(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	return serveHandler(t, h, true)
}

func serveHandler(t *testing.T, h http.HandlerFunc, tls bool) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}
