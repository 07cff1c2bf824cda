# otelcol-audit: one Makefile for developers and CI. `make run` and `make test` are the two
# commands a fresh machine needs; .ci/run installs the system packages first and calls `make test`.

GO          ?= go
TOOLS_DIR   := $(CURDIR)/.tools
BIN_DIR     := $(CURDIR)/bin
BINARY      := $(BIN_DIR)/otelcol-audit
CONFIG      ?= otelcol-audit/config.yaml
OCB_VERSION := v0.165.0
# Versioned tool paths: bumping a version installs the new tool instead of reusing a stale one.
OCB         := $(TOOLS_DIR)/builder-$(OCB_VERSION)
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(TOOLS_DIR)/staticcheck-$(STATICCHECK_VERSION)
# mdatagen is built from the tool module internal/tools (its own go.mod, outside the root
# module's dependency graph); its version is the one that go.mod requires.
MDATAGEN_VERSION := $(shell awk '$$1 == "go.opentelemetry.io/collector/cmd/mdatagen" { print $$2 }' internal/tools/go.mod)
MDATAGEN    := $(TOOLS_DIR)/mdatagen-$(MDATAGEN_VERSION)
# Every component described by a metadata.yaml.
METADATA_YAMLS := $(shell find . -name metadata.yaml -not -path './.tools/*' -not -path './testbed/*' -not -path '*/node_modules/*' 2>/dev/null | sort)
# Packages of the distribution module; testbed/ has its own go.mod and its own targets.
PKGS        := ./...
GO_SOURCES  := $(shell find . -name '*.go' -not -path './testbed/*' -not -path './.tools/*' 2>/dev/null) go.mod go.sum

.PHONY: all build run test test-short test-chdb lint generate check-generated bench fuzz clean tools

# The ClickHouse engine chDB ships as a library (npm @chdb/lib-linux-x64-gnu, installed by
# scripts/clickhouse/install-chdb.sh). The ClickHouse store's modern-layout suites load it
# in-process through chdb-go (purego: no cgo flags, no header); see test-chdb.
CHDB_LIB    ?= $(CURDIR)/chdb/node_modules/@chdb/lib-linux-x64-gnu/libchdb.so

all: build

build: $(BINARY)

$(BINARY): $(GO_SOURCES)
	@mkdir -p $(BIN_DIR)
	$(GO) build -o $(BINARY) ./otelcol-audit

## run: build if needed, then run the collector with the default config (data under ./data).
run: $(BINARY)
	$(BINARY) --config $(CONFIG)

## test: everything CI runs: generated code fresh, lint, unit + integration tests with -race,
## and the end-to-end test against the real binary.
test: check-generated lint
	$(GO) test -race -count=1 -timeout 20m $(PKGS)
	@$(MAKE) --no-print-directory test-chdb
	cd testbed && $(GO) vet ./... && $(GO) test -count=1 -timeout 20m ./...

## test-chdb: the ClickHouse store's contract suites (storetest.Run, RunChain) on the modern
## layout, through clickhouse-go's column encoders and decoders, on the current ClickHouse engine
## of chDB (build tag chdb). A missing library fails under CI and skips with a note elsewhere.
test-chdb:
	@if [ ! -f "$(CHDB_LIB)" ]; then \
	  if [ -n "$$CI" ]; then echo "test-chdb: $(CHDB_LIB) is missing: run scripts/clickhouse/install-chdb.sh" >&2; exit 1; fi; \
	  echo "test-chdb: SKIPPED, $(CHDB_LIB) is missing (run scripts/clickhouse/install-chdb.sh; under CI this fails)"; exit 0; \
	fi; \
	echo "CHDB_LIB_PATH=$(CHDB_LIB) $(GO) test -race -count=1 -tags chdb -run 'ChDB|CHDB' ./internal/store/clickhousestore/"; \
	CHDB_LIB_PATH="$(CHDB_LIB)" $(GO) test -race -count=1 -timeout 20m -tags chdb -run 'ChDB|CHDB' ./internal/store/clickhousestore/

test-short:
	$(GO) test -short -count=1 $(PKGS)

lint: $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(STATICCHECK) $(PKGS)
	@# The chDB test files build only with their tag.
	$(GO) vet -tags chdb ./internal/store/clickhousestore/
	$(STATICCHECK) -tags chdb ./internal/store/clickhousestore/
	@# go.mod must say what the code imports: a direct import marked indirect, or a stale line,
	@# is a diff here.
	$(GO) mod tidy -diff
	cd testbed && $(GO) mod tidy -diff
	@# The Go example is its own module (a user sees its exact versions); lint it the same way.
	cd examples/go && $(GO) vet ./... && $(STATICCHECK) ./... && $(GO) mod tidy -diff
	@# No component imports another: they meet through internal/ contracts and the host.
	@bash scripts/check-component-imports.sh >/dev/null

$(OCB):
	GOBIN=$(TOOLS_DIR) $(GO) install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)
	mv $(TOOLS_DIR)/builder $@

$(STATICCHECK):
	GOBIN=$(TOOLS_DIR) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(TOOLS_DIR)/staticcheck $@

$(MDATAGEN): internal/tools/go.mod internal/tools/go.sum
	cd internal/tools && $(GO) build -o $@ go.opentelemetry.io/collector/cmd/mdatagen

tools: $(OCB) $(STATICCHECK) $(MDATAGEN)

# The builder writes its own go.mod; we only keep its Go sources, gofmt'ed, because the
# distribution builds from the root module.
define ocb_generate
	rm -rf $(1) && mkdir -p $(1)
	sed 's#^\(  output_path:\).*#\1 $(1)#' builder-config.yaml > $(1)/.builder-config.yaml
	$(OCB) --config $(1)/.builder-config.yaml --skip-compilation --skip-get-modules >/dev/null 2>&1 \
	  || $(OCB) --config $(1)/.builder-config.yaml --skip-compilation --skip-get-modules
	gofmt -w $(1)/*.go
endef

# mdatagen writes beside each metadata.yaml: internal/metadata/generated_*.go,
# internal/metadatatest/ (with telemetry), generated_component_test.go, generated_package_test.go
# and documentation.md (with telemetry).
define mdatagen_generate
	@for y in $(METADATA_YAMLS); do \
	  echo "mdatagen $$y"; $(MDATAGEN) $$y || exit 1; \
	done
endef

## generate: regenerate the distribution sources in otelcol-audit/ from builder-config.yaml, and
## each component's metadata code and tests from its metadata.yaml with mdatagen.
generate: $(OCB) $(MDATAGEN)
	$(call ocb_generate,$(CURDIR)/.tools/gen)
	cp .tools/gen/*.go otelcol-audit/
	$(call mdatagen_generate)

# Where check-generated copies the work tree for mdatagen to regenerate in (see the script).
MDGEN_CHECK := $(TOOLS_DIR)/mdgen-check

## check-generated: fail when otelcol-audit/*.go differ from what builder-config.yaml generates,
## or when a component's files differ from what mdatagen generates from its metadata.yaml.
check-generated: $(OCB) $(MDATAGEN)
	$(call ocb_generate,$(CURDIR)/.tools/gen)
	@for f in .tools/gen/*.go; do \
	  if ! cmp -s "$$f" "otelcol-audit/$$(basename $$f)"; then \
	    echo "otelcol-audit/$$(basename $$f) is stale: run 'make generate' and commit"; exit 1; fi; \
	done
	@for f in otelcol-audit/*.go; do \
	  [ -f ".tools/gen/$$(basename $$f)" ] || case "$$f" in *_test.go) ;; *) echo "$$f is not generated by the builder"; exit 1;; esac; \
	done
	@bash scripts/check-mdatagen.sh $(MDATAGEN) $(MDGEN_CHECK) $(METADATA_YAMLS)
	@echo "generated sources are up to date"

## bench: every benchmark beside its baseline in one run (whole pipelines as real processes,
## among them otelcol-audit built at 80561b4 in a temporary git worktree as the baseline; the
## store's ceiling, WAL, SQLite insert, redaction); writes BENCHMARKS.md from scratch.
## About 10 minutes on 2 cores. BENCH_FLAGS passes more flags to testbed/cmd/benchreport (-h).
BENCH_DURATION ?= 20s
BENCH_DRAIN    ?= 60s
BENCH_FLAGS    ?=
bench:
	cd testbed && $(GO) run ./cmd/benchreport -root .. -out ../BENCHMARKS.md -duration $(BENCH_DURATION) -drain-max $(BENCH_DRAIN) $(BENCH_FLAGS)

## soak: the durable pipeline for 10 minutes at 80% of the store ceiling measured first (section
## 2a's measurement), sampled every 10 s: RSS, acknowledged, committed, backlog, and whether RSS and
## the backlog stay flat (last third vs first third). Writes section 7 of BENCHMARKS.md, which
## `make bench` keeps. Not in `make bench` or `make test`. A shorter one: `make soak SOAK_DURATION=3m`.
SOAK_DURATION ?= 10m
SOAK_RATE     ?= 0.8
SOAK_FLAGS    ?=
.PHONY: soak soak-long
soak:
	cd testbed && $(GO) run ./cmd/benchreport -root .. -out ../BENCHMARKS.md -soak $(SOAK_DURATION) -soak-rate $(SOAK_RATE) $(SOAK_FLAGS)

## soak-long: the durable pipeline for an hour at half its probed max (committed) rate, sampled
## every minute: RSS and fd growth, WAL/DLQ/SQLite sizes, backlog, ack p99 drift; writes
## testbed/SOAK.md. SOAK_LONG_FLAGS passes more flags to testbed/cmd/soak (-h).
SOAK_LONG_DURATION ?= 1h
SOAK_LONG_INTERVAL ?= 1m
SOAK_LONG_FLAGS    ?=
soak-long:
	cd testbed && $(GO) run ./cmd/soak -root .. -out SOAK.md -duration $(SOAK_LONG_DURATION) -interval $(SOAK_LONG_INTERVAL) $(SOAK_LONG_FLAGS)

## fuzz: a short run of every fuzz target (the corpus lives in testdata/fuzz).
fuzz:
	@grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u | while read d; do \
	  for f in $$(grep -h -o '^func Fuzz[A-Za-z0-9_]*' $$d/*_test.go | sed 's/func //'); do \
	    echo "fuzz $$d $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 20s $$d || exit 1; done; done

clean:
	rm -rf $(BIN_DIR) .tools/gen $(MDGEN_CHECK)
