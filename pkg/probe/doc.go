// Package probe is the only code in the webhook that talks to S3. It checks that Kratix
// could use a BucketStateStore: the bucket exists and the credentials may write to it,
// found out the way Kratix's own readiness check does, with minio-go and a multipart
// upload that is started and aborted. A failed probe is a Failure with a stable Reason
// and a message that tells the person who applied the store what to change.
//
// S3Prober does the probing, behind a Guard that keeps it away from cloud metadata
// services and refused ranges; Cache merges identical probes in flight and remembers
// recent successes; admission code depends only on the Prober interface, so it can be
// tested with a fake.
package probe
