#!/usr/bin/env bash
# Builds the Functions app package: dist/app (what the host runs, laid out
# as it expects: host.json beside the function folders) and dist/facet.zip.
# Run `make setup` first (it fetches and checksums everything shipped).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf dist/app dist/facet.zip
mkdir -p dist/app/lib dist/app/bin dist/app/models/default
# The custom handler: linux/amd64 with cgo (onnxruntime_go loads the
# runtime with dlopen; nothing else is linked beyond glibc).
CGO_ENABLED=1 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags "-s -w" -o dist/app/facet ./cmd/facet
cp host.json dist/app/
cp -r functions/* dist/app/
install -m 0644 .cache/lib/libonnxruntime.so.1 dist/app/lib/
install -m 0755 .cache/static/ffmpeg .cache/static/ffprobe dist/app/bin/
install -m 0644 models/default.json dist/app/models/
# The API reference's script (GET /api/docs), pinned by make setup.
install -D -m 0644 .cache/apidocs/redoc.standalone.js dist/app/apidocs/redoc.standalone.js
# Only the files the default manifest names (set-up also keeps the models
# of the faceplugin comparison set there).
for f in $(grep -o '"file": "default/[^"]*"' models/default.json | cut -d'"' -f4); do
  install -m 0644 "models/$f" dist/app/models/default/
done
(cd dist/app && find . -type f ! -name SHA256SUMS -print0 | sort -z | xargs -0 sha256sum > SHA256SUMS)
(cd dist/app && zip -q -r -X ../facet.zip .)
glibc=$(objdump -T dist/app/facet | grep -o 'GLIBC_[0-9.]*' | sort -V | tail -n 1)
echo "package: dist/facet.zip ($(du -h dist/facet.zip | cut -f1)); the handler needs $glibc"
