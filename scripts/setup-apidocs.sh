#!/usr/bin/env bash
# Installs the API reference's tools (tools/apidocs): @redocly/cli, which
# `make api-lint` runs on api/openapi.json, and redoc, whose standalone
# bundle renders GET /api/docs. Both come from one `npm ci`, exactly as
# tools/apidocs/package-lock.json pins them (@redocly/cli 1.34.5 depends
# on redoc 2.5.0 itself, so the bundle costs no extra download); the
# bundle is then copied to .cache/apidocs/, checked against its pinned
# sha256, for the handler in a checkout and for scripts/package.sh.
# Safe to run again: nothing is installed or copied that is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

BUNDLE=tools/apidocs/node_modules/redoc/bundles/redoc.standalone.js
BUNDLE_SHA256=0ec05be285ac885a330289b02f470e1bdbd2b6b3223a9fa213f24bf805a851d1
DEST=.cache/apidocs/redoc.standalone.js

say() { printf 'setup-apidocs: %s\n' "$*"; }

. scripts/lib.sh # npm_ci (tools/apidocs/.npmrc turns install scripts off)

npm_ci tools/apidocs
if ! echo "$BUNDLE_SHA256  $DEST" | sha256sum -c --quiet >/dev/null 2>&1; then
  if ! echo "$BUNDLE_SHA256  $BUNDLE" | sha256sum -c --quiet; then
    say "checksum mismatch for $BUNDLE"
    exit 1
  fi
  mkdir -p "$(dirname "$DEST")"
  install -m 0644 "$BUNDLE" "$DEST.tmp"
  mv "$DEST.tmp" "$DEST"
fi
