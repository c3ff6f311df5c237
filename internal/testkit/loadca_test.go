package testkit

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadCAVerifiesWhatTheOriginalSigned checks that a CA loaded from another's
// certificate trusts the serving certificates that other CA signs, and nothing else.
func TestLoadCAVerifiesWhatTheOriginalSigned(t *testing.T) {
	dir := t.TempDir()
	original, err := NewCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := original.WriteServingCert(dir, "tls.crt", "tls.key"); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadCA(original.CertPEM, filepath.Join(dir, "loaded.crt"))
	if err != nil {
		t.Fatalf("LoadCA: %v", err)
	}
	if written, err := os.ReadFile(loaded.CertFile); err != nil || string(written) != string(original.CertPEM) {
		t.Errorf("%s holds %q (%v), want the CA certificate", loaded.CertFile, written, err)
	}
	serving, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := serving.Leaf.Verify(x509.VerifyOptions{Roots: loaded.Pool()}); err != nil {
		t.Errorf("the loaded CA does not verify a certificate the original signed: %v", err)
	}
	other, err := NewCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := serving.Leaf.Verify(x509.VerifyOptions{Roots: other.Pool()}); err == nil {
		t.Error("an unrelated CA verifies the serving certificate")
	}
}

func TestLoadCARejectsWhatIsNotACACertificate(t *testing.T) {
	dir := t.TempDir()
	ca, err := NewCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteServingCert(dir, "tls.crt", "tls.key"); err != nil {
		t.Fatal(err)
	}
	leaf, err := os.ReadFile(filepath.Join(dir, "tls.crt"))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		pem  []byte
		want string
	}{
		"no PEM at all":         {pem: []byte("not a certificate"), want: "no PEM CERTIFICATE block"},
		"a serving certificate": {pem: leaf, want: "is not a CA certificate"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadCA(tc.pem, filepath.Join(t.TempDir(), "ca.crt"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadCA error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
