# The project's vocabulary. Every target runs on Node 24 (hack/node.sh fetches it from the npm
# registry when the system Node is older) and builds what it needs on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help
NODE_BIN := $(shell bash hack/node.sh)
export PATH := $(NODE_BIN):$(PATH)
NODE := node --disable-warning=ExperimentalWarning
ASSETS = $$(bash hack/envtest.sh)
ATHENZ_TOOLS_DIR = $$(bash hack/athenz-tools.sh)

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

.PHONY: deps
deps: node_modules/.package-lock.json ## Install npm dependencies (npm ci)

.PHONY: build
build: deps ## Compile TypeScript to dist/
	npm run build

.PHONY: lint
lint: deps ## Biome (lint + format check) and the TypeScript type check
	npm run lint

.PHONY: envtest
envtest: ## Build or reuse etcd, kube-apiserver, kube-controller-manager, kubectl and helm; print their folder
	@bash hack/envtest.sh

.PHONY: athenz-tools
athenz-tools: ## Build or reuse the official Athenz clients (zms-cli, zms-go-client); print their folder
	@bash hack/athenz-tools.sh

.PHONY: test
test: deps ## Lint, then every test (unit + integration on a real control plane and ZMS server)
	npm run lint
	KUBEBUILDER_ASSETS=$(ASSETS) ATHENZ_TOOLS=$(ATHENZ_TOOLS_DIR) npm test

.PHONY: test-unit
test-unit: deps ## Unit tests of the pure core only (no servers)
	npm run test:unit

.PHONY: test-integration
test-integration: deps ## Integration tests only
	KUBEBUILDER_ASSETS=$(ASSETS) ATHENZ_TOOLS=$(ATHENZ_TOOLS_DIR) npm run test:integration

.PHONY: control-plane
control-plane: deps ## Start a test control plane in the foreground (Ctrl-C stops it)
	@KUBEBUILDER_ASSETS=$(ASSETS) $(NODE) test/support/control-plane/cli.ts

ZMS_PORT ?= 4443
ZMS_STATE ?= .cache/zms-state
.PHONY: zms-server
zms-server: deps ## Start the ZMS test server (ZMS_PORT, ZMS_STATE) in the foreground
	@$(NODE) test/support/zms-server/cli.ts --port $(ZMS_PORT) --state-dir $(ZMS_STATE) --admin user.athenz_admin

.PHONY: clean
clean: ## Remove build output (the binary cache outside the repo stays)
	rm -rf dist coverage .cache

# ---------------------------------------------------------------------------------------------
# Helm chart and container image (docs/decisions/0004-helm-chart-and-image.md).
# ---------------------------------------------------------------------------------------------

CHART_DIR := config/helm/athenz-rbac-operator
APP_VERSION := $(shell sed -n 's/^  "version": "\(.*\)",$$/\1/p' package.json)
IMAGE_REPO ?= ghcr.io/athenz-rbac-operator/athenz-rbac-operator
IMAGE ?= $(IMAGE_REPO):$(APP_VERSION)
CONTAINER_TOOL ?= docker

.PHONY: chart-crd
chart-crd: ## Regenerate the chart's CRD template from crds/ (the one source of truth)
	bash hack/sync-chart-crd.sh

.PHONY: chart-lint
chart-lint: ## Check the chart's CRD is in sync, then helm lint --strict with each ci/*-values.yaml
	bash hack/sync-chart-crd.sh --check
	@for values in $(CHART_DIR)/ci/*-values.yaml; do \
	  echo "helm lint --strict $(CHART_DIR) -f $$values"; \
	  $(ASSETS)/helm lint --strict $(CHART_DIR) -f $$values || exit 1; \
	done

.PHONY: image
image: ## Build the operator image (IMAGE=repo:tag, CONTAINER_TOOL=docker or podman)
	$(CONTAINER_TOOL) build -t $(IMAGE) --build-arg VERSION=$(APP_VERSION) \
	  --build-arg REVISION=$$(git rev-parse HEAD 2>/dev/null || echo unknown) .

# ---------------------------------------------------------------------------------------------
# Local development: the sandbox, running the operator from source, the benchmark.
# ---------------------------------------------------------------------------------------------

SANDBOX_ARGS ?=
.PHONY: sandbox
sandbox: deps ## Control plane + ZMS test server + operator with samples/ applied; prints a guide (Ctrl-C stops)
	@KUBEBUILDER_ASSETS=$(ASSETS) $(NODE) hack/sandbox.ts $(SANDBOX_ARGS)

RUN_ARGS ?=
.PHONY: run
run: deps ## Run the operator from source against the current kubeconfig (ZMS_URL, ZMS_CERT_FILE, ...)
	@bash hack/run.sh $(RUN_ARGS)

BENCH_ARGS ?=
.PHONY: bench
bench: deps ## Benchmark on a local control plane + ZMS server: time to Ready, idle cost, latency, memory
	@KUBEBUILDER_ASSETS=$(ASSETS) $(NODE) hack/bench.ts $(BENCH_ARGS)
