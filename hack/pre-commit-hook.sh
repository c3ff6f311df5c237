#!/bin/sh
# The entry of the pre-commit hook in .pre-commit-hooks.yaml (language: script: pre-commit
# runs it from its checkout of this repository, in the repository being committed to,
# with the changed files as arguments).
#
# It builds only statestore-check, into that checkout: pre-commit's language: golang
# would run `go install ./...`, which builds every command of this module. The Go build
# cache makes a build after the first one quick. --version prints what git describes of
# the checkout: the commit, or the tag when pre-commit fetched it.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin/pre-commit/statestore-check"
(
	# A git hook's environment names the repository being committed to, not this one.
	unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_COMMON_DIR GIT_OBJECT_DIRECTORY
	cd "$root"
	version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
	CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=$version" -o "$bin" ./cmd/statestore-check
)
exec "$bin" "$@"
