// Package localenv brings up the real components the webhook works with, on loopback
// only: etcd and kube-apiserver (through controller-runtime's envtest), MinIO, and the
// webhook binary built from this module's current source, registered with the API server
// through the webhook configurations that ship in manifests/base.
//
// Nothing is assumed to be installed: Start runs hack/build-components.sh (a no-op once
// the binaries exist) and `go build ./cmd/webhook` first. The integration tests use it
// from TestMain, and `make run` uses it to give a developer a cluster to try the webhook
// against, so the core API takes an io.Writer for progress and never a *testing.T.
//
// For GitStateStores it serves real Git servers on the machine's git (the one thing
// assumed installed; hack/setup-git.sh installs it): git http-backend behind
// net/http/cgi over HTTPS and HTTP with basic auth (StartGitServer), an SSH server
// running git-upload-pack and git-receive-pack (StartGitSSHServer), and a stand-in for
// GitHub's installation-token endpoint (StartGitHubApp), each with a user that may push
// and one that may only read.
//
// Every process is started in its own process group and with a parent-death signal, so
// killing the caller (a test timeout, ^C) does not leave servers behind; Stop ends them
// all and removes every temporary file.
package localenv
