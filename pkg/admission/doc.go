// Package admission turns an admission request for a BucketStateStore into a decision:
// the mutating handler applies pkg/defaults and answers with a JSON patch, the validating
// handler checks the static rules, the referenced Secret and, through a probe.Prober, the
// bucket itself. It is the only package that knows about AdmissionReview.
package admission
