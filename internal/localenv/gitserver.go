package localenv

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The repositories every Git server of this package serves: GitRepository with one
// commit on GitBranch, and GitEmptyRepository with none. Any other path is a missing
// repository.
const (
	GitRepository      = "kratix.git"
	GitEmptyRepository = "empty.git"
	GitBranch          = "main"
)

// GitUser is a user of the Git servers: Push says whether it may push, as a token with
// write scope may; a user that may not is refused git-receive-pack, as git hosts refuse
// a read-only token or deploy key.
type GitUser struct {
	Name, Password string
	Push           bool
}

// The users of a GitServer.
var (
	GitWriter = GitUser{Name: "writer", Password: "writer-password-0123", Push: true}
	GitReader = GitUser{Name: "reader", Password: "reader-password-0123", Push: false}
)

// GitServer is the machine's git http-backend behind Go's net/http/cgi, a real
// smart-HTTP Git server, over TLS (URL) and plain HTTP (InsecureURL), with basic auth
// for GitWriter, GitReader and the tokens AddToken adds.
type GitServer struct {
	// URL is https://127.0.0.1:<port>, served with a certificate CA signed.
	URL string
	// InsecureURL is http://127.0.0.1:<port>.
	InsecureURL string
	// CA signed URL's certificate; CA.CertFile is its PEM file.
	CA *CA
	// Root holds the bare repositories.
	Root string

	git     string
	servers []*http.Server
	served  atomic.Int64
	mu      sync.Mutex
	users   map[string]GitUser
}

// Served is how many requests the server has answered, refusals included.
func (g *GitServer) Served() int64 { return g.served.Load() }

// StartGitServer makes the repositories under a new directory in dir and serves them on
// two free ports of 127.0.0.1. It needs git on PATH.
func StartGitServer(dir string) (_ *GitServer, retErr error) {
	git, err := exec.LookPath("git")
	if err != nil {
		return nil, fmt.Errorf("the Git servers need git on PATH (hack/setup-git.sh installs it): %w", err)
	}
	root := filepath.Join(dir, "git")
	if err := MakeGitRepositories(git, root); err != nil {
		return nil, err
	}
	ca, err := NewCA(dir)
	if err != nil {
		return nil, err
	}
	if err := ca.WriteServingCert(dir, "git.crt", "git.key"); err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "git.crt"), filepath.Join(dir, "git.key"))
	if err != nil {
		return nil, err
	}
	g := &GitServer{CA: ca, Root: root, git: git, users: map[string]GitUser{}}
	for _, u := range []GitUser{GitWriter, GitReader} {
		g.users[u.Name] = u
	}
	defer func() {
		if retErr != nil {
			_ = g.Stop()
		}
	}()
	for _, secure := range []bool{true, false} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		// Failed handshakes are what some tests are about; keep them out of the output.
		srv := &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
		g.servers = append(g.servers, srv)
		if secure {
			g.URL = "https://" + l.Addr().String()
			l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		} else {
			g.InsecureURL = "http://" + l.Addr().String()
		}
		go func() { _ = srv.Serve(l) }()
	}
	return g, nil
}

// AddToken lets x-access-token with password token in, as GitHub lets an App's
// installation token in; push says whether it may push.
func (g *GitServer) AddToken(token string, push bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.users["x-access-token:"+token] = GitUser{Name: "x-access-token", Password: token, Push: push}
}

// Stop stops both servers.
func (g *GitServer) Stop() error {
	var errs []error
	for _, srv := range g.servers {
		errs = append(errs, srv.Close())
	}
	return errors.Join(errs...)
}

// ServeHTTP checks basic auth, refuses receive-pack to a user that may not push, and
// hands the request to git http-backend with REMOTE_USER set.
func (g *GitServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer g.served.Add(1)
	name, password, _ := r.BasicAuth()
	u, ok := g.user(name, password)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return
	}
	if !u.Push && (r.URL.Query().Get("service") == "git-receive-pack" || strings.HasSuffix(r.URL.Path, "/git-receive-pack")) {
		http.Error(w, "this user may not push", http.StatusForbidden)
		return
	}
	h := &cgi.Handler{
		Path: g.git,
		Args: []string{"http-backend"},
		Dir:  g.Root,
		Env:  []string{"GIT_PROJECT_ROOT=" + g.Root, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=" + u.Name},
		// What git says of a missing repository is for the client, not the test's output.
		Stderr: io.Discard,
	}
	h.ServeHTTP(w, r)
}

func (g *GitServer) user(name, password string) (GitUser, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	u, ok := g.users[name]
	if name == "x-access-token" {
		u, ok = g.users[name+":"+password]
	}
	return u, ok && subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) == 1
}

// MakeGitRepositories makes GitRepository, with one empty commit on GitBranch, and
// GitEmptyRepository under root, with git.
func MakeGitRepositories(git, root string) error {
	run := func(dir, stdin string, args ...string) (string, error) {
		cmd := exec.CommandContext(context.Background(), git, args...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(stdin)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=kratix", "GIT_AUTHOR_EMAIL=kratix@example.com",
			"GIT_COMMITTER_NAME=kratix", "GIT_COMMITTER_EMAIL=kratix@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+root)
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	for _, repo := range []string{GitRepository, GitEmptyRepository} {
		path := filepath.Join(root, repo)
		if _, err := run(root, "", "init", "--quiet", "--bare", "--initial-branch="+GitBranch, path); err != nil {
			return err
		}
		// git http-backend lets REMOTE_USER push only with receive-pack on.
		if _, err := run(path, "", "config", "http.receivepack", "true"); err != nil {
			return err
		}
	}
	repo := filepath.Join(root, GitRepository)
	tree, err := run(repo, "", "mktree")
	if err != nil {
		return err
	}
	commit, err := run(repo, "", "commit-tree", tree, "-m", "kratix state store")
	if err != nil {
		return err
	}
	_, err = run(repo, "", "update-ref", "refs/heads/"+GitBranch, commit)
	return err
}
