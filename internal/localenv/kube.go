package localenv

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Kube is an etcd and a kube-apiserver started by envtest, with the project's CRDs
// installed.
type Kube struct {
	// Config is an administrator's (system:masters) REST config.
	Config *rest.Config
	// KubeconfigPath is Config as a kubeconfig file, for kubectl and the webhook.
	KubeconfigPath string
	// KubectlPath is the kubectl binary matching the API server.
	KubectlPath string
	// APIServerOutput and EtcdOutput hold the servers' output.
	APIServerOutput, EtcdOutput *LogBuffer
	// AuditLogPath is the API server's audit log (JSON lines), when KubeOptions.AuditPolicy
	// was set.
	AuditLogPath string

	env *envtest.Environment
	dir string
}

// KubeOptions configures StartKube.
type KubeOptions struct {
	// BinDir holds etcd, kube-apiserver and kubectl.
	BinDir string
	// CRDDir holds the CRDs to install; at least one must be there.
	CRDDir string
	// Dir holds etcd's data, the API server's certificates and the kubeconfig files;
	// the caller removes it.
	Dir string
	// Progress receives a note when the servers could not get a parent-death signal.
	Progress io.Writer
	// APIServerFlags are kube-apiserver flags (name without dashes, value) beyond
	// envtest's defaults.
	APIServerFlags map[string]string
	// AuditPolicy, when set, is an audit policy (YAML) the API server runs with, writing
	// its audit log to Kube.AuditLogPath.
	AuditPolicy string
	// WebhookClient, when set, is the client certificate the API server presents to the
	// webhook (through --admission-control-config-file).
	WebhookClient *WebhookClient
}

// StartKube starts etcd and kube-apiserver, installs the CRDs in CRDDir and writes an
// administrator's kubeconfig.
func StartKube(opts KubeOptions) (_ *Kube, retErr error) {
	k := &Kube{
		KubectlPath:     filepath.Join(opts.BinDir, "kubectl"),
		APIServerOutput: &LogBuffer{},
		EtcdOutput:      &LogBuffer{},
		dir:             opts.Dir,
	}
	apiServerPath, etcdPath, err := deathSignalWrappers(opts.BinDir, filepath.Join(opts.Dir, "wrappers"), progress{opts.Progress})
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"etcd", "apiserver", "audit"} {
		if err := os.MkdirAll(filepath.Join(opts.Dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	k.env = &envtest.Environment{
		BinaryAssetsDirectory: opts.BinDir,
		ControlPlane: envtest.ControlPlane{
			Etcd: &envtest.Etcd{
				Path:    etcdPath,
				DataDir: filepath.Join(opts.Dir, "etcd"),
				Out:     k.EtcdOutput,
				Err:     k.EtcdOutput,
			},
			APIServer: &envtest.APIServer{
				Path:    apiServerPath,
				CertDir: filepath.Join(opts.Dir, "apiserver"),
				Out:     k.APIServerOutput,
				Err:     k.APIServerOutput,
			},
			KubectlPath: k.KubectlPath,
		},
		CRDInstallOptions: envtest.CRDInstallOptions{
			Paths:              []string{opts.CRDDir},
			ErrorIfPathMissing: true,
		},
		ControlPlaneStartTimeout: time.Minute,
		ControlPlaneStopTimeout:  20 * time.Second,
	}
	for name, value := range opts.APIServerFlags {
		k.env.ControlPlane.APIServer.Configure().Set(name, value)
	}
	if opts.AuditPolicy != "" {
		policyPath := filepath.Join(opts.Dir, "audit", "policy.yaml")
		if err := os.WriteFile(policyPath, []byte(opts.AuditPolicy), 0o600); err != nil {
			return nil, err
		}
		k.AuditLogPath = filepath.Join(opts.Dir, "audit", "audit.log")
		k.env.ControlPlane.APIServer.Configure().
			Set("audit-policy-file", policyPath).
			Set("audit-log-path", k.AuditLogPath)
	}
	if opts.WebhookClient != nil {
		path, err := writeAdmissionConfig(filepath.Join(opts.Dir, "admission"), *opts.WebhookClient)
		if err != nil {
			return nil, err
		}
		k.env.ControlPlane.APIServer.Configure().Set("admission-control-config-file", path)
	}
	cfg, err := k.env.Start()
	if err != nil {
		_ = k.env.Stop()
		return nil, fmt.Errorf("starting etcd and kube-apiserver with envtest: %w\nkube-apiserver output:\n%s\netcd output:\n%s",
			err, k.APIServerOutput.excerpt(1500), k.EtcdOutput.excerpt(1000))
	}
	defer func() {
		if retErr != nil {
			_ = k.Stop()
		}
	}()
	if len(k.env.CRDs) == 0 {
		return nil, fmt.Errorf("no CRDs were installed from %s", opts.CRDDir)
	}
	k.Config = cfg
	k.KubeconfigPath = filepath.Join(opts.Dir, "kubeconfig")
	if err := os.WriteFile(k.KubeconfigPath, k.env.KubeConfig, 0o600); err != nil {
		return nil, err
	}
	return k, nil
}

// CRDNames returns the names of the CRDs StartKube installed.
func (k *Kube) CRDNames() []string {
	names := make([]string, 0, len(k.env.CRDs))
	for _, crd := range k.env.CRDs {
		names = append(names, crd.Name)
	}
	return names
}

// AddUser provisions a user authenticated by a client certificate, writes a kubeconfig
// for it to the environment's directory and returns the file's path and a REST config.
// The user has no permissions beyond its groups' (system:masters has all of them).
func (k *Kube) AddUser(name string, groups ...string) (string, *rest.Config, error) {
	u, err := k.env.AddUser(envtest.User{Name: name, Groups: groups}, &rest.Config{QPS: 1000, Burst: 2000})
	if err != nil {
		return "", nil, fmt.Errorf("adding Kubernetes user %q: %w", name, err)
	}
	kubeconfig, err := u.KubeConfig()
	if err != nil {
		return "", nil, err
	}
	f, err := os.CreateTemp(k.dir, "kubeconfig-*")
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	if _, err := f.Write(kubeconfig); err != nil {
		return "", nil, err
	}
	return f.Name(), u.Config(), nil
}

// Stop stops the API server and etcd. The caller removes the directory.
func (k *Kube) Stop() error {
	if k.env == nil {
		return nil
	}
	return k.env.Stop()
}

// deathSignalWrappers writes shell scripts that exec kube-apiserver and etcd through
// setpriv --pdeathsig, because envtest starts them without a parent-death signal: if
// this process were killed they would otherwise keep running. Without setpriv it
// returns the binaries themselves.
func deathSignalWrappers(binDir, dir string, p progress) (apiServer, etcd string, err error) {
	apiServer, etcd = filepath.Join(binDir, "kube-apiserver"), filepath.Join(binDir, "etcd")
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		p.printf("setpriv not found: etcd and kube-apiserver will outlive this process if it is killed")
		return apiServer, etcd, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	wrap := func(bin string) (string, error) {
		path := filepath.Join(dir, filepath.Base(bin))
		script := fmt.Sprintf("#!/bin/sh\nexec %s --pdeathsig KILL -- %s \"$@\"\n", shellQuote(setpriv), shellQuote(bin))
		return path, os.WriteFile(path, []byte(script), 0o700)
	}
	if apiServer, err = wrap(apiServer); err != nil {
		return "", "", err
	}
	if etcd, err = wrap(etcd); err != nil {
		return "", "", err
	}
	return apiServer, etcd, nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
