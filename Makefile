# statestore-webhook: admission webhook for Kratix BucketStateStores.

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMG ?= ghcr.io/kratix-community/statestore-webhook:$(VERSION)
BIN := $(CURDIR)/bin
KUBECTL := $(BIN)/k8s/kubectl
CONTROLLER_GEN := $(BIN)/k8s/controller-gen
GOLANGCI_LINT_VERSION ?= v2.15.0
GOLANGCI_LINT := $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
ACTIONLINT_VERSION ?= v1.7.12
ACTIONLINT := $(BIN)/actionlint-$(ACTIONLINT_VERSION)
# kubeconform is make bench's baseline for statestore-check; only bench builds it.
KUBECONFORM_VERSION ?= v0.7.0
KUBECONFORM := $(BIN)/kubeconform-$(KUBECONFORM_VERSION)
export KUBEBUILDER_ASSETS := $(BIN)/k8s

.DEFAULT_GOAL := help

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: components-controller-gen ## Generate the CRD and deepcopy code from api/ with controller-gen.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...
	$(CONTROLLER_GEN) crd:crdVersions=v1 paths=./api/... output:crd:artifacts:config=manifests/crd/bases

.PHONY: components
components: ## Build kube-apiserver, kubectl, etcd, MinIO and controller-gen into bin/ (skipped when built), and install git if missing.
	hack/build-components.sh
	hack/setup-git.sh

.PHONY: components-controller-gen
components-controller-gen:
	hack/build-components.sh controller-gen

.PHONY: lint
lint: $(GOLANGCI_LINT) $(ACTIONLINT) ## Check formatting (gofmt), then run go vet, golangci-lint and actionlint on .github/workflows (pinned, built into bin/).
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "not gofmt-ed (run gofmt -w):"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	$(GOLANGCI_LINT) run ./...
	$(ACTIONLINT)

.PHONY: actionlint
actionlint: $(ACTIONLINT) ## Build the pinned actionlint into bin/ and print its path (docs/ci.md's test runs it on the workflow it shows).
	@echo $(ACTIONLINT)

$(GOLANGCI_LINT):
	GOBIN=$(BIN)/.build/golangci go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(BIN)/.build/golangci/golangci-lint $@

$(ACTIONLINT):
	GOBIN=$(BIN)/.build/actionlint go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
	mv $(BIN)/.build/actionlint/actionlint $@

.PHONY: test
test: components build ## Run every test: unit tests with -race, then the integration suite against real binaries.
	go test -race -count=1 ./api/... ./cmd/... ./pkg/... ./internal/... ./hack/...
	@# A short fuzz of the request path beyond the seed corpus (make fuzz for a long one).
	$(MAKE) fuzz FUZZTIME=20s
	@# One integration package at a time: each runs its own API server, MinIO and webhook.
	go test -p 1 -count=1 -timeout 40m -v ./test/...

# The oldest Kubernetes release the project claims (README, docs/operating.md, the chart's
# kubeVersion): make test-kube runs the suites that matter for compatibility on it, or on
# KUBE_VERSION. make test runs the newest, hack/build-components.sh's default.
KUBE_OLDEST := v1.30.14
KUBE_SUITES := ./test/integration ./test/certmanager ./test/examples

.PHONY: test-kube
test-kube: build ## Run the integration suites on another Kubernetes release: KUBE_VERSION, by default the oldest claimed (KUBE_OLDEST).
	@# Its kube-apiserver and kubectl go to bin/k8s-<version>/, which internal/localenv
	@# runs when KUBE_VERSION is set; bin/k8s keeps the default release.
	KUBE_VERSION=$(or $(KUBE_VERSION),$(KUBE_OLDEST)) hack/build-components.sh etcd kube-apiserver kubectl minio
	KUBE_VERSION=$(or $(KUBE_VERSION),$(KUBE_OLDEST)) go test -p 1 -count=1 -timeout 40m -v $(KUBE_SUITES)

BENCH_FLAGS ?=

# The S3 server `make run` starts: minio (the default) or seaweedfs.
S3 ?= minio

FUZZTIME ?= 10m

.PHONY: fuzz
fuzz: ## Fuzz raw AdmissionReviews and admission objects through the real handlers (FUZZTIME each, default 10m).
	go test -run '^$$' -fuzz '^FuzzAdmissionReview$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s -parallel 1 ./pkg/admission
	go test -run '^$$' -fuzz '^FuzzAdmissionObject$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s -parallel 1 ./pkg/admission

.PHONY: bench
bench: components $(KUBECONFORM) ## Go benchmarks of the hot functions, then hack/bench: each figure beside its baseline (BENCH_FLAGS=-quick for a smoke run).
	go test -run '^$$' -bench . -benchmem -count 6 ./pkg/...
	go run ./hack/bench -kubeconform $(KUBECONFORM) $(BENCH_FLAGS)

$(KUBECONFORM):
	GOBIN=$(BIN)/.build/kubeconform go install github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)
	mv $(BIN)/.build/kubeconform/kubeconform $@

.PHONY: run
run: components build ## Start a local API server, S3 server (S3=minio or seaweedfs), Git servers and the webhook, ready for kubectl apply.
	@# Built, not `go run`: go run exits 1 on ^C even when the program exits 0.
	go build -o $(BIN)/run ./hack/run
	$(BIN)/run --s3=$(S3)

##@ Build

.PHONY: build
build: ## Build the webhook and statestore-check into bin/.
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN)/ ./cmd/webhook ./cmd/statestore-check

.PHONY: docker-build
docker-build: ## Build the container image (needs a Docker engine).
	docker build --build-arg VERSION=$(VERSION) -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the image IMG to its registry (docker login to it first).
	docker push $(IMG)

##@ Deployment

# deploy and undeploy use the kubectl on PATH, which knows the cluster; override with
# CLUSTER_KUBECTL=... if needed.
CLUSTER_KUBECTL ?= kubectl

.PHONY: deploy
deploy: ## Install manifests/default with the image IMG (the one docker-build built) on the cluster of the current kubeconfig (needs cert-manager).
	@# Without cert-manager the webhook never gets its certificate: refuse before anything,
	@# fail-closed webhook configurations included, is created.
	@$(CLUSTER_KUBECTL) get crd certificates.cert-manager.io issuers.cert-manager.io >/dev/null || \
		{ echo "make deploy: cert-manager's CRDs are not installed; install cert-manager first (https://cert-manager.io/docs/installation/)" >&2; exit 1; }
	@# A temporary overlay sets the image; the tree is left as it is.
	@f=$$(mktemp) && go run ./hack/release manifests -image $(IMG) > $$f && \
		$(CLUSTER_KUBECTL) apply --server-side -f $$f; rc=$$?; rm -f $$f; [ $$rc -eq 0 ] || exit $$rc
	@echo
	@echo "CLIENT AUTHENTICATION IS OFF: anyone who can reach the webhook's pods can send it a forged"
	@echo "review as any user and learn, for any Secret it may read, whether its credentials work, and"
	@echo "have its access key ID and request signatures sent to an endpoint of their own (a weak secret"
	@echo "key then falls to an offline dictionary attack). Turn it on where you can configure the API"
	@echo "server: docs/security.md#without-client-authentication. Remove with make undeploy."

.PHONY: undeploy
undeploy: ## Remove it from the cluster of the current kubeconfig, webhook configurations first.
	@# Once more if the namespace guard refused the Namespace: the API server had not yet
	@# seen the configurations go (docs/operating.md#uninstall).
	@f=$$(mktemp) && go run ./hack/release manifests -image $(IMG) > $$f && \
		{ $(CLUSTER_KUBECTL) delete --ignore-not-found -f $$f || { sleep 2; $(CLUSTER_KUBECTL) delete --ignore-not-found -f $$f; }; }; \
		rc=$$?; rm -f $$f; exit $$rc

##@ Release

DIST ?= $(CURDIR)/dist

.PHONY: release
release: ## Stamp VERSION=vX.Y.Z into the manifests and the chart, render dist/statestore-webhook.yaml and package the chart into dist/.
	go run ./hack/release build -version $(VERSION) -dist $(DIST)
