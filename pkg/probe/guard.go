package probe

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
)

// Guard decides which endpoints the webhook may probe. A BucketStateStore names any host
// it likes, and probing it makes the webhook send requests from inside the cluster, so
// the guard keeps probes away from the local host's unspecified addresses, cloud
// metadata services, the cluster's control plane and ranges the operator denies. It
// checks the endpoint as written before connecting (CheckEndpoint) and the address and
// port actually dialled (in the dialer's Control hook), so a name that resolves, or later
// rebinds, to a refused address is caught as well.
type Guard struct {
	deny []denyRule

	// allow is the allowlist; empty means every address that is not denied may be
	// probed.
	allow HostList
}

// GuardOptions configure a Guard.
type GuardOptions struct {
	// Deny are CIDRs refused on every port, besides the built-in ones.
	Deny []netip.Prefix
	// Allow, when not empty, are the only endpoints that may be probed: host names
	// ("s3.example.com", "*.example.com"), addresses or CIDRs. A host name must be
	// listed by name unless Allow also has CIDRs, in which case an unlisted name is
	// admitted when the address it resolves to lies in one of them.
	Allow []string
	// ControlPlane are addresses of the cluster's own control plane, such as the
	// kubernetes Service and the API server the webhook talks to. A port of 0 refuses
	// every port of the address.
	ControlPlane []netip.AddrPort
	// AllowControlPlane lifts the control-plane rules: ControlPlane and the kubelet's
	// and etcd's ports on every address.
	AllowControlPlane bool
}

// denyRule refuses an address, a port, or a port of an address.
type denyRule struct {
	// prefix is the refused range; the zero Prefix means every address.
	prefix netip.Prefix
	// port is the refused port; 0 means every port.
	port uint16
	why  string
}

// matches reports whether the rule refuses a at port; a port of 0 is unknown, and then
// only rules for every port apply.
func (r denyRule) matches(a netip.Addr, port uint16) bool {
	return (!r.prefix.IsValid() || r.prefix.Contains(a)) && (r.port == 0 || r.port == port)
}

// alwaysDenied are refused whatever the flags say. The /16 comes before the metadata
// address so that 169.254.169.254 is explained as the link-local range it belongs to.
var alwaysDenied = []denyRule{
	{prefix: netip.MustParsePrefix("0.0.0.0/8"), why: "unspecified address 0.0.0.0/8 (connects to the local host)"},
	{prefix: netip.MustParsePrefix("::/128"), why: "unspecified address :: (connects to the local host)"},
	{prefix: netip.MustParsePrefix("169.254.0.0/16"), why: "link-local address 169.254.0.0/16 (cloud metadata)"},
	{prefix: netip.MustParsePrefix("fe80::/10"), why: "link-local address fe80::/10"},
	{prefix: netip.MustParsePrefix("169.254.169.254/32"), why: "cloud metadata address 169.254.169.254"},
	{prefix: netip.MustParsePrefix("fd00:ec2::254/128"), why: "cloud metadata address fd00:ec2::254 (AWS)"},
	{prefix: netip.MustParsePrefix("fd00:ec2::23/128"), why: "EKS Pod Identity agent address fd00:ec2::23"},
	{prefix: netip.MustParsePrefix("fd20:ce::254/128"), why: "cloud metadata address fd20:ce::254 (GCP)"},
	{prefix: netip.MustParsePrefix("fd00:c1::a9fe:a9fe/128"), why: "cloud metadata address fd00:c1::a9fe:a9fe (Oracle Cloud)"},
	{prefix: netip.MustParsePrefix("192.0.0.192/32"), why: "cloud metadata address 192.0.0.192 (Oracle Cloud)"},
	{prefix: netip.MustParsePrefix("100.100.100.200/32"), why: "cloud metadata address 100.100.100.200 (Alibaba Cloud)"},
	{prefix: netip.MustParsePrefix("168.63.129.16/32"), why: "Azure platform address 168.63.129.16"},
	{prefix: netip.MustParsePrefix("64:ff9b:1::/48"), why: "local-use NAT64 prefix 64:ff9b:1::/48"},
}

// controlPlanePorts are the kubelet's and etcd's ports, refused on every address unless
// GuardOptions.AllowControlPlane: no S3 API listens there, and reaching them from inside
// the cluster is what an attacker would want.
var controlPlanePorts = []denyRule{
	{port: 10250, why: "port 10250 belongs to the cluster's control plane (kubelet)"},
	{port: 10255, why: "port 10255 belongs to the cluster's control plane (kubelet, read-only)"},
	{port: 2379, why: "port 2379 belongs to the cluster's control plane (etcd)"},
	{port: 2380, why: "port 2380 belongs to the cluster's control plane (etcd peers)"},
}

// metadataNames are host names that reach a cloud metadata service without an address.
var metadataNames = map[string]bool{
	"metadata.google.internal":   true,
	"metadata":                   true,
	"metadata.goog":              true,
	"instance-data":              true,
	"instance-data.ec2.internal": true,
}

// NewGuard returns a Guard that refuses the built-in addresses and names, the control
// plane unless o.AllowControlPlane, every prefix in o.Deny and, when o.Allow is not
// empty, every endpoint o.Allow does not admit. Loopback is allowed unless denied.
func NewGuard(o GuardOptions) (*Guard, error) {
	g := &Guard{}
	for _, p := range o.Deny {
		if !p.IsValid() {
			return nil, fmt.Errorf("deny entry %q is not a valid CIDR", p.String())
		}
		p = normalisePrefix(p)
		g.deny = append(g.deny, denyRule{prefix: p, why: "denied range " + p.String()})
	}
	if !o.AllowControlPlane {
		g.deny = append(g.deny, controlPlanePorts...)
		for _, ap := range o.ControlPlane {
			a := ap.Addr().Unmap().WithZone("")
			r := denyRule{prefix: netip.PrefixFrom(a, a.BitLen()), port: ap.Port()}
			shown := a.String()
			if r.port != 0 {
				shown = netip.AddrPortFrom(a, r.port).String()
			}
			r.why = shown + " belongs to the cluster's control plane"
			g.deny = append(g.deny, r)
		}
	}
	var err error
	if g.allow, err = ParseHostList(o.Allow); err != nil {
		return nil, fmt.Errorf("allow %w", err)
	}
	return g, nil
}

// CheckEndpoint refuses endpoint (host[:port]) when its host names a metadata service,
// spells a refused address, or is not admitted by the allowlist, or when its port is
// refused. It returns nil or a *Failure with ReasonEndpointForbidden.
func (g *Guard) CheckEndpoint(endpoint string) error {
	host, port := endpoint, uint16(0)
	if h, p, err := net.SplitHostPort(endpoint); err == nil {
		host = h
		if n, err := strconv.ParseUint(p, 10, 16); err == nil {
			port = uint16(n)
		}
	}
	_, err := g.checkHost(host, port, "")
	return err
}

// checkHost refuses the host of an endpoint as written, at port (0 when unknown). alias
// is the host name the endpoint was written with when host is the virtual-host-style
// name minio-go made of it ("<bucket>.<alias>"); the allowlist admits host when it
// admits alias. needAllowedAddr reports whether host is a name only an allowed CIDR can
// admit, in which case the dialled address must be checked against the allowlist.
func (g *Guard) checkHost(written string, port uint16, alias string) (needAllowedAddr bool, err error) {
	host := canonicalName(strings.TrimSuffix(strings.TrimPrefix(written, "["), "]"))
	if host == "" {
		return false, refuse(written, "", "the host is empty")
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return false, g.checkAddr(written, a, port, !g.allow.empty(), "means")
	}
	if a, numeric, ok := parseNumericIPv4(host); numeric {
		if !ok {
			return false, refuse(written, "", "it looks like a numeric IPv4 address but is not a valid one")
		}
		return false, g.checkAddr(written, a, port, !g.allow.empty(), "means")
	}
	if metadataNames[host] {
		return false, refuse(written, "", "cloud metadata host name")
	}
	if why, denied := g.deniedPort(port); denied {
		return false, refuse(written, "", why)
	}
	if g.allow.empty() || g.allow.hasName(host) || alias != "" && g.allow.hasName(alias) {
		return false, nil
	}
	if len(g.allow.prefixes) > 0 {
		return true, nil
	}
	return false, refuse(written, "", "not in --allow-endpoints")
}

// checkAddr refuses a at port when it is denied, directly or through the IPv4 address it
// carries, or, with needAllowed, when no allowed CIDR holds it. verb says how written
// relates to a ("means", "resolves to") when they differ.
func (g *Guard) checkAddr(written string, a netip.Addr, port uint16, needAllowed bool, verb string) error {
	a = a.Unmap().WithZone("")
	shown := ""
	if written != a.String() {
		shown = "it " + verb + " " + a.String() + ", "
	}
	if why, denied := g.denied(a, port); denied {
		return refuse(written, shown, why)
	}
	if v4, via, ok := embeddedIPv4(a); ok {
		if why, denied := g.denied(v4, port); denied {
			return refuse(written, "it reaches "+v4.String()+" through "+via+", ", why)
		}
	}
	if needAllowed && !g.allow.hasAddr(a) {
		return refuse(written, shown, "not in --allow-endpoints")
	}
	return nil
}

func (g *Guard) denied(a netip.Addr, port uint16) (string, bool) {
	for _, rules := range [][]denyRule{alwaysDenied, g.deny} {
		for _, r := range rules {
			if r.matches(a, port) {
				return r.why, true
			}
		}
	}
	return "", false
}

// deniedPort reports whether port is refused on every address.
func (g *Guard) deniedPort(port uint16) (string, bool) {
	for _, r := range g.deny {
		if !r.prefix.IsValid() && r.port != 0 && r.port == port {
			return r.why, true
		}
	}
	return "", false
}

// dialInfo travels from the guarded DialContext to the dialer's ControlContext in the
// context: which host name is being dialled and whether its address must be allowed.
type dialInfo struct {
	host            string
	needAllowedAddr bool
}

type dialInfoKey struct{}

// dialScope is the endpoint and bucket of the probe a request belongs to. The prober
// puts it in the requests' context, so that the guarded dialer recognises the
// virtual-host-style names minio-go dials ("<bucket>.s3.<region>.amazonaws.com") as the
// endpoint that was written.
type dialScope struct {
	host, bucket string
}

type dialScopeKey struct{}

// withDialScope returns ctx carrying the endpoint and bucket of a probe.
func withDialScope(ctx context.Context, endpoint, bucket string) context.Context {
	return context.WithValue(ctx, dialScopeKey{}, dialScope{host: canonicalName(endpointHost(endpoint)), bucket: bucket})
}

// alias returns the written host when dialled is the name minio-go makes of it for the
// bucket: "<bucket>.<host>", or, for an Amazon S3 endpoint, "<bucket>.<the bucket's
// regional Amazon S3 endpoint>". It returns "" otherwise.
func (s dialScope) alias(dialled string) string {
	if s.host == "" || s.bucket == "" {
		return ""
	}
	rest, ok := strings.CutPrefix(canonicalName(dialled), s.bucket+".")
	if ok && (rest == s.host || isAmazonS3Host(s.host) && isAmazonS3Host(rest)) {
		return s.host
	}
	if isAmazonS3Host(s.host) && isAmazonS3Host(canonicalName(dialled)) {
		return s.host
	}
	return ""
}

// control checks the address and port a connection is about to be made to.
func (g *Guard) control(address string, info dialInfo) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return refuse(address, "", "the dialled address is not an IP address")
	}
	if info.host == "" {
		return g.checkAddr(ap.Addr().WithZone("").String(), ap.Addr(), ap.Port(), info.needAllowedAddr, "means")
	}
	return g.checkAddr(info.host, ap.Addr(), ap.Port(), info.needAllowedAddr, "resolves to")
}

// dialContext wraps d so that every connection is checked twice: the host and port
// before the host is resolved, and each address after it is resolved, just before
// connecting.
func (g *Guard) dialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d.ControlContext = func(ctx context.Context, _, address string, _ syscall.RawConn) error {
		info, _ := ctx.Value(dialInfoKey{}).(dialInfo)
		return g.control(address, info)
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, portText, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		port, _ := strconv.ParseUint(portText, 10, 16)
		scope, _ := ctx.Value(dialScopeKey{}).(dialScope)
		need, err := g.checkHost(host, uint16(port), scope.alias(host))
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
