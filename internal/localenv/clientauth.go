package localenv

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	"github.com/kratix-community/statestore-webhook/internal/testkit"
)

// APIServerClientName is the common name of the client certificate the API server
// presents to the webhook when client authentication is on; the webhook requires it
// with --client-cert-names.
const APIServerClientName = "kube-apiserver-webhook-client"

// WebhookClient is the client certificate the API server presents when it calls the
// webhook at HostPort.
type WebhookClient struct {
	// HostPort is the webhook's host:port as the webhook configurations' URLs name it.
	HostPort string
	// CertFile and KeyFile are the client certificate and its key, PEM.
	CertFile, KeyFile string
}

// writeAdmissionConfig writes to dir an AdmissionConfiguration whose webhook admission
// plugins read a kubeconfig in which the user named c.HostPort (the API server looks
// a webhook's credentials up by its host:port) has c's client certificate, and returns
// the AdmissionConfiguration's path, the value of --admission-control-config-file.
func writeAdmissionConfig(dir string, c WebhookClient) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	kubeconfig := filepath.Join(dir, "webhook-client.kubeconfig")
	cfg := clientcmdapi.NewConfig()
	cfg.AuthInfos[c.HostPort] = &clientcmdapi.AuthInfo{ClientCertificate: c.CertFile, ClientKey: c.KeyFile}
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		return "", fmt.Errorf("writing the API server's webhook kubeconfig: %w", err)
	}
	plugin := func(name string) map[string]any {
		return map[string]any{"name": name, "configuration": map[string]any{
			"apiVersion":     "apiserver.config.k8s.io/v1",
			"kind":           "WebhookAdmissionConfiguration",
			"kubeConfigFile": kubeconfig,
		}}
	}
	data, err := yaml.Marshal(map[string]any{
		"apiVersion": "apiserver.config.k8s.io/v1",
		"kind":       "AdmissionConfiguration",
		"plugins":    []any{plugin("ValidatingAdmissionWebhook"), plugin("MutatingAdmissionWebhook")},
	})
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "admission-configuration.yaml")
	return path, os.WriteFile(path, data, 0o600)
}

// TLSConfig returns a client configuration for calling the webhook directly: it trusts
// the serving CA for ServerName and, when the webhook requires client certificates, presents one as
// the API server's.
func (w *Webhook) TLSConfig() (*tls.Config, error) {
	c := w.opts.CA.TLSConfig()
	if w.opts.ClientCA != nil {
		cert, err := w.opts.ClientCA.ClientCert(w.opts.ClientName)
		if err != nil {
			return nil, err
		}
		c = w.opts.CA.ClientTLSConfig(cert)
	}
	c.ServerName = w.opts.ServerName
	return c, nil
}

// newWebhookClient makes a client CA in dir, picks the webhook's port and writes the
// client certificate the API server is to present to the webhook there.
func newWebhookClient(dir string) (*CA, *WebhookClient, int, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, 0, err
	}
	ca, err := NewCA(dir)
	if err != nil {
		return nil, nil, 0, err
	}
	port, err := testkit.FreePort()
	if err != nil {
		return nil, nil, 0, err
	}
	c := &WebhookClient{
		HostPort: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		CertFile: filepath.Join(dir, "apiserver-client.crt"),
		KeyFile:  filepath.Join(dir, "apiserver-client.key"),
	}
	if err := ca.WriteClientCert(dir, filepath.Base(c.CertFile), filepath.Base(c.KeyFile), APIServerClientName); err != nil {
		return nil, nil, 0, err
	}
	return ca, c, port, nil
}
