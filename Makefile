# facet: see README.md. Every target is safe to run again.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/facet

.DEFAULT_GOAL := build
.PHONY: setup build test bench fuzz lint dev demo package infra-lint api-lint client clean

## setup: install ffmpeg (apt), Go modules, ONNX Runtime and the default models
setup:
	scripts/setup.sh

## build: the facet binary in bin/
build:
	$(GO) build -o $(BIN) ./cmd/facet

## test: set-up, lint, infra-lint, api-lint, then every test (integration tests included)
test: setup lint infra-lint api-lint
	$(GO) test -count=1 -timeout 18m ./...

## bench: speed and memory figures, one process per case
bench: setup
	scripts/bench.sh

## fuzz: each fuzz target for FUZZTIME in turn (`go test` runs only their seeds); a failing input lands in <pkg>/testdata/fuzz/<Target>/
# Go spends up to 60 s minimising each new input by default, which would eat a short run.
# Go 1.26 may end a run with "context deadline exceeded" when no input failed (go.dev/issue/75804,
# fixed in 1.27): such a run passes; a run that wrote a failing input fails.
FUZZTIME         ?= 20s
FUZZMINIMIZETIME ?= 2s
fuzz_one = log=$$(mktemp); echo "$(GO) test -run '^$$' -fuzz '^$(1)$$' -fuzztime $(FUZZTIME) $(2)"; \
	$(GO) test -run '^$$' -fuzz '^$(1)$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $(2) 2>&1 | tee $$log; \
	rc=$${PIPESTATUS[0]}; if [ $$rc != 0 ] && grep -q 'context deadline exceeded' $$log && ! grep -q 'Failing input written' $$log; then \
	echo "$(1): stopped by go.dev/issue/75804 with no failing input: passed"; rc=0; fi; rm -f $$log; exit $$rc
fuzz:
	@$(call fuzz_one,FuzzValidID,.)
	@$(call fuzz_one,FuzzCheckText,.)
	@$(call fuzz_one,FuzzAlign,.)
	@$(call fuzz_one,FuzzDecode,./internal/invoke)
	@$(call fuzz_one,FuzzBindValue,./internal/invoke)
	@$(call fuzz_one,FuzzHostRoundTrip,./internal/invoke)
	@$(call fuzz_one,FuzzRunAnalysis,./internal/app)
	@$(call fuzz_one,FuzzDeleteData,./internal/app)
	@$(call fuzz_one,FuzzTokens,./internal/app)
	@$(call fuzz_one,FuzzAPIBodies,./handlers)
	@$(call fuzz_one,FuzzTriggers,./handlers)
	@$(call fuzz_one,FuzzPathIDs,./handlers)
	@$(call fuzz_one,FuzzRequestParsers,./handlers)

## dev: the whole service locally (Azurite, stand-ins, handler, host stand-in)
dev: setup
	bin/facet dev

## demo: set-up, then the main story on the local stack (consent, upload, analysis, deletion)
demo: setup
	bin/facet demo

## package: the Functions app zip (dist/facet.zip) with its native tools and models
package: setup
	scripts/package.sh

## lint: gofmt, go vet, go mod tidy check, staticcheck when installed
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...
	@cp go.mod /tmp/facet-go.mod.$$$$ && cp go.sum /tmp/facet-go.sum.$$$$ && $(GO) mod tidy && \
	  if ! cmp -s go.mod /tmp/facet-go.mod.$$$$ || ! cmp -s go.sum /tmp/facet-go.sum.$$$$; then \
	    echo "go mod tidy changed go.mod/go.sum: commit the result"; rm -f /tmp/facet-go.*.$$$$; exit 1; fi; \
	  rm -f /tmp/facet-go.*.$$$$
	@if command -v staticcheck >/dev/null; then staticcheck ./...; fi

## client: regenerate the Go client (client/client.gen.go) from api/openapi.json with the oapi-codegen go.mod pins
client:
	$(GO) generate ./client

## infra-lint: Bicep syntax (shared bicep-lint) and facet's own rules (scripts/infra-lint.mjs)
BICEP_LINT_DIR ?= .cache/tools/bicep-lint
INFRA_BICEP     = $(wildcard infra/*.bicep infra/modules/*.bicep)
infra-lint:
	@if ! command -v node >/dev/null || [ ! -d "$(BICEP_LINT_DIR)/node_modules/tree-sitter-bicep" ]; then \
	  echo "infra-lint: skipped: node or $(BICEP_LINT_DIR) not installed (make setup copies it from ../shared/tools/bicep-lint)"; \
	  if [ "$$FACET_REQUIRE_INTEGRATION" = 1 ]; then exit 1; fi; exit 0; \
	fi; \
	if [ -z "$(INFRA_BICEP)" ]; then echo "infra-lint: no infra/*.bicep or infra/modules/*.bicep yet"; exit 1; fi; \
	set -e; \
	node "$(BICEP_LINT_DIR)/bicep-lint.mjs" $(INFRA_BICEP); \
	mkdir -p .cache; \
	$(GO) run ./cmd/facet config-vars > .cache/config-vars.json; \
	FACET_BICEP_LINT_DIR="$(BICEP_LINT_DIR)" node scripts/infra-lint.mjs --config-vars .cache/config-vars.json $(INFRA_BICEP)

## api-lint: api/openapi.json against @redocly/cli's recommended-strict rules (redocly.yaml; tools/apidocs pins the version)
REDOCLY ?= tools/apidocs/node_modules/.bin/redocly
api-lint:
	@if ! command -v node >/dev/null || [ ! -x "$(REDOCLY)" ]; then \
	  echo "api-lint: skipped: node or $(REDOCLY) not installed (make setup installs it)"; \
	  if [ "$$FACET_REQUIRE_INTEGRATION" = 1 ]; then exit 1; fi; exit 0; \
	fi; \
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true "$(REDOCLY)" lint --config redocly.yaml api/openapi.json

clean:
	rm -rf bin dist
