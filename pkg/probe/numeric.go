package probe

import (
	"net/netip"
	"strconv"
	"strings"
)

// parseNumericIPv4 reads the spellings of an IPv4 address that inet_aton accepts and
// net/netip does not: one to four parts, each decimal, octal (leading 0) or hexadecimal
// (leading 0x), the last part filling the remaining bytes ("2852039166",
// "0251.0376.0251.0376", "0xa9fea9fe", "169.254.43518"). numeric reports whether host
// looks like such a spelling at all; ok whether it is a valid one.
func parseNumericIPv4(host string) (a netip.Addr, numeric, ok bool) {
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false, false
	}
	for _, p := range parts {
		if !isNumericPart(p) {
			return netip.Addr{}, false, false
		}
	}
	var v uint64
	for i, p := range parts {
		n, err := parseNumericPart(p)
		if err != nil {
			return netip.Addr{}, true, false
		}
		if i < len(parts)-1 {
			if n > 0xff {
				return netip.Addr{}, true, false
			}
			v = v<<8 | n
			continue
		}
		rest := uint(8 * (4 - i))
		if n >= 1<<rest {
			return netip.Addr{}, true, false
		}
		v = v<<rest | n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true, true
}

func isNumericPart(p string) bool {
	if p == "" {
		return false
	}
	digits := p
	hex := strings.HasPrefix(p, "0x") || strings.HasPrefix(p, "0X")
	if hex {
		digits = p[2:]
	}
	for _, r := range digits {
		if !(r >= '0' && r <= '9' || hex && (r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F')) {
			return false
		}
	}
	return true
}

func parseNumericPart(p string) (uint64, error) {
	switch {
	case strings.HasPrefix(p, "0x"), strings.HasPrefix(p, "0X"):
		if len(p) == 2 {
			return 0, nil
		}
		return strconv.ParseUint(p[2:], 16, 32)
	case len(p) > 1 && p[0] == '0':
		return strconv.ParseUint(p[1:], 8, 32)
	default:
		return strconv.ParseUint(p, 10, 32)
	}
}
