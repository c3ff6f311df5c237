#!/usr/bin/env bash
# Makes sure git is on PATH: the test suites' Git servers (internal/localenv) run the
# machine's git http-backend, git-upload-pack and git-receive-pack. A no-op, silent, where
# git is installed; elsewhere it installs Debian's git package with apt-get.
set -euo pipefail
if command -v git >/dev/null 2>&1; then
	exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "[setup-git] git is not installed and this user cannot install it; install git and run again" >&2
		exit 1
	fi
	sudo="sudo"
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "[setup-git] git is not installed and there is no apt-get; install git and run again" >&2
	exit 1
fi
echo "[setup-git] installing git with apt-get"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends git
