// Package release stamps a version into the shipped manifests and the Helm chart,
// renders the manifests into the one file `kubectl apply -f` takes, and packages the
// chart: what `make release` and `make deploy` run (hack/release), and what the tests
// in test/certmanager check against the real API server.
package release
