// Package defaults fills in the fields of a BucketStateStore (Spec) or a GitStateStore
// (GitSpec) that Kratix would otherwise assume, so that what is stored says what Kratix
// will do. Its functions are pure: no client, no I/O, and applying them twice gives the
// same object as applying them once.
package defaults
