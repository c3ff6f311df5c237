package admission

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // known_hosts hashes host names with HMAC-SHA1
	"encoding/base64"
	"fmt"
	"net"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kratix-community/statestore-webhook/api/v1alpha1"
)

// WarningKnownHostsBadLines takes the number of lines, the key and the Secret (quoted
// with quoteShort).
const WarningKnownHostsBadLines = "%d line(s) of key %q of Secret %s are not known_hosts lines; ssh skips them"

// validateKnownHosts checks the knownHosts Kratix gives ssh, which it runs with
// StrictHostKeyChecking=yes: an entry must name the URL's host, as OpenSSH looks it up
// (host; for a port other than 22, [host]:port or, as a fallback, host), or ssh refuses
// to connect ("Host key verification failed"). Lines that do not parse are skipped by ssh, so they only warn.
func validateKnownHosts(data []byte, u gitURL, shown string, fldPath *field.Path) (field.ErrorList, []string) {
	key := v1alpha1.SecretKeyKnownHosts
	if u.host == "" {
		return nil, nil // the URL's rule reports it
	}
	port := u.port
	if port == "" {
		port = "22"
	}
	address := knownhosts.Normalize(net.JoinHostPort(u.host, port))
	// OpenSSH falls back to the plain host's entries for another port.
	addresses := []string{address, knownhosts.Normalize(net.JoinHostPort(u.host, "22"))}
	found, bad := false, 0
	for _, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		marker, hosts, _, _, _, err := ssh.ParseKnownHosts(line)
		switch {
		case err != nil:
			bad++
		case marker != "revoked" && (hostsMatch(hosts, addresses[0]) || hostsMatch(hosts, addresses[1])):
			found = true
		}
	}
	var warnings []string
	if bad > 0 {
		warnings = append(warnings, fmt.Sprintf(WarningKnownHostsBadLines, bad, key, quoteShort(shown)))
	}
	if !found {
		scan := "ssh-keyscan " + u.host
		if port != "22" {
			scan = fmt.Sprintf("ssh-keyscan -p %s %s", port, u.host)
		}
		return field.ErrorList{field.Invalid(fldPath, shown, fmt.Sprintf("key %q of Secret %s has no entry for %s, so ssh refuses the host (Kratix runs it with StrictHostKeyChecking=yes); add the host's key, e.g. from %s, checked against what the host's owner publishes", key, shown, quoteShort(address), quoteShort(scan)))}, warnings
	}
	return nil, warnings
}

// hostsMatch reports whether the patterns of a known_hosts line match address, as
// OpenSSH matches them: hashed names (|1|salt|hash), wildcards * and ?, and negations
// (!pattern), which win.
func hostsMatch(patterns []string, address string) bool {
	matched := false
	for _, p := range patterns {
		negated := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		var ok bool
		if strings.HasPrefix(p, "|1|") {
			ok = hashedHostMatch(p, address)
		} else {
			ok = wildcardMatch(strings.ToLower(p), strings.ToLower(address))
		}
		if ok && negated {
			return false
		}
		matched = matched || ok
	}
	return matched
}

// hashedHostMatch reports whether the hashed entry |1|salt|hash names address.
func hashedHostMatch(entry, address string) bool {
	parts := strings.Split(strings.TrimPrefix(entry, "|1|"), "|")
	if len(parts) != 2 {
		return false
	}
	salt, err1 := base64.StdEncoding.DecodeString(parts[0])
	want, err2 := base64.StdEncoding.DecodeString(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	mac := hmac.New(sha1.New, salt)
	mac.Write([]byte(address))
	return hmac.Equal(mac.Sum(nil), want)
}

// wildcardMatch matches s against pattern, where * stands for any run of characters and
// ? for one. It backtracks only to the last *, so it takes at most len(pattern)*len(s)
// steps whatever a Secret's patterns hold.
func wildcardMatch(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
