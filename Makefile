# facet: see README.md. Every target is safe to run again.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/facet

.DEFAULT_GOAL := build
.PHONY: setup build test bench lint dev demo package clean

## setup: install ffmpeg (apt), Go modules, ONNX Runtime and the default models
setup:
	scripts/setup.sh

## build: the facet binary in bin/
build:
	$(GO) build -o $(BIN) ./cmd/facet

## test: set-up, lint, then every test (integration tests included)
test: setup lint
	$(GO) test -count=1 -timeout 18m ./...

## bench: speed and memory figures, one process per case
bench: setup
	scripts/bench.sh

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

clean:
	rm -rf bin dist
