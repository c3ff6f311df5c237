// Package probeflags is the one set of flags that describe the bucket and Git probes
// where the webhook and statestore-check probe alike: their time budget, the endpoint
// guard's lists, the IAM endpoints and, for Git (AddGitFlags), the GitHub API. Each command adds the flags only it has (the webhook's
// probe mode, cache and concurrency; the check's --probe) beside them.
package probeflags
