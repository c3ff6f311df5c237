package localenv

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// HostileAnswers are the ways an endpoint can answer a bucket probe without end, keyed
// by a sentence: each streams its answer to one of the probe's requests until the client
// hangs up, and answers the others as S3 would, so that the probe reaches it.
var HostileAnswers = map[string]http.Handler{
	"an endless LocationConstraint":            endlessAnswer("location", http.StatusOK, xmlHeader+`<LocationConstraint>`),
	"an endless error body to GET ?location":   endlessAnswer("location", http.StatusNotFound, xmlHeader+`<Error><Code>NoSuchBucket</Code><Message>`),
	"an endless UploadId with a 200":           endlessAnswer("initiate", http.StatusOK, xmlHeader+`<InitiateMultipartUploadResult><Bucket>kratix</Bucket><UploadId>`),
	"an endless error body to the write check": endlessAnswer("initiate", http.StatusForbidden, xmlHeader+`<Error><Code>AccessDenied</Code><Message>`),
	"an endless body that is not XML":          endlessAnswer("initiate", http.StatusInternalServerError, ""),
	"an endless header":                        http.HandlerFunc(endlessHeader),
}

// HostileKinds are the keys of HostileAnswers in a fixed order.
func HostileKinds() []string {
	kinds := make([]string, 0, len(HostileAnswers))
	for k := range HostileAnswers {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	return kinds
}

// Hostile is a local plain-HTTP endpoint serving one of HostileAnswers, or holding the
// abort of the write check (StartHoldingAbort), or an HTTPS one serving a hostile Git
// server (StartGitHostile).
type Hostile struct {
	// Endpoint is its host:port.
	Endpoint string
	srv      *http.Server
	held     chan struct{}
}

// StartHostile serves HostileAnswers[kind] on a free port of 127.0.0.1.
func StartHostile(kind string) (*Hostile, error) {
	return startHostile(HostileAnswers[kind])
}

func startHostile(handler http.Handler) (*Hostile, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &Hostile{Endpoint: l.Addr().String(), srv: &http.Server{Handler: handler}}
	go func() { _ = h.srv.Serve(l) }()
	return h, nil
}

// StartHoldingAbort serves, on a free port of 127.0.0.1, an endpoint that answers the
// probe's requests at once, as an S3 server whose bucket exists and may be written to,
// but never answers the abort of the upload the write check started: it holds that
// request until the client hangs up, so each probe keeps its slot for as long as the
// clean-up may take.
func StartHoldingAbort() (*Hostile, error) {
	held := make(chan struct{}, 1024)
	h, err := startHostile(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		w.Header().Set("Content-Type", "application/xml")
		switch {
		case r.Method == http.MethodGet && q.Has("location"):
			_, _ = w.Write([]byte(xmlHeader + `<LocationConstraint>us-east-1</LocationConstraint>`))
		case r.Method == http.MethodPost && q.Has("uploads"):
			_, _ = w.Write([]byte(xmlHeader + `<InitiateMultipartUploadResult><Bucket>kratix</Bucket>` +
				`<Key>.kratix-write-permission-check</Key><UploadId>held</UploadId></InitiateMultipartUploadResult>`))
		case r.Method == http.MethodDelete && q.Has("uploadId"):
			select {
			case held <- struct{}{}:
			default:
			}
			<-r.Context().Done()
		}
		// HEAD bucket: 200
	}))
	if err == nil {
		h.held = held
	}
	return h, err
}

// Held receives once for each abort a StartHoldingAbort endpoint has begun to hold (up
// to 1024 not yet received); it is nil for other endpoints.
func (h *Hostile) Held() <-chan struct{} { return h.held }

// Stop closes the listener and every connection.
func (h *Hostile) Stop() error {
	return h.srv.Close()
}

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>`

// filler is what endless answers repeat.
var filler = []byte(strings.Repeat("a", 32<<10))

// endlessAnswer answers the request op ("location" for GET ?location, "initiate" for
// POST ?uploads) with status and a body that starts with prefix and never ends.
func endlessAnswer(op string, status int, prefix string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var this string
		switch {
		case r.Method == http.MethodGet && q.Has("location"):
			this = "location"
		case r.Method == http.MethodPost && q.Has("uploads"):
			this = "initiate"
		}
		w.Header().Set("Content-Type", "application/xml")
		if this != op {
			if this == "location" {
				_, _ = w.Write([]byte(xmlHeader + `<LocationConstraint>us-east-1</LocationConstraint>`))
			}
			return // HEAD bucket: 200
		}
		w.WriteHeader(status)
		if _, err := w.Write([]byte(prefix)); err != nil {
			return
		}
		for {
			if _, err := w.Write(filler); err != nil {
				return
			}
		}
	}
}

// endlessHeader answers with a header line that never ends.
func endlessHeader(w http.ResponseWriter, _ *http.Request) {
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	if _, err := rw.WriteString("HTTP/1.1 200 OK\r\nX-Filler: "); err != nil {
		return
	}
	for {
		if _, err := rw.Write(filler); err != nil {
			return
		}
		if err := rw.Flush(); err != nil {
			return
		}
	}
}

// BlackHole is a local endpoint that accepts TCP connections and never answers on them,
// like a firewall that drops packets after the handshake.
type BlackHole struct {
	// Endpoint is its host:port.
	Endpoint string

	l        net.Listener
	mu       sync.Mutex
	conns    []net.Conn
	closed   bool
	accepted chan struct{} // closed, and replaced, when a connection is accepted
}

// StartBlackHole listens on a free port of 127.0.0.1 until Close.
func StartBlackHole() (*BlackHole, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &BlackHole{Endpoint: l.Addr().String(), l: l, accepted: make(chan struct{})}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			if b.closed {
				_ = c.Close()
			}
			b.conns = append(b.conns, c)
			close(b.accepted)
			b.accepted = make(chan struct{})
			b.mu.Unlock()
		}
	}()
	return b, nil
}

// WaitAccepted returns when the black hole has accepted n connections in all, or with
// ctx's error when ctx ends first.
func (b *BlackHole) WaitAccepted(ctx context.Context, n int) error {
	for {
		b.mu.Lock()
		count, next := len(b.conns), b.accepted
		b.mu.Unlock()
		if count >= n {
			return nil
		}
		select {
		case <-next:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close closes the listener and every connection it accepted.
func (b *BlackHole) Close() error {
	err := b.l.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for _, c := range b.conns {
		_ = c.Close()
	}
	return err
}
