package testkit

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// LoadCA returns a CA known only by its certificate: one that signed a serving
// certificate somewhere else, such as the CA cert-manager keeps in a Secret. Passed as
// localenv.WebhookOptions.CA, it lets localenv.StartWebhook check a serving certificate
// that localenv did not sign. It writes certPEM to certFile.
//
// The CA can verify but not sign: WriteServingCert must not be called on it.
func LoadCA(certPEM []byte, certFile string) (*CA, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("loading a CA: no PEM CERTIFICATE block in %d bytes", len(certPEM))
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("loading a CA: %w", err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("loading a CA: %q is not a CA certificate", cert.Subject)
	}
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		return nil, err
	}
	return &CA{CertPEM: certPEM, CertFile: certFile, cert: cert}, nil
}
