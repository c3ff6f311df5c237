package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// portLocks takes, in ascending order so two demos cannot deadlock, an exclusive lock
// per port in the system's temporary directory, each file holding its owner's pid. It
// waits up to wait for locks another process holds; with wait 0 it fails at once.
// notify, when not nil, hears once that it waits and for whom.
func portLocks(ctx context.Context, ports []int, wait time.Duration, notify io.Writer) (func(), error) {
	ports = slices.Sorted(slices.Values(ports))
	var files []*os.File
	release := func() {
		for _, f := range files {
			_ = f.Truncate(0)
			f.Close()
		}
	}
	deadline := time.Now().Add(wait)
	told := false
	for _, port := range ports {
		path := filepath.Join(os.TempDir(), "bucketstatestore-demo-port-"+strconv.Itoa(port)+".lock")
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			release()
			return nil, err
		}
		for {
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
			if !errors.Is(err, syscall.EWOULDBLOCK) {
				break
			}
			holder := lockHolder(path)
			if time.Now().After(deadline) {
				f.Close()
				release()
				if wait > 0 {
					return nil, fmt.Errorf("port %d is still held by another demo (%s) after waiting %s; stop it and try again", port, holder, wait)
				}
				return nil, fmt.Errorf("port %d is held by another demo (%s): stop it, or run on other ports with --http-port, --https-port, --git-https-port and --git-ssh-port (the examples name 127.0.0.1:%d, :%d, :%d and :%d, so edit their endpoint or url too)",
					port, holder, DefaultHTTPPort, DefaultHTTPSPort, DefaultGitHTTPSPort, DefaultGitSSHPort)
			}
			if notify != nil && !told {
				fmt.Fprintf(notify, "waiting up to %s for port %d, held by another demo (%s)\n", wait, port, holder)
				told = true
			}
			select {
			case <-ctx.Done():
				f.Close()
				release()
				return nil, ctx.Err()
			case <-time.After(500 * time.Millisecond):
			}
		}
		if err != nil {
			f.Close()
			release()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		files = append(files, f)
		_ = f.Truncate(0)
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())), 0)
	}
	return release, nil
}

// lockHolder describes the process whose pid a lock file holds.
func lockHolder(path string) string {
	b, err := os.ReadFile(path)
	pid := strings.TrimSpace(string(b))
	if err != nil || pid == "" {
		return "pid unknown"
	}
	cmdline, err := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
	if err != nil || len(cmdline) == 0 {
		return "pid " + pid
	}
	return "pid " + pid + ": " + strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
}

// listen listens on 127.0.0.1:port and explains a busy port.
func listen(port int, flagName string) (net.Listener, error) {
	addr := net.JoinHostPort(Host, strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%s is already in use by another program (see `ss -ltnp 'sport = :%d'`); stop it, or choose another port with %s", addr, port, flagName)
	}
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return l, nil
}

// forwarder copies every connection it accepts to target, byte for byte: TLS passes
// through untouched and HTTP keeps its Host header, so S3 signatures made for the
// forwarder's address still verify. A TLS listener ends TLS in front of a plain target.
type forwarder struct {
	l      net.Listener
	target string

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func forward(l net.Listener, target string) *forwarder {
	f := &forwarder{l: l, target: target, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.serve()
	return f
}

func (f *forwarder) serve() {
	defer f.wg.Done()
	for {
		in, err := f.l.Accept()
		if err != nil {
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.pipe(in)
		}()
	}
}

func (f *forwarder) pipe(in net.Conn) {
	out, err := net.DialTimeout("tcp", f.target, 5*time.Second)
	if err != nil {
		in.Close()
		return
	}
	if !f.track(in, out) {
		in.Close()
		out.Close()
		return
	}
	defer f.untrack(in, out)
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// Pass the half-close on, so a client that has sent its request and waits for
		// the answer still gets it.
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(out, in)
	go cp(in, out)
	<-done
	<-done
	in.Close()
	out.Close()
}

func (f *forwarder) track(conns ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	for _, c := range conns {
		f.conns[c] = struct{}{}
	}
	return true
}

func (f *forwarder) untrack(conns ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range conns {
		delete(f.conns, c)
	}
}

// close stops accepting, cuts every open connection and waits for the copies to end.
func (f *forwarder) close() {
	f.mu.Lock()
	f.closed = true
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.l.Close()
	f.wg.Wait()
}
