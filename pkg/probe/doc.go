// Package probe is the only code in the webhook that talks to S3 and to Git servers. It
// checks that Kratix could use a state store. For a BucketStateStore: the bucket exists
// and the credentials may write to it, found out the way Kratix's own readiness check
// does, with minio-go and a multipart upload that is started and aborted. For a
// GitStateStore: the branch exists and the credentials may read and push, found out from
// the upload-pack and receive-pack ref advertisements, without writing anything. A failed
// probe is a Failure with a stable Reason and a message that tells the person who applied
// the store what to change.
//
// S3Prober and GitRepoProber do the probing, behind a Guard that keeps them away from
// cloud metadata services and refused ranges; Cache and GitCache merge identical probes
// in flight and remember recent successes; admission code depends only on the Prober and
// GitProber interfaces, so it can be tested with fakes.
package probe
