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

// countingProxy is a TLS reverse proxy in front of an S3 or a Git server that counts what
// reaches it, so the burst figure counts probes where they arrive rather than trusting
// the webhook's own metrics. It keeps the Host header, so S3 signatures made for it
// still verify. Its certificate is signed by the environment's CA, which the webhook
// trusts.
type countingProxy struct {
	// Endpoint is host:port, as a store's spec.endpoint or a Git URL's host.
	Endpoint string

	server *http.Server
	// writeChecks counts the write check every probe makes exactly once: S3's POST
	// ?uploads, Git's receive-pack advertisement.
	writeChecks atomic.Int64

	mu     sync.Mutex
	byKind map[string]int
}

// startCountingProxy proxies to target (host:port) over TLS, trusting upstream's roots.
func startCountingProxy(ca *localenv.CA, certDir, target string, upstream *tls.Config) (*countingProxy, error) {
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
	to := &url.URL{Scheme: "https", Host: target}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(to)
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{TLSClientConfig: upstream, MaxIdleConnsPerHost: 256},
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
		p.writeChecks.Add(1)
	case q.Get("service") == "git-upload-pack":
		kind = "UploadPackAdvertisement"
	case q.Get("service") == "git-receive-pack":
		kind = "ReceivePackAdvertisement"
		p.writeChecks.Add(1)
	case q.Has("uploadId") && r.Method == http.MethodDelete:
		kind = "AbortMultipartUpload"
	case r.Method == http.MethodHead && strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 0:
		kind = "HeadBucket"
	}
	p.mu.Lock()
	p.byKind[kind]++
	p.mu.Unlock()
}

// Probes is the number of write checks, one per probe, that reached the server so far.
func (p *countingProxy) Probes() int64 { return p.writeChecks.Load() }

// Kinds returns how many requests of each kind reached the server so far, and resets them.
func (p *countingProxy) Kinds() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.byKind
	p.byKind = map[string]int{}
	return k
}

func (p *countingProxy) Close() { _ = p.server.Close() }
