package main

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
)

// countingProxy is a TLS reverse proxy in front of an S3 server that counts what reaches it, so
// the burst figure counts probes where they arrive rather than trusting the webhook's
// own metrics. It keeps the Host header, so S3 signatures made for it still verify.
type countingProxy struct {
	// Endpoint is host:port, as a store's spec.endpoint.
	Endpoint string

	server *http.Server
	// uploads counts POST ?uploads: the write check every probe makes exactly once.
	uploads atomic.Int64

	mu     sync.Mutex
	byKind map[string]int
}

func startCountingProxy(ca *localenv.CA, certDir, target string) (*countingProxy, error) {
	if err := ca.WriteServingCert(certDir, "tls.crt", "tls.key"); err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(certDir, "tls.crt"), filepath.Join(certDir, "tls.key"))
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &countingProxy{Endpoint: l.Addr().String(), byKind: map[string]int{}}
	upstream := &url.URL{Scheme: "https", Host: target}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(upstream)
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{TLSClientConfig: ca.TLSConfig(), MaxIdleConnsPerHost: 256},
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	p.server = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.count(r)
			rp.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() {
		_ = p.server.Serve(tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	}()
	return p, nil
}

func (p *countingProxy) count(r *http.Request) {
	q := r.URL.Query()
	kind := r.Method
	switch {
	case q.Has("location"):
		kind = "GetBucketLocation"
	case q.Has("uploads") && r.Method == http.MethodPost:
		kind = "NewMultipartUpload"
		p.uploads.Add(1)
	case q.Has("uploadId") && r.Method == http.MethodDelete:
		kind = "AbortMultipartUpload"
	case r.Method == http.MethodHead && strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 0:
		kind = "HeadBucket"
	}
	p.mu.Lock()
	p.byKind[kind]++
	p.mu.Unlock()
}

// Uploads is the number of write checks, one per probe, that reached MinIO so far.
func (p *countingProxy) Uploads() int64 { return p.uploads.Load() }

// Kinds returns how many requests of each kind reached MinIO so far, and resets them.
func (p *countingProxy) Kinds() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.byKind
	p.byKind = map[string]int{}
	return k
}

func (p *countingProxy) Close() { _ = p.server.Close() }
