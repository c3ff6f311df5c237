package probe

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/kratix-community/statestore-webhook/internal/localenv"
)

func TestKnownHostsReadsLinesAsOpenSSHDoes(t *testing.T) {
	newKey := func() ssh.PublicKey {
		signer, _, err := localenv.NewSSHKey()
		if err != nil {
			t.Fatal(err)
		}
		return signer.PublicKey()
	}
	server, other := newKey(), newKey()
	line := func(pattern string, key ssh.PublicKey) string {
		return pattern + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
	}
	tests := map[string]struct {
		knownHosts string
		address    string
		want       error
	}{
		"the host's key on port 22 is accepted":                       {line("git.example.com", server), "git.example.com:22", nil},
		"a plain host line holds the host's key on another port too":  {line("git.example.com", server), "git.example.com:2222", nil},
		"another key on a plain host line is unknown on another port": {line("git.example.com", other), "git.example.com:2222", errHostKeyUnknown},
		"a bracketed line for port 22 is not read for port 22":        {line("[git.example.com]:22", server), "git.example.com:22", errHostKeyUnknown},
		"a bracketed line wins over the plain host line":              {line("[git.example.com]:2222", other) + "\n" + line("git.example.com", server), "git.example.com:2222", errHostKeyMismatch},
		"a bracketed wildcard entry is accepted":                      {line("[git.example.*]:2222", server), "git.example.com:2222", nil},
		"the bracketed form on another port is accepted":              {line("[git.example.com]:2222", server), "git.example.com:2222", nil},
		"a hashed entry is accepted":                                  {line(knownhosts.HashHostname("git.example.com"), server), "git.example.com:22", nil},
		"a wildcard entry is accepted":                                {line("*.example.com", server), "git.example.com:22", nil},
		"a negated pattern refuses the line":                          {line("*.example.com,!git.example.com", server), "git.example.com:22", errHostKeyUnknown},
		"one of several hosts on a line is accepted":                  {line("a.example.com,git.example.com", server), "git.example.com:22", nil},
		"another key for the host is a mismatch":                      {line("git.example.com", other), "git.example.com:22", errHostKeyMismatch},
		"a revoked key is refused even when listed":                   {"@revoked * " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(server))) + "\n" + line("git.example.com", server), "git.example.com:22", errHostKeyRevoked},
		"a line that does not parse is skipped and the rest is read":  {"garbage line\n" + line("git.example.com", server), "git.example.com:22", nil},
		"an empty knownHosts knows no host":                           {"", "git.example.com:22", errHostKeyUnknown},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			k := parseKnownHosts([]byte(tc.knownHosts))

			err := k.callback(tc.address)(tc.address, nil, server)

			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}
