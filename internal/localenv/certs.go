package localenv

import "github.com/kratix-community/statestore-webhook/internal/testkit"

// CA is the environment's throw-away certificate authority: the API server trusts it
// through the webhook configurations' caBundle; the webhook trusts it (for MinIO)
// through SSL_CERT_FILE.
type CA = testkit.CA

// NewCA makes a CA and writes its certificate to dir/ca.crt.
func NewCA(dir string) (*CA, error) { return testkit.NewCA(dir) }
