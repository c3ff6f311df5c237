package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"golang.org/x/crypto/ssh"
)

// maxSSHStderrBytes bounds what the probe keeps of a Git command's standard error, for
// the log only.
const maxSSHStderrBytes = 4 << 10

// probeSSH connects to t's SSH server through the guard, checks its host key against
// knownHosts, authenticates with sshPrivateKey as the URL's user, and reads the
// upload-pack and then the receive-pack advertisement, each in a session of its own on
// the one connection, as ls-remote and the start of a push would.
func (p *GitRepoProber) probeSSH(s gitScene) error {
	t, ep := s.target, s.ep
	c := t.Credentials
	if c == nil || len(c.SSHPrivateKey) == 0 {
		return &Failure{Reason: ReasonCredentialsUnavailable, Message: "authMethod ssh needs sshPrivateKey and knownHosts from the Secret"}
	}
	if bytes.Contains(c.SSHPrivateKey, []byte("\r")) || !bytes.HasPrefix(c.SSHPrivateKey, []byte("-----BEGIN ")) {
		// Go parses such a key; the OpenSSH that Kratix's git runs does not.
		return &Failure{Reason: ReasonCredentialsUnavailable, Message: "sshPrivateKey in the Secret must start with -----BEGIN and have LF line ends, or Kratix's ssh cannot load it"}
	}
	signer, err := ssh.ParsePrivateKey(c.SSHPrivateKey)
	var passphrase *ssh.PassphraseMissingError
	if errors.As(err, &passphrase) {
		return &Failure{Reason: ReasonCredentialsUnavailable, Message: "sshPrivateKey in the Secret needs a passphrase, which Kratix cannot give; use a key without one"}
	}
	if err != nil {
		return &Failure{Reason: ReasonCredentialsUnavailable, Message: "sshPrivateKey in the Secret is not an SSH private key"}
	}
	addr := gitHostPort(ep)
	hosts := parseKnownHosts(c.KnownHosts)
	conn, err := p.dial(s.ctx, "tcp", addr)
	if err != nil {
		return classifyGit(err, s)
	}
	defer func() { _ = conn.Close() }()
	// The end of the budget closes the connection, which ends whatever step waits on it.
	stop := context.AfterFunc(s.ctx, func() { _ = conn.Close() })
	defer stop()
	cc, chans, reqs, err := ssh.NewClientConn(conn, addr, &ssh.ClientConfig{
		User:              ep.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback:   hosts.callback(addr),
		HostKeyAlgorithms: hosts.algorithms(addr),
	})
	if err != nil {
		return classifySSH(err, s)
	}
	client := ssh.NewClient(cc, chans, reqs)
	defer func() { _ = client.Close() }()
	for _, service := range []string{transport.UploadPackServiceName, transport.ReceivePackServiceName} {
		s.service = service
		if err := advertisementSSH(client, s); err != nil {
			return err
		}
	}
	return nil
}

// advertisementSSH runs s.service for the URL's path and reads its advertisement.
func advertisementSSH(client *ssh.Client, s gitScene) error {
	session, err := client.NewSession()
	if err != nil {
		return classifySSH(err, s)
	}
	defer func() { _ = session.Close() }()
	stdin, err := session.StdinPipe()
	if err != nil {
		return classifySSH(err, s)
	}
	stdout, err := session.StdoutPipe()
	if err != nil {
		return classifySSH(err, s)
	}
	stderr := &headBuffer{left: maxSSHStderrBytes}
	session.Stderr = stderr
	if err := session.Start(s.service + " " + shellQuote(s.ep.Path)); err != nil {
		return classifySSH(err, s)
	}
	ar, err := readAdvertisement(stdout, s.wantRef())
	if errors.Is(err, packp.ErrEmptyInput) {
		// The command ended without a word: the server refused it (no such
		// repository, or no right to push), on standard error, which is not repeated.
		waitErr := fmt.Errorf("%v; standard error: %q", session.Wait(), stderr.String())
		if s.ctx.Err() != nil {
			return gitContextFailure(s)
		}
		if s.service == transport.ReceivePackServiceName {
			f := noPushFailure(s, "the SSH server ended git-receive-pack without an advertisement")
			f.Err = waitErr
			return f
		}
		f := repositoryNotFound(s, "the SSH server ended git-upload-pack without an advertisement")
		f.Err = waitErr
		return f
	}
	// A flush-pkt tells the command that the client wants nothing more, as ls-remote does.
	_, _ = stdin.Write([]byte("0000"))
	_ = stdin.Close()
	return s.checkAdvertisement(ar, err)
}

// headBuffer keeps the first left bytes written to it and drops the rest, so a command's
// standard error can go to the log, never to the user, without holding it all.
type headBuffer struct {
	bytes.Buffer
	left int
}

func (b *headBuffer) Write(p []byte) (int, error) {
	n := min(len(p), b.left)
	b.Buffer.Write(p[:n])
	b.left -= n
	return len(p), nil
}

// classifySSH reads an error of the SSH handshake or of a session.
func classifySSH(err error, s gitScene) *Failure {
	addr := gitHostPort(s.ep)
	switch {
	case errors.Is(err, errHostKeyUnknown):
		return &Failure{Reason: ReasonHostKeyUnknown, Message: fmt.Sprintf(
			"knownHosts has no key for %q; add the SSH server's host key for it, as ssh-keyscan prints it", knownHostsName(addr)), Err: err}
	case errors.Is(err, errHostKeyMismatch), errors.Is(err, errHostKeyRevoked):
		return &Failure{Reason: ReasonHostKeyMismatch, Message: fmt.Sprintf(
			"the host key of %q is not the one knownHosts holds for it; if the server's key really changed, replace its line in knownHosts", addr), Err: err}
	case strings.Contains(err.Error(), "unable to authenticate"):
		return &Failure{Reason: ReasonAuthenticationFailed, Message: fmt.Sprintf(
			"the SSH server at %q refused sshPrivateKey for user %q; authorize the key for the repository, or fix sshPrivateKey", addr, s.ep.User), Err: err}
	}
	var netErr net.Error
	if s.ctx.Err() != nil || errors.As(err, &netErr) && netErr.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		if s.ctx.Err() != nil {
			return gitContextFailure(s)
		}
		return &Failure{Reason: ReasonTimeout, Message: fmt.Sprintf("timed out after %s", s.budget) + gitTimeoutAdvice, Err: err}
	}
	if errors.Is(err, io.EOF) || strings.HasPrefix(err.Error(), "ssh: ") {
		return notGitFailure(s, err)
	}
	return classifyGit(err, s)
}

// knownHostsName is how known_hosts names addr: the host alone on port 22.
func knownHostsName(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	if port == "22" {
		return host
	}
	return "[" + host + "]:" + port
}

// shellQuote quotes a repository path for the command line the server runs, as git does.
func shellQuote(path string) string {
	return "'" + strings.ReplaceAll(path, "'", `'\''`) + "'"
}
