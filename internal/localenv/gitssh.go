package localenv

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	gliderssh "github.com/gliderlabs/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// GitSSHServer is an SSH server on a free port of 127.0.0.1 that runs the machine's
// git-upload-pack and git-receive-pack for user git on the repositories of a GitServer,
// as git hosts do. Keys are ed25519: WriterKey may push, ReaderKey only read (its
// git-receive-pack is refused on standard error, as GitHub refuses a read-only deploy
// key).
type GitSSHServer struct {
	// Addr is 127.0.0.1:<port>.
	Addr string
	// URL is ssh://git@<Addr>/<GitRepository>.
	URL string
	// KnownHosts is a known_hosts line for Addr and the server's host key.
	KnownHosts []byte
	// WriterKey and ReaderKey are OpenSSH PEM private keys the server authorizes.
	WriterKey, ReaderKey []byte

	srv      *gliderssh.Server
	root     string
	git      string
	pushKeys map[string]bool // authorized keys, by their wire form, and whether they may push
}

// StartGitSSHServer serves the repositories under root (a GitServer's Root) over SSH.
func StartGitSSHServer(root string) (*GitSSHServer, error) {
	git, err := exec.LookPath("git")
	if err != nil {
		return nil, fmt.Errorf("the Git servers need git on PATH (hack/setup-git.sh installs it): %w", err)
	}
	g := &GitSSHServer{root: root, git: git, pushKeys: map[string]bool{}}
	hostSigner, _, err := NewSSHKey()
	if err != nil {
		return nil, err
	}
	for _, push := range []bool{true, false} {
		signer, pemKey, err := NewSSHKey()
		if err != nil {
			return nil, err
		}
		g.pushKeys[string(signer.PublicKey().Marshal())] = push
		if push {
			g.WriterKey = pemKey
		} else {
			g.ReaderKey = pemKey
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g.Addr = l.Addr().String()
	g.URL = "ssh://git@" + g.Addr + "/" + GitRepository
	g.KnownHosts = []byte(knownhosts.Line([]string{knownhosts.Normalize(g.Addr)}, hostSigner.PublicKey()) + "\n")
	g.srv = &gliderssh.Server{
		Handler: g.handle,
		PublicKeyHandler: func(ctx gliderssh.Context, key gliderssh.PublicKey) bool {
			_, ok := g.pushKeys[string(key.Marshal())]
			return ok && ctx.User() == "git"
		},
	}
	g.srv.AddHostKey(hostSigner)
	go func() { _ = g.srv.Serve(l) }()
	return g, nil
}

// NewSSHKey makes an ed25519 key: its signer and its OpenSSH PEM form.
func NewSSHKey() (ssh.Signer, []byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, nil, err
	}
	return signer, pem.EncodeToMemory(block), nil
}

// Stop closes the server and its connections.
func (g *GitSSHServer) Stop() error { return g.srv.Close() }

// handle runs "git-upload-pack '<path>'" or "git-receive-pack '<path>'".
func (g *GitSSHServer) handle(s gliderssh.Session) {
	service, quoted, _ := strings.Cut(s.RawCommand(), " ")
	repo := strings.Trim(quoted, "'")
	dir := filepath.Join(g.root, path.Clean("/"+repo))
	if service != "git-upload-pack" && service != "git-receive-pack" {
		_, _ = io.WriteString(s.Stderr(), "only git-upload-pack and git-receive-pack are served\n")
		_ = s.Exit(1)
		return
	}
	if service == "git-receive-pack" && !g.pushKeys[string(s.PublicKey().Marshal())] {
		_, _ = io.WriteString(s.Stderr(), "ERROR: The key you are authenticating with has been marked as read only.\n")
		_ = s.Exit(1)
		return
	}
	cmd := exec.CommandContext(s.Context(), g.git, strings.TrimPrefix(service, "git-"), dir)
	cmd.Stdout, cmd.Stderr = s, s.Stderr()
	// Copied apart from cmd, whose Wait would otherwise wait for the client to close its
	// side after the command has ended.
	stdin, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err == nil {
		go func() { _, _ = io.Copy(stdin, s); _ = stdin.Close() }()
		err = cmd.Wait()
	}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		_ = s.Exit(exit.ExitCode())
	case err != nil:
		_ = s.Exit(1)
	default:
		_ = s.Exit(0)
	}
}
