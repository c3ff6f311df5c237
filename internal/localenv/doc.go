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
// Every process is started in its own process group and with a parent-death signal, so
// killing the caller (a test timeout, ^C) does not leave servers behind; Stop ends them
// all and removes every temporary file.
package localenv
