// Package check validates BucketStateStores and GitStateStores in manifest files the way the validating
// webhook validates them at admission, for CI jobs and pre-commit hooks: the same
// defaults (pkg/defaults), the same static rules and Secret checks (pkg/admission) and,
// when asked, the same probe (pkg/probe), so that the command and the webhook can never
// disagree. cmd/statestore-check is its command line.
package check
