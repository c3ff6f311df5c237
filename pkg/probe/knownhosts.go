package probe

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // OpenSSH's hashed host names are HMAC-SHA1
	"encoding/base64"
	"errors"
	"net"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// knownHosts is a known_hosts file held in memory, as a GitStateStore's Secret carries
// it: x/crypto's knownhosts package reads only files, and the webhook writes none.
type knownHosts struct {
	lines []knownHost
}

type knownHost struct {
	patterns []string
	key      ssh.PublicKey
	revoked  bool
}

var (
	errHostKeyUnknown  = errors.New("the host is not in knownHosts")
	errHostKeyMismatch = errors.New("the host key is not the one knownHosts holds")
	errHostKeyRevoked  = errors.New("the host key is marked @revoked in knownHosts")
)

// parseKnownHosts reads data as OpenSSH does: one host line or @revoked line each;
// @cert-authority lines and lines that do not parse are skipped.
func parseKnownHosts(data []byte) knownHosts {
	var k knownHosts
	for len(data) > 0 {
		marker, hosts, key, _, rest, err := ssh.ParseKnownHosts(data)
		if err != nil {
			// Skip the line that does not parse and read on.
			_, after, found := bytes.Cut(data, []byte("\n"))
			if !found {
				break
			}
			data = after
			continue
		}
		data = rest
		if marker == "cert-authority" {
			continue
		}
		k.lines = append(k.lines, knownHost{patterns: hosts, key: key, revoked: marker == "revoked"})
	}
	return k
}

// keysFor are the keys knownHosts holds for address (host:port), as OpenSSH looks them
// up: under "host" for port 22 and "[host]:port" for another port, where it falls back on
// the plain "host" lines when none names the port (a "[host]:22" line never matches).
// fallback reports whether the keys came from that fallback, which OpenSSH reads as
// "unknown", never "changed", when none of them is the server's.
func (k knownHosts) keysFor(address string) (keys []ssh.PublicKey, fallback bool) {
	if keys = k.keysNamed(knownhosts.Normalize(address)); len(keys) > 0 {
		return keys, false
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil || port == "22" {
		return nil, false
	}
	return k.keysNamed(knownhosts.Normalize(net.JoinHostPort(host, "22"))), true
}

func (k knownHosts) keysNamed(name string) []ssh.PublicKey {
	var keys []ssh.PublicKey
	for _, l := range k.lines {
		if !l.revoked && matchesHost(l.patterns, name) {
			keys = append(keys, l.key)
		}
	}
	return keys
}

// algorithms are the host key algorithms to ask the server for: those of the keys
// knownHosts holds for address first, so that a server with several keys shows the one
// knownHosts holds, then every other, as OpenSSH orders them, so that a server without
// such a key still shows one and is found to have changed.
func (k knownHosts) algorithms(address string) []string {
	var algos []string
	keys, _ := k.keysFor(address)
	for _, key := range keys {
		if key.Type() == ssh.KeyAlgoRSA {
			algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256)
			continue
		}
		algos = append(algos, key.Type())
	}
	for _, a := range ssh.SupportedAlgorithms().HostKeys {
		if !slices.Contains(algos, a) {
			algos = append(algos, a)
		}
	}
	return algos
}

// callback accepts the key that knownHosts holds for the host dialled.
func (k knownHosts) callback(address string) ssh.HostKeyCallback {
	return func(_ string, _ net.Addr, key ssh.PublicKey) error {
		for _, l := range k.lines {
			if l.revoked && bytes.Equal(l.key.Marshal(), key.Marshal()) {
				return errHostKeyRevoked
			}
		}
		known, fallback := k.keysFor(address)
		for _, kk := range known {
			if bytes.Equal(kk.Marshal(), key.Marshal()) {
				return nil
			}
		}
		if len(known) == 0 || fallback {
			return errHostKeyUnknown
		}
		return errHostKeyMismatch
	}
}

// matchesHost applies a line's patterns to host ("name" or "[name]:port"), as OpenSSH
// does: a hashed entry, or a pattern with * and ?, where a match of a negated pattern
// ("!pattern") refuses the line.
func matchesHost(patterns []string, host string) bool {
	matched := false
	for _, p := range patterns {
		negated := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		var ok bool
		if strings.HasPrefix(p, "|1|") {
			ok = hashedMatch(p, host)
		} else {
			ok = wildcardMatch(strings.ToLower(p), strings.ToLower(host))
		}
		if ok && negated {
			return false
		}
		matched = matched || ok
	}
	return matched
}

// hashedMatch checks a "|1|salt|hash" entry against host.
func hashedMatch(entry, host string) bool {
	parts := strings.Split(entry, "|")
	if len(parts) != 4 {
		return false
	}
	salt, err1 := base64.StdEncoding.DecodeString(parts[2])
	want, err2 := base64.StdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return false
	}
	mac := hmac.New(sha1.New, salt)
	mac.Write([]byte(host))
	return hmac.Equal(mac.Sum(nil), want)
}

// wildcardMatch matches host against an OpenSSH pattern, where * is any text and ? any
// one character; "[" and "]" are themselves, as in "[host]:2222".
func wildcardMatch(pattern, host string) bool {
	quoted := regexp.QuoteMeta(pattern)
	quoted = strings.ReplaceAll(strings.ReplaceAll(quoted, `\*`, ".*"), `\?`, ".")
	ok, _ := regexp.MatchString("^"+quoted+"$", host)
	return ok
}
