package probe

import (
	"fmt"
	"net/netip"
	"strings"
)

// HostList is a list of endpoints an operator names in a flag: host names
// ("s3.example.com", or "*.example.com" for its subdomains), addresses and CIDRs. The
// guard's allowlist and the endpoints that may receive the webhook's IAM identity are
// HostLists.
type HostList struct {
	names    []string
	prefixes []netip.Prefix
}

// ParseHostList reads entries; an entry that is neither a host name, a "*.name"
// wildcard, an address nor a CIDR is an error.
func ParseHostList(entries []string) (HostList, error) {
	var l HostList
	for _, entry := range entries {
		e := strings.TrimSpace(entry)
		if p, err := netip.ParsePrefix(e); err == nil {
			l.prefixes = append(l.prefixes, normalisePrefix(p))
			continue
		}
		if a, err := netip.ParseAddr(strings.Trim(e, "[]")); err == nil {
			a = a.Unmap().WithZone("")
			l.prefixes = append(l.prefixes, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		name := canonicalName(e)
		if !isHostPattern(name) {
			return HostList{}, fmt.Errorf("entry %q is neither a host name nor a CIDR", entry)
		}
		l.names = append(l.names, name)
	}
	return l, nil
}

// empty reports whether the list has no entries.
func (l HostList) empty() bool {
	return len(l.names)+len(l.prefixes) == 0
}

// hasName reports whether a canonical host name is listed, by name or by wildcard.
func (l HostList) hasName(host string) bool {
	for _, n := range l.names {
		if n == host || (strings.HasPrefix(n, "*.") && strings.HasSuffix(host, n[1:])) {
			return true
		}
	}
	return false
}

// hasAddr reports whether a lies in a listed address or CIDR.
func (l HostList) hasAddr(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range l.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

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

// ParseCIDRs reads a list of CIDRs, such as --deny-cidrs, masking each; an entry that is
// not a CIDR is an error.
func ParseCIDRs(entries []string) ([]netip.Prefix, error) {
	prefixes := make([]netip.Prefix, 0, len(entries))
	for _, cidr := range entries {
		p, err := netip.ParsePrefix(strings.TrimSpace(cidr))
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR", cidr)
		}
		prefixes = append(prefixes, p.Masked())
	}
	return prefixes, nil
}
