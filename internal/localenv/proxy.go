package localenv

import (
	"io"
	"net"
	"net/http"
	"sync"
)

// RoutingProxy is an HTTP forward proxy, CONNECT included, that sends every request to
// one upstream host:port whatever host the request names, and remembers the hosts
// named. It stands in for an egress proxy that alone knows the way to an endpoint.
type RoutingProxy struct {
	// URL is the proxy's http:// URL, for HTTPS_PROXY or http.ProxyURL.
	URL string

	upstream string
	srv      *http.Server
	mu       sync.Mutex
	asked    []string
}

// StartRoutingProxy serves a RoutingProxy to upstream on a free port of 127.0.0.1.
func StartRoutingProxy(upstream string) (*RoutingProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &RoutingProxy{URL: "http://" + l.Addr().String(), upstream: upstream}
	p.srv = &http.Server{Handler: p}
	go func() { _ = p.srv.Serve(l) }()
	return p, nil
}

// Asked returns "METHOD host:port" of every request the proxy got, CONNECTs included.
func (p *RoutingProxy) Asked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.asked...)
}

// Stop closes the listener and every connection.
func (p *RoutingProxy) Stop() error {
	return p.srv.Close()
}

// ServeHTTP forwards r: a CONNECT becomes a tunnel to upstream, any other request is
// sent there with its Host header unchanged.
func (p *RoutingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.asked = append(p.asked, r.Method+" "+r.Host)
	p.mu.Unlock()
	if r.Method != http.MethodConnect {
		out := r.Clone(r.Context())
		out.RequestURI, out.URL.Scheme, out.URL.Host = "", "http", p.upstream
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		return
	}
	upstream, err := net.Dial("tcp", p.upstream)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer upstream.Close()
	w.WriteHeader(http.StatusOK)
	client, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer client.Close()
	go func() { _, _ = io.Copy(upstream, rw); upstream.Close() }()
	_, _ = io.Copy(client, upstream)
}
