package probe

// Part is the part of a Target that a failure is about: what the person who applied the
// store would change to fix it. Each kind of store puts a part on one of its fields.
type Part string

const (
	// PartEndpoint is the endpoint: its host, port, or the server behind it.
	PartEndpoint Part = "endpoint"
	// PartBucket is the bucket's name.
	PartBucket Part = "bucket"
	// PartInsecure is the choice between HTTPS and plain HTTP.
	PartInsecure Part = "insecure"
	// PartCredentials is where the credentials come from: the Secret for accessKey, the
	// webhook's own identity, so the auth method, for IAM.
	PartCredentials Part = "credentials"
	// PartAuthMethod is the auth method itself.
	PartAuthMethod Part = "authMethod"
	// PartRepository is a Git repository's URL: the repository behind a host that answers.
	PartRepository Part = "repository"
	// PartBranch is a Git store's branch.
	PartBranch Part = "branch"
)

// ReasonInfo is what a Reason means.
type ReasonInfo struct {
	Reason Reason
	// Part is what to change to fix it; empty for ReasonOK.
	Part Part
	// RefusesCredentials says the endpoint refused the credentials the target carries: new
	// values in a Secret that fail so are wrong. A failure for any other reason says
	// nothing about the values (an endpoint down or slow, the webhook busy, the webhook's
	// own IAM identity missing), so the Secret guard never denies a change for it.
	RefusesCredentials bool
	// Fix says what to do, for the reference's table of reasons.
	Fix string
}

// ReasonTable is the one table of reasons, ReasonOK first. Everything else about a
// reason is derived from it: Reasons (the probes_total metric's labels), the field a
// denial is on, whether the Secret guard may deny a change for it, and the reference's
// table, which a test compares with it.
var ReasonTable = []ReasonInfo{
	{ReasonOK, "", false, "Nothing: the bucket exists and the credentials may write to it."},
	{ReasonBucketNotFound, PartBucket, false, "Create the bucket, or fix the name or endpoint."},
	{ReasonInvalidBucketName, PartBucket, false, "Use the bucket's real name. Only legacy Amazon S3 buckets take upper case, `_` or `:`; MinIO and SeaweedFS answer `InvalidBucketName` to such names."},
	{ReasonAccessDenied, PartCredentials, true, "Grant `s3:ListBucket` on the bucket and `s3:PutObject` under `path`."},
	{ReasonInvalidAccessKeyID, PartCredentials, true, "Fix `accessKeyID`; for IAM, use `accessKey` with an endpoint that does not take AWS IAM credentials."},
	{ReasonSignatureMismatch, PartCredentials, true, "Fix `secretAccessKey`; for IAM, as above."},
	{ReasonTLSUntrusted, PartEndpoint, false, "Add the CA through `SSL_CERT_FILE`, or fix the certificate. Kratix must trust it too. For Git, `insecure: true` skips the verification, as Kratix does."},
	{ReasonTLSMismatch, PartInsecure, false, "Set `insecure` to what the server speaks, or use the other port."},
	{ReasonNameNotResolved, PartEndpoint, false, "Fix the host name."},
	{ReasonConnectionRefused, PartEndpoint, false, "Fix the port, or start the server."},
	{ReasonTimeout, PartEndpoint, false, "Check that the webhook's pod can reach the endpoint (network policies, egress)."},
	{ReasonEndpointForbidden, PartEndpoint, false, "See [Security](security.md). This is the one denial of a store Kratix could use."},
	{ReasonCredentialsUnavailable, PartCredentials, false, "Give the webhook an identity. The error is in its log. For Git, give the Secret the keys the auth method needs, in a form that parses."},
	{ReasonUnknown, PartEndpoint, false, "Read the S3 error code, the Git server's HTTP status or the network error; a code S3 does not use is in the webhook's log only."},
	{ReasonInvalidTarget, PartEndpoint, false, "Rarely seen: the static rules catch most of these first."},
	{ReasonCanceled, PartEndpoint, false, "Retry. The API server went away first."},
	{ReasonResponseTooLarge, PartEndpoint, false, "Point `endpoint` at the S3 API. The limit is 64 KiB, for the body and for the headers; for Git, 16 MiB of ref advertisement before the branch; see [Bounds](#bounds)."},
	{ReasonBusy, PartEndpoint, false, "Apply again. If it keeps happening, raise `--max-concurrent-probes` or add replicas."},
	{ReasonNotS3, PartEndpoint, false, "Point `endpoint` at the S3 API. What the endpoint sent is in the webhook's log only, so that a store cannot be used to read other services' answers."},
	{ReasonIAMNotTrusted, PartAuthMethod, false, "Use `accessKey`, or have the operator list the endpoint in `--iam-endpoints`."},
	{ReasonRepositoryNotFound, PartRepository, false, "Git: create the repository or fix its path in `url`. GitHub and GitLab answer so for a private repository the credentials may not read, too."},
	{ReasonBranchNotFound, PartBranch, false, "Git: push the branch, or fix `branch`; Kratix clones that branch and does not create it."},
	{ReasonAuthenticationFailed, PartCredentials, true, "Git: fix `username` and `password` (a token for most hosts), or `sshPrivateKey`, or authorize the key for the repository."},
	{ReasonNoPushPermission, PartCredentials, true, "Git: give the credentials write access (a token with write scope, a deploy key that may push, a writer role)."},
	{ReasonHostKeyUnknown, PartCredentials, true, "Git: add the SSH server's host key for the URL's host (and port) to `knownHosts`, as `ssh-keyscan` prints it."},
	{ReasonHostKeyMismatch, PartCredentials, true, "Git: replace the host's line in `knownHosts` with the server's real key, after checking with its operator that the key changed."},
	{ReasonURLSchemeMismatch, PartEndpoint, false, "Git: point `url` at the server's HTTPS port; Kratix takes no plain HTTP for `basicAuth` and `githubApp`."},
	{ReasonNotGit, PartEndpoint, false, "Git: point `url` at a Git repository served over smart HTTP or SSH. What the server sent is in the webhook's log only."},
	{ReasonGitHubAppTokenRefused, PartCredentials, true, "Git: fix `appID`, `installationID` or `privateKey`; the App must be installed where the repository is. For GitHub Enterprise Server, the operator sets `--github-api-url`."},
}

// Reasons lists every Reason, ReasonOK first: the one list that metrics, docs and their
// tests range over, in ReasonTable's order.
var Reasons = func() []Reason {
	reasons := make([]Reason, len(ReasonTable))
	for i, info := range ReasonTable {
		reasons[i] = info.Reason
	}
	return reasons
}()

// Info returns what r means; a reason not in ReasonTable means what ReasonUnknown means.
func Info(r Reason) ReasonInfo {
	for _, info := range ReasonTable {
		if info.Reason == r {
			return info
		}
	}
	info := Info(ReasonUnknown)
	info.Reason = r
	return info
}
