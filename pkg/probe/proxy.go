package probe

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// viaProxy sends t's requests through the proxy that proxy chooses for each, as Kratix's
// minio-go client does with HTTPS_PROXY. The guard's dialer would then see only the
// proxy's address, which the operator chose and which is let through; so before a
// request leaves through a proxy, the host it names is checked here, as written and as
// the webhook resolves it. What the proxy itself resolves and connects to, the guard
// cannot see. Requests the proxy function sends direct (NO_PROXY) are dialled and
// checked as without a proxy.
func viaProxy(t *http.Transport, g *Guard, proxy func(*http.Request) (*url.URL, error)) {
	var proxies sync.Map // host:port of every proxy chosen so far
	guarded := t.DialContext
	direct := (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.Proxy = func(req *http.Request) (*url.URL, error) {
		u, err := proxy(req)
		if err != nil || u == nil {
			return u, err
		}
		if err := g.checkProxied(req.Context(), req.URL); err != nil {
			return nil, err
		}
		proxies.Store(proxyAddr(u), true)
		return u, nil
	}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if _, ok := proxies.Load(addr); ok {
			return direct(ctx, network, addr)
		}
		return guarded(ctx, network, addr)
	}
}

// checkProxied refuses u, the URL of a request about to leave through a proxy, when its
// host and port are refused as written or when any address its host resolves to here is.
// It also refuses the shorthand spellings of IPv4 addresses ("127.1", "2130706433",
// "0x7f000001", "0177.0.0.1") that inet_aton reads and net/netip does not: a proxy that
// resolves them as glibc does reaches an address the webhook's NO_PROXY never matched,
// and one that does not may reach another.
func (g *Guard) checkProxied(ctx context.Context, u *url.URL) error {
	host, port := u.Hostname(), urlPort(u)
	scope, _ := ctx.Value(dialScopeKey{}).(dialScope)
	need, err := g.checkHost(host, port, scope.alias(host))
	if err != nil {
		return err
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil // checkHost checked the address
	}
	if a, numeric, _ := parseNumericIPv4(host); numeric {
		// checkHost checked the address; the proxy, though, may read the spelling
		// otherwise, and NO_PROXY, which matches text, does not know it for the address.
		return refuse(host, "it means "+a.String()+", ", shorthandViaProxy)
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if err := g.checkAddr(host, a, port, need, "resolves to"); err != nil {
			return err
		}
	}
	return nil
}

// shorthandViaProxy is why checkProxied refuses a shorthand numeric address.
const shorthandViaProxy = "a shorthand numeric address is not sent through the proxy, which may read it otherwise; write the address in dotted-decimal form"

// urlPort is the port a request for u goes to.
func urlPort(u *url.URL) uint16 {
	if n, err := strconv.ParseUint(u.Port(), 10, 16); err == nil {
		return uint16(n)
	}
	return map[string]uint16{"http": 80, "https": 443}[u.Scheme]
}

// proxyAddr is the host:port net/http dials for proxy u.
func proxyAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443", "socks5": "1080", "socks5h": "1080"}[u.Scheme]
	}
	return net.JoinHostPort(u.Hostname(), port)
}
