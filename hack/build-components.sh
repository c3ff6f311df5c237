#!/usr/bin/env bash
# Builds the real components that `make run` and `make test` use, from the Go module
# proxy only: kube-apiserver and kubectl, etcd, MinIO server, SeaweedFS and controller-gen.
# Each binary is keyed by its version (bin/<name>-<version>) and skipped when present,
# then linked as bin/k8s/<name> so KUBEBUILDER_ASSETS=bin/k8s finds them.
#
# KUBE_VERSION picks another Kubernetes release (`make test-kube`): its kube-apiserver
# and kubectl, with the other components, are then linked into bin/k8s-<KUBE_VERSION>/,
# the folder internal/localenv runs when KUBE_VERSION is set. Unset, it is the default
# release below and the folder is bin/k8s.
#
# Usage: hack/build-components.sh [kube-apiserver|kubectl|etcd|minio|seaweedfs|controller-gen ...]
# With no arguments it builds all of them but SeaweedFS, which is long to build cold:
# internal/localenv builds it when a suite or `make run S3=seaweedfs` needs it.
set -euo pipefail

LINKS=k8s${KUBE_VERSION:+-$KUBE_VERSION}
KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.7.3}
# MinIO's tags are not semver; a pseudo-version of its main branch is what the proxy serves.
MINIO_VERSION=${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}
CONTROLLER_GEN_VERSION=${CONTROLLER_GEN_VERSION:-v0.23.0}
# SeaweedFS (Kratix's quickstart backend) has no semver tags on the proxy either; this
# pseudo-version reports `version 30GB 4.53`.
SEAWEEDFS_VERSION=${SEAWEEDFS_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/bin}
WORK=$BIN/.build
mkdir -p "$BIN/$LINKS" "$WORK"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false

log() { printf '[build-components] %s\n' "$*" >&2; }

# link NAME VERSION: point bin/k8s/NAME (or bin/k8s-<KUBE_VERSION>/NAME) at bin/NAME-VERSION.
link() { ln -sf "../$1-$2" "$BIN/$LINKS/$1"; }

have() { [ -x "$BIN/$1-$2" ]; }

# kube_staging: the staging modules k8s.io/kubernetes@KUBE_VERSION replaces with its own
# tree (the `=> ./staging/src/...` lines of its go.mod); outside that tree each must be
# pinned to the matching v0 release. The list differs between minors, so it is read from
# the release's own go.mod rather than kept here.
kube_staging() {
	local gomod
	gomod=$(cd "$1" && go list -m -f '{{.GoMod}}' "k8s.io/kubernetes@$KUBE_VERSION")
	sed -n 's#^[[:space:]]*k8s\.io/\([^[:space:]]*\) => \./staging/src/k8s\.io/.*#\1#p' "$gomod"
}

kube_module() {
	local dir=$WORK/kubernetes-$KUBE_VERSION staging_version=v0.${KUBE_VERSION#v1.}
	if [ ! -f "$dir/go.sum" ]; then
		mkdir -p "$dir"
		printf 'module build/kubernetes\n\ngo 1.26.8\n' >"$dir/go.mod"
		local staging
		staging=$(kube_staging "$dir")
		[ -n "$staging" ] || { log "no staging modules found in k8s.io/kubernetes@$KUBE_VERSION's go.mod"; exit 1; }
		{
			echo "module build/kubernetes"
			echo
			echo "go 1.26.8"
			echo
			echo "require k8s.io/kubernetes $KUBE_VERSION"
			echo
			echo "tool ("
			echo "	k8s.io/kubernetes/cmd/kube-apiserver"
			echo "	k8s.io/kubernetes/cmd/kubectl"
			echo ")"
			echo
			for m in $staging; do echo "replace k8s.io/$m => k8s.io/$m $staging_version"; done
		} >"$dir/go.mod"
		log "resolving k8s.io/kubernetes $KUBE_VERSION"
		(cd "$dir" && go mod tidy)
	fi
	echo "$dir"
}

build_kube() { # name
	local name=$1
	if have "$name" "$KUBE_VERSION"; then link "$name" "$KUBE_VERSION"; return; fi
	local dir minor=${KUBE_VERSION#v1.}
	minor=${minor%%.*}
	dir=$(kube_module)
	local x="-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
	x="$x -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
	log "building $name $KUBE_VERSION (about 4 minutes cold on 2 cores)"
	(cd "$dir" && go build -trimpath -ldflags "-s -w $x" -o "$BIN/$name-$KUBE_VERSION.tmp" "k8s.io/kubernetes/cmd/$name")
	mv "$BIN/$name-$KUBE_VERSION.tmp" "$BIN/$name-$KUBE_VERSION"
	link "$name" "$KUBE_VERSION"
}

build_etcd() {
	if have etcd "$ETCD_VERSION"; then link etcd "$ETCD_VERSION"; return; fi
	local dir=$WORK/etcd-$ETCD_VERSION
	mkdir -p "$dir"
	if [ ! -f "$dir/go.sum" ]; then
		printf 'module build/etcd\n\ngo 1.26.8\n\nrequire go.etcd.io/etcd/server/v3 %s\n\ntool go.etcd.io/etcd/server/v3\n' "$ETCD_VERSION" >"$dir/go.mod"
		(cd "$dir" && go mod tidy)
	fi
	log "building etcd $ETCD_VERSION (about 40 seconds cold)"
	(cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$BIN/etcd-$ETCD_VERSION.tmp" go.etcd.io/etcd/server/v3)
	mv "$BIN/etcd-$ETCD_VERSION.tmp" "$BIN/etcd-$ETCD_VERSION"
	link etcd "$ETCD_VERSION"
}

# go_install NAME MODULE@VERSION: a module without replace directives installs directly.
go_install() {
	local name=$1 pkg=$2 version=${2##*@}
	if have "$name" "$version"; then link "$name" "$version"; return; fi
	log "building $name $version"
	local gobin=$WORK/gobin-$name
	GOBIN=$gobin go install -trimpath -ldflags "-s -w" "$pkg"
	mv "$gobin/$name" "$BIN/$name-$version"
	link "$name" "$version"
}

# SeaweedFS's go.mod has replace directives, so `go install ...@version` refuses it: a
# wrapper module requires it, repeats its replace directives (copied from the go.mod of
# the version asked for) and builds the weed command, named bin/weed-<version>.
build_seaweedfs() {
	local version=$SEAWEEDFS_VERSION
	if have weed "$version"; then link weed "$version"; return; fi
	local dir=$WORK/seaweedfs-$version
	if [ ! -f "$dir/go.sum" ]; then
		mkdir -p "$dir"
		local gomod
		gomod=$(go mod download -json "github.com/seaweedfs/seaweedfs@$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
		{
			printf 'module build/seaweedfs\n\ngo 1.26.8\n\nrequire github.com/seaweedfs/seaweedfs %s\n\ntool github.com/seaweedfs/seaweedfs/weed\n\n' "$version"
			# Single-line replaces and replace ( ... ) blocks, comments dropped.
			awk '/^replace[[:space:]]*\($/ {b=1} b {print} b && /^\)/ {b=0; next} !b && /^replace[[:space:]]/ {print}' "$gomod"
		} >"$dir/go.mod"
		log "resolving github.com/seaweedfs/seaweedfs $version"
		(cd "$dir" && go mod tidy)
	fi
	log "building weed $version (about 15 minutes cold on 2 cores)"
	(cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$BIN/weed-$version.tmp" github.com/seaweedfs/seaweedfs/weed)
	mv "$BIN/weed-$version.tmp" "$BIN/weed-$version"
	link weed "$version"
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(etcd kube-apiserver kubectl minio controller-gen)
for t in "${targets[@]}"; do
	case $t in
	kube-apiserver | kubectl) build_kube "$t" ;;
	etcd) build_etcd ;;
	minio) go_install minio "github.com/minio/minio@$MINIO_VERSION" ;;
	seaweedfs) build_seaweedfs ;;
	controller-gen) go_install controller-gen "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_GEN_VERSION" ;;
	*) log "unknown component $t"; exit 2 ;;
	esac
done
log "ready in $BIN/$LINKS: $(cd "$BIN/$LINKS" && for f in *; do printf '%s ' "$(basename "$(readlink "$f")")"; done)"
