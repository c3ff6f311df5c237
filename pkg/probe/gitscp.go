package probe

import (
	"net"
	"strconv"
	"strings"
)

// SCPLikeURL is an scp-like Git URL, user@host:path, as git reads one (connect.c): the
// host may be in brackets, for an IPv6 address ("git@[::1]:org/repo.git") or with a
// port ("git@[git.example.com:2222]:org/repo.git"), the only form of the two that
// carries a port.
type SCPLikeURL struct {
	User, Host, Path string
	// Port is empty when the URL names none: git connects to port 22. ParseSCPLike
	// checks that it is a port number.
	Port string
}

// ParseSCPLike reads raw, which Kratix's SSH URL form (user@rest, no second "@") has
// matched, as git reads it; problem says why git would not connect to an SSH host for
// it, and is empty when it would.
func ParseSCPLike(raw string) (u SCPLikeURL, problem string) {
	user, rest, ok := strings.Cut(raw, "@")
	if !ok {
		return u, `must be user@host:path`
	}
	u.User = user
	if inner, after, ok := strings.Cut(strings.TrimPrefix(rest, "["), "]"); ok && strings.HasPrefix(rest, "[") {
		path, ok := strings.CutPrefix(after, ":")
		if !ok {
			return u, `must be user@[host]:path: a bracketed host is followed by ":" and the path`
		}
		u.Host, u.Path = inner, path
		if net.ParseIP(inner) == nil {
			if host, port, err := net.SplitHostPort(inner); err == nil {
				u.Host, u.Port = host, port
			}
		}
	} else {
		colon, slash := strings.Index(rest, ":"), strings.Index(rest, "/")
		switch {
		case colon < 0:
			return u, `must be user@host:path: an scp-like URL names the repository after ":"`
		case slash >= 0 && slash < colon:
			return u, `must be user@host:path: git reads a URL with a "/" before its first ":" as a local path, not an SSH host, so it never connects`
		}
		u.Host, u.Path = rest[:colon], rest[colon+1:]
	}
	if u.Path == "" {
		return u, `must be user@host:path: an scp-like URL names the repository after ":"`
	}
	if u.Host == "" {
		return u, "must name a host"
	}
	if n, err := strconv.Atoi(u.Port); u.Port != "" && (err != nil || n < 1 || n > 65535) {
		return u, "port must be a number from 1 to 65535"
	}
	return u, ""
}
