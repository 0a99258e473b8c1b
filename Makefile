# kbs — kubectl plugin for self-managed kubeadm clusters.
#
#   make demo       the operator's k8s cluster on local nodes, brought up by kbs
#   make demo-ha    the same with three etcd, two control planes behind a VIP
#   make demo-down  remove the demo cluster
#   make conformance  the whole [Conformance] suite against the demo cluster
#   make e2e        the end-to-end cluster test alone
#   make build      build _output/kubectl-kbs
#   make test       prepare the real test environment, then run every test
#   make test-unit  unit tests only (no root, no environment)
#   make fuzz       every fuzz target six times as long as make test
#   make lint       vet, gofmt, go mod tidy, house rules
#   make dist       release archives, checksums and krew manifest in dist/
#   make docs       regenerate the command reference in docs/

SHELL := /usr/bin/env bash
GO ?= go
PKG := github.com/kubectl-kbs/kbs
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w \
	-X $(PKG)/pkg/version.version=$(VERSION) \
	-X $(PKG)/pkg/version.commit=$(COMMIT) \
	-X $(PKG)/pkg/version.buildDate=$(BUILD_DATE)
TOOL_MODULES := hack/tools/kubernetes hack/tools/etcd hack/tools/krew hack/tools/containerd hack/tools/flannel hack/tools/flannel-cni hack/tools/coredns hack/tools/images hack/tools/calico hack/tools/conformance

.PHONY: build test fuzz test-unit test-integration test-env lint dist docs demo demo-ha demo-down e2e conformance

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o _output/kubectl-kbs ./cmd/kubectl-kbs

# VERSION must be semver for a release; a dev build gets v0.0.0-dev+<commit>.
DIST_VERSION ?= $(shell git describe --tags --exact-match 2>/dev/null || echo v0.0.0-dev+$(COMMIT))
dist:
	rm -rf dist
	$(GO) run ./hack/release -version $(DIST_VERSION) -commit $(COMMIT) -date $(BUILD_DATE) -out dist

docs:
	$(GO) run ./hack/gendocs docs

# The environment: Debian packages, test binaries from pinned modules, node
# rootfs. Each step skips what is already in place.
test-env:
	hack/install-deps.sh
	hack/build-test-binaries.sh
	hack/build-rootfs.sh
	hack/build-bundle.sh
	KBS_BIN_DIR=$(CURDIR)/_output/bin/previous KBS_BUNDLE_DIR=$(CURDIR)/_output/bundle-previous hack/build-bundle.sh
	hack/build-conformance.sh

demo: test-env build
	hack/demo.sh

demo-ha: test-env build
	KBS_DEMO_HA=1 hack/demo.sh

demo-down:
	$(GO) run ./test/demo down _output/demo

# The whole conformance suite against the demo cluster (make demo first):
# JUnit under _output/demo/conformance-*/, a one-line summary at the end.
conformance: test-env
	$(GO) run ./test/conformance _output/demo

# The end-to-end cluster test alone (make test runs it too).
e2e: test-env
	$(GO) test -tags integration -count=1 -v -timeout 20m ./test/integration/e2e/

# The fuzzers run beside the tests at the lowest priority: they take the
# CPU the test clusters leave idle while they wait on their nodes (about 5
# of a warm run's minutes otherwise); their log follows the tests'. In a
# session of their own, so that an interrupted make test stops them too.
test: lint test-env
	@setsid -w nice -n 19 hack/fuzz.sh >_output/fuzz.log 2>&1 & fuzz=$$!; \
	trap 'kill -- -$$fuzz 2>/dev/null; exit 130' INT TERM; \
	$(GO) test -tags integration -count=1 -timeout 40m ./...; tests=$$?; \
	wait $$fuzz; fuzzed=$$?; cat _output/fuzz.log; \
	if [ $$fuzzed -ne 0 ]; then echo "make test: fuzzing failed (its log is above)"; fi; \
	[ $$tests -eq 0 ] && [ $$fuzzed -eq 0 ]

# Every parser of others' input fuzzed six times as long as make test does.
fuzz:
	hack/fuzz.sh 6

test-unit:
	$(GO) test -short ./...

test-integration: test-env
	$(GO) test -tags integration -count=1 -timeout 40m ./test/...

lint:
	$(GO) vet ./...
	$(GO) vet -tags integration ./...
	# The release targets darwin and windows too: catch unix-only calls early.
	# With the release build's own flags (CGO off, -trimpath), so the compiles
	# vet needs are the ones the krew test's release build reuses from the
	# cache instead of paying them twice.
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 $(GO) vet -trimpath ./cmd/... ./pkg/...
	CGO_ENABLED=0 GOOS=darwin GOARCH=arm64 $(GO) vet -trimpath ./cmd/... ./pkg/...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [[ -n $$out ]]; then echo "not gofmt-clean:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff
	@for m in $(TOOL_MODULES); do (cd $$m && $(GO) mod tidy -diff) || exit 1; done
	hack/verify-code-patterns.sh
