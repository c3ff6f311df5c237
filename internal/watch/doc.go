// Package watch keeps the caches the guards look things up in, filled by list and watch
// instead of a read per request: BucketStateStores by the Secret they take their
// credentials from (Stores), and Kratix Destinations by the store they write to
// (Destinations). Each is a manager Runnable; until its cache is in sync it answers that
// it does not know, and the guards let requests through.
package watch
