package probe

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
)

// Guard decides which endpoints the webhook may probe. A BucketStateStore names any host
// it likes, and probing it makes the webhook send requests from inside the cluster, so
// the guard keeps probes away from cloud metadata services and from ranges the operator
// denies. It checks the host as written before connecting (CheckHost) and the address
// actually dialled (Control), so a name that resolves, or later rebinds, to a refused
// address is caught as well.
type Guard struct {
	deny []denyRule

	// allowNames and allowPrefixes form the allowlist; both empty means every address
	// that is not denied may be probed.
	allowNames    []string
	allowPrefixes []netip.Prefix
}

type denyRule struct {
	prefix netip.Prefix
	why    string
}

// alwaysDenied are refused whatever the flags say. The /16 comes first so that
// 169.254.169.254 is explained as the link-local metadata range it belongs to.
var alwaysDenied = []denyRule{
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local address 169.254.0.0/16 (cloud metadata)"},
	{netip.MustParsePrefix("fe80::/10"), "link-local address fe80::/10"},
	{netip.MustParsePrefix("169.254.169.254/32"), "cloud metadata address 169.254.169.254"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "cloud metadata address fd00:ec2::254 (AWS)"},
	{netip.MustParsePrefix("100.100.100.200/32"), "cloud metadata address 100.100.100.200 (Alibaba Cloud)"},
}

// metadataNames are host names that reach a cloud metadata service without an address.
var metadataNames = map[string]bool{
	"metadata.google.internal":   true,
	"metadata":                   true,
	"metadata.goog":              true,
	"instance-data":              true,
	"instance-data.ec2.internal": true,
}

// nat64 is the well-known NAT64 prefix: 64:ff9b::a9fe:a9fe reaches 169.254.169.254.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// NewGuard returns a Guard that refuses the cloud metadata addresses and names, every
// prefix in deny and, when allow is not empty, every endpoint allow does not admit.
// Entries of allow are host names ("s3.example.com", or "*.example.com" for its
// subdomains), addresses or CIDRs. A host name must be listed by name unless allow also
// has CIDRs, in which case an unlisted name is admitted when the address it resolves to
// lies in one of them. Loopback is allowed unless denied.
func NewGuard(deny []netip.Prefix, allow []string) (*Guard, error) {
	g := &Guard{}
	for _, p := range deny {
		if !p.IsValid() {
			return nil, fmt.Errorf("deny entry %q is not a valid CIDR", p.String())
		}
		p = normalisePrefix(p)
		g.deny = append(g.deny, denyRule{prefix: p, why: "denied range " + p.String()})
	}
	for _, entry := range allow {
		e := strings.TrimSpace(entry)
		if p, err := netip.ParsePrefix(e); err == nil {
			g.allowPrefixes = append(g.allowPrefixes, normalisePrefix(p))
			continue
		}
		if a, err := netip.ParseAddr(e); err == nil {
			a = a.Unmap().WithZone("")
			g.allowPrefixes = append(g.allowPrefixes, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		name := canonicalName(e)
		if !isHostPattern(name) {
			return nil, fmt.Errorf("allow entry %q is neither a host name nor a CIDR", entry)
		}
		g.allowNames = append(g.allowNames, name)
	}
	return g, nil
}

// CheckHost refuses host, as written in an endpoint without its port, when it names a
// metadata service, spells a refused address, or is not admitted by the allowlist. It
// returns nil or a *Failure with ReasonEndpointForbidden.
func (g *Guard) CheckHost(host string) error {
	_, err := g.checkHost(host)
	return err
}

// Control refuses to connect to address ("ip:port") when the address is denied. It has
// the signature of net.Dialer.Control. It does not apply the allowlist, because the
// address alone does not say which host name was dialled; the prober's own dialer
// carries that through and applies both.
func (g *Guard) Control(_, address string, _ syscall.RawConn) error {
	return g.control(address, dialInfo{})
}

// checkHost is CheckHost that also reports whether host is a name only an allowed CIDR
// can admit, in which case the dialled address must be checked against the allowlist.
func (g *Guard) checkHost(written string) (needAllowedAddr bool, err error) {
	host := canonicalName(strings.TrimSuffix(strings.TrimPrefix(written, "["), "]"))
	if host == "" {
		return false, refuse(written, "", "the host is empty")
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return false, g.checkAddr(written, a, g.hasAllowlist(), "means")
	}
	if a, numeric, ok := parseNumericIPv4(host); numeric {
		if !ok {
			return false, refuse(written, "", "it looks like a numeric IPv4 address but is not a valid one")
		}
		return false, g.checkAddr(written, a, g.hasAllowlist(), "means")
	}
	if metadataNames[host] {
		return false, refuse(written, "", "cloud metadata host name")
	}
	if !g.hasAllowlist() || g.nameAllowed(host) {
		return false, nil
	}
	if len(g.allowPrefixes) > 0 {
		return true, nil
	}
	return false, refuse(written, "", "not in --allow-endpoints")
}

// checkAddr refuses a when it is denied or, with needAllowed, when no allowed CIDR holds
// it. verb says how written relates to a ("means", "resolves to") when they differ.
func (g *Guard) checkAddr(written string, a netip.Addr, needAllowed bool, verb string) error {
	a = a.Unmap().WithZone("")
	shown := ""
	if written != a.String() {
		shown = "it " + verb + " " + a.String() + ", "
	}
	if why, denied := g.denied(a); denied {
		return refuse(written, shown, why)
	}
	if nat64.Contains(a) {
		b := a.As16()
		v4 := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
		if why, denied := g.denied(v4); denied {
			return refuse(written, "it reaches "+v4.String()+" through NAT64, ", why)
		}
	}
	if needAllowed && !g.addrAllowed(a) {
		return refuse(written, shown, "not in --allow-endpoints")
	}
	return nil
}

func (g *Guard) denied(a netip.Addr) (string, bool) {
	for _, rules := range [][]denyRule{alwaysDenied, g.deny} {
		for _, r := range rules {
			if r.prefix.Contains(a) {
				return r.why, true
			}
		}
	}
	return "", false
}

func (g *Guard) hasAllowlist() bool {
	return len(g.allowNames)+len(g.allowPrefixes) > 0
}

func (g *Guard) addrAllowed(a netip.Addr) bool {
	for _, p := range g.allowPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (g *Guard) nameAllowed(host string) bool {
	for _, n := range g.allowNames {
		if n == host || (strings.HasPrefix(n, "*.") && strings.HasSuffix(host, n[1:])) {
			return true
		}
	}
	return false
}

// dialInfo travels from the guarded DialContext to the dialer's ControlContext in the
// context: which host name is being dialled and whether its address must be allowed.
type dialInfo struct {
	host            string
	needAllowedAddr bool
}

type dialInfoKey struct{}

// control checks the address a connection is about to be made to.
func (g *Guard) control(address string, info dialInfo) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return refuse(address, "", "the dialled address is not an IP address")
	}
	if info.host == "" {
		return g.checkAddr(ap.Addr().WithZone("").String(), ap.Addr(), info.needAllowedAddr, "means")
	}
	return g.checkAddr(info.host, ap.Addr(), info.needAllowedAddr, "resolves to")
}

// dialContext wraps d so that every connection is checked twice: the host before it is
// resolved, and each address after it is resolved, just before connecting.
func (g *Guard) dialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d.ControlContext = func(ctx context.Context, _, address string, _ syscall.RawConn) error {
		info, _ := ctx.Value(dialInfoKey{}).(dialInfo)
		return g.control(address, info)
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		need, err := g.checkHost(host)
		if err != nil {
			return nil, err
		}
		info := dialInfo{needAllowedAddr: need}
		if _, err := netip.ParseAddr(host); err != nil {
			info.host = host
		}
		return d.DialContext(context.WithValue(ctx, dialInfoKey{}, info), network, addr)
	}
}

func refuse(written, shown, why string) *Failure {
	msg := fmt.Sprintf("endpoint %q is refused: %s%s", written, shown, why)
	return &Failure{Reason: ReasonEndpointForbidden, Message: msg, Err: errEndpointRefused}
}

// errEndpointRefused is the Err of every guard Failure, so logs can tell a refusal from
// a failed connection without parsing the message.
var errEndpointRefused = fmt.Errorf("endpoint refused by the probe guard")

// canonicalName lowercases a host name and strips the trailing dot of a fully
// qualified name, so "Metadata.Google.Internal." is recognised.
func canonicalName(host string) string {
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

func normalisePrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// isHostPattern accepts host names and "*.name" wildcards: letters, digits, '-' and '.'.
func isHostPattern(name string) bool {
	name = strings.TrimPrefix(name, "*.")
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}
