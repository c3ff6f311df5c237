// Package demo is the environment `make run` gives a developer and test/examples
// proves: internal/localenv's kube-apiserver, MinIO and webhook, plus what the files in
// examples/ rely on.
//
// For BucketStateStores that is a bucket and a MinIO user with its Secret, MinIO
// reachable at the fixed addresses the examples name (127.0.0.1:9000 plain HTTP,
// 127.0.0.1:9443 HTTPS), and an instance metadata stand-in that gives the webhook IAM
// credentials. For GitStateStores it is localenv's Git servers at fixed addresses too:
// git http-backend at https://127.0.0.1:8443/kratix.git, behind a certificate the
// webhook trusts, and git over SSH at ssh://git@127.0.0.1:2222/kratix.git; a stand-in
// for GitHub's installation-token endpoint, which the webhook's --github-api-url names
// and whose tokens the Git server accepts; and a Secret for each auth method. The SSH
// key, its knownHosts and the GitHub App's private key are generated at every start, so
// no example can hold them: Start creates their Secrets in the API server and writes
// them to Options.SecretsDir, and the examples only name them.
//
// hack/run and test/examples both call Start, and both take the kubectl command lines
// from ApplyLine, so the test runs exactly what hack/run tells a developer to run.
//
// Fixed ports are shared by everything on the machine, so Start holds a lock per port
// for as long as the demo runs: a second demo (a `make run` beside `make test`) waits
// for the first or fails with a message that says who holds the port.
package demo
