package server

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// MaxClientCAFileSize bounds the client CA file: a bundle of a few hundred certificates
// fits with room to spare.
const MaxClientCAFileSize = 1 << 20

// ClientCACheckInterval is how often, at most, the client CA file is read again to pick
// up a rotated CA. It is read on a handshake, so an idle server reads nothing.
const ClientCACheckInterval = time.Second

// clientAuth requires every client of the webhook server to present a certificate that
// a CA in a file signed and, when names is not empty, that names one of them as its
// common name or a DNS name. The file is read again when it changes.
type clientAuth struct {
	path  string
	names []string
	log   logr.Logger
	now   func() time.Time

	mu      sync.Mutex
	pem     []byte // the file as last read, parsed or not
	pool    *x509.CertPool
	checked time.Time
	// pemInvalid: pem did not parse, so pool is from an older file.
	pemInvalid bool
}

// setStale sets statestore_webhook_client_ca_stale.
func (a *clientAuth) setStale(stale bool) {
	v := 0.0
	if stale {
		v = 1
	}
	clientCAStale.Set(v)
}

// newClientAuth reads the CA file; an unreadable or invalid file is an error here, and
// only logged (the previous CAs stay) when the file is read again.
func newClientAuth(path string, names []string, log logr.Logger, now func() time.Time) (*clientAuth, error) {
	a := &clientAuth{path: path, names: names, log: log, now: now}
	data, err := readBounded(path, MaxClientCAFileSize)
	if err != nil {
		return nil, fmt.Errorf("reading the client CA file: %w", err)
	}
	if a.pool, err = parsePool(data); err != nil {
		return nil, fmt.Errorf("client CA file %s: %w", path, err)
	}
	a.pem, a.checked = data, now()
	a.setStale(false)
	return a, nil
}

// configure makes c require client certificates verified against the current CAs.
// Each handshake gets a copy of c (taken then, so it includes what is set on c after
// configure, such as the serving certificate) with the CAs of the moment.
func (a *clientAuth) configure(c *tls.Config) {
	c.ClientAuth = tls.RequireAndVerifyClientCert
	c.VerifyConnection = a.verifyNames
	c.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		cc := c.Clone()
		cc.GetConfigForClient = nil
		cc.ClientCAs = a.current()
		return cc, nil
	}
}

// current returns the CA pool, reading the file again first if it was last read more
// than ClientCACheckInterval ago. A file that cannot be read or holds no certificate (an
// emptied one, say, in the middle of a rotation) keeps the CAs read before in use, so
// that a bad write does not lock the API server out; statestore_webhook_client_ca_stale
// says so until a valid file is read.
func (a *clientAuth) current() *x509.CertPool {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if now.Sub(a.checked) < ClientCACheckInterval {
		return a.pool
	}
	a.checked = now
	data, err := readBounded(a.path, MaxClientCAFileSize)
	if err != nil {
		a.log.Error(err, "reading the client CA file again; the CAs read before stay in use", "file", a.path)
		a.setStale(true)
		return a.pool
	}
	if bytes.Equal(data, a.pem) {
		// Readable again; stale still when what it holds did not parse.
		a.setStale(a.pemInvalid)
		return a.pool
	}
	a.pem = data // a file that does not parse is reported once, not at every handshake
	pool, err := parsePool(data)
	if err != nil {
		a.log.Error(err, "the client CA file changed but is not valid; the CAs read before stay in use", "file", a.path)
		a.pemInvalid = true
		a.setStale(true)
		return a.pool
	}
	a.pool, a.pemInvalid = pool, false
	a.setStale(false)
	a.log.Info("client CA file reloaded", "file", a.path)
	return a.pool
}

// verifyNames refuses a verified client certificate that carries none of the names.
func (a *clientAuth) verifyNames(cs tls.ConnectionState) error {
	if len(a.names) == 0 {
		return nil
	}
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no client certificate")
	}
	leaf := cs.PeerCertificates[0]
	if slices.Contains(a.names, leaf.Subject.CommonName) || slices.ContainsFunc(leaf.DNSNames, func(n string) bool { return slices.Contains(a.names, n) }) {
		return nil
	}
	return fmt.Errorf("client certificate (common name %q, DNS names %q) carries none of the allowed names %q", leaf.Subject.CommonName, leaf.DNSNames, a.names)
}

func parsePool(data []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, errors.New("holds no PEM certificate")
	}
	return pool, nil
}

// readBounded reads a file of at most limit bytes.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}
