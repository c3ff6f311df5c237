package probe

import "net/netip"

// embedding is a standard IPv6 prefix whose addresses carry an IPv4 address that a
// translator or tunnel delivers packets to.
type embedding struct {
	prefix netip.Prefix
	// via names the mechanism in a refusal: "it reaches 169.254.169.254 through <via>".
	via string
	// at is the byte of the IPv6 address where the IPv4 address starts.
	at int
	// inverted means the IPv4 address is stored with every bit flipped (Teredo).
	inverted bool
}

// embeddings lists where the standard prefixes carry an IPv4 address. IPv4-mapped
// addresses (::ffff:a.b.c.d) are not here: they are unmapped before any check, and so
// are checked as the IPv4 address they are. The local-use NAT64 prefix 64:ff9b:1::/48
// is refused as a whole (alwaysDenied), because where it carries the IPv4 address
// depends on the length the network chose.
var embeddings = []embedding{
	{prefix: netip.MustParsePrefix("64:ff9b::/96"), via: "NAT64", at: 12},               // RFC 6052
	{prefix: netip.MustParsePrefix("::ffff:0:0:0/96"), via: "SIIT", at: 12},             // RFC 2765
	{prefix: netip.MustParsePrefix("::/96"), via: "an IPv4-compatible address", at: 12}, // RFC 4291
	{prefix: netip.MustParsePrefix("2002::/16"), via: "6to4", at: 2},                    // RFC 3056
	{prefix: netip.MustParsePrefix("2001::/32"), via: "Teredo", at: 12, inverted: true}, // RFC 4380
}

// ipv6Loopback is ::1, which lies in the IPv4-compatible prefix but is not one.
var ipv6Loopback = netip.IPv6Loopback()

// embeddedIPv4 returns the IPv4 address a carries, if a lies in one of the embeddings'
// prefixes, and how it is reached.
func embeddedIPv4(a netip.Addr) (v4 netip.Addr, via string, ok bool) {
	if !a.Is6() || a.Is4In6() || a == ipv6Loopback || a == netip.IPv6Unspecified() {
		return netip.Addr{}, "", false
	}
	b := a.As16()
	for _, e := range embeddings {
		if !e.prefix.Contains(a) {
			continue
		}
		var v [4]byte
		copy(v[:], b[e.at:e.at+4])
		if e.inverted {
			for i := range v {
				v[i] ^= 0xff
			}
		}
		return netip.AddrFrom4(v), e.via, true
	}
	return netip.Addr{}, "", false
}
