// Package demo is the environment `make run` gives a developer and test/examples
// proves: internal/localenv's kube-apiserver, MinIO and webhook, plus what the files in
// examples/ rely on. That is a bucket and a MinIO user with its Secret, MinIO reachable
// at the fixed addresses the examples name (127.0.0.1:9000 plain HTTP, 127.0.0.1:9443
// HTTPS), and an instance metadata stand-in that gives the webhook IAM credentials.
//
// hack/run and test/examples both call Start, and both take the kubectl command lines
// from ApplyLine, so the test runs exactly what hack/run tells a developer to run.
//
// Fixed ports are shared by everything on the machine, so Start holds a lock per port
// for as long as the demo runs: a second demo (a `make run` beside `make test`) waits
// for the first or fails with a message that says who holds the port.
package demo
