// Package probeflags is the one set of flags that describe the bucket probe where the
// webhook and statestore-check probe alike: its time budget, the endpoint guard's
// lists and the IAM endpoints. Each command adds the flags only it has (the webhook's
// probe mode, cache and concurrency; the check's --probe) beside them.
package probeflags
