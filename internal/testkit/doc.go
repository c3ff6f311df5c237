// Package testkit holds the helpers the tests, the benchmark harness (hack/bench) and
// internal/localenv share: free ports, a throw-away CA that writes serving
// certificates, AdmissionReviews for a BucketStateStore as the API server sends them and
// a check of the webhook's answer, a buffer for output written from several goroutines,
// readings of /proc/<pid>/status, and the start, stop and signal handling of a test
// package's shared environment (Suite).
//
// It does not import testing, so that programs that are not tests (the benchmark and
// `make run`) can use it, and its helpers return errors instead of failing a test. The
// webhook binary must not import it.
package testkit
