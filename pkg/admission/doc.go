// Package admission turns an admission request into a decision; it is the only package
// that knows about AdmissionReview.
//
//   - Defaulter, the mutating webhook, applies pkg/defaults and answers with a JSON patch.
//   - Validator, the validating webhook, runs the Pipeline on the store: the static rules,
//     the referenced Secret (behind a SubjectAccessReview) and, through a probe.Prober, the
//     bucket itself. statestore-check runs the same Pipeline on manifest files.
//   - DeleteGuard refuses (or warns about) deleting a BucketStateStore that Destinations
//     still write to, and SecretGuard warns about (or refuses) deleting or changing a
//     Secret so that the stores using it break. Both fail open and learn what depends on
//     an object from caches (internal/watch).
//
// Every answer is counted in a metric and carries audit annotations (audit.go).
package admission
