#!/usr/bin/env bash
# Installs the reference harness of internal/onnx/reference_test.go
# (tools/fr-ref): its npm packages, as tools/fr-ref/package-lock.json pins
# them, and, into .cache/fr-ref/, what the harness runs out of
# faceplugin-face-recognition-js@0.0.1: the OpenCV.js build the package
# ships (js/opencv.js and its wasm) and the package's own, unmodified models
# (each pinned by sha256). Safe to run again: nothing is installed or
# extracted that is already in place. Run from anywhere after
# scripts/setup.sh has fetched the tarball.
set -euo pipefail
cd "$(dirname "$0")/.."

TGZ=.cache/npm/faceplugin-face-recognition-js-0.0.1.tgz
TGZ_SHA256=7ea06031d9a3f83753254fcff60506a07b81b46fc84d4ee024cd041f260ec1ba
DEST=.cache/fr-ref
# member of the tarball (under package/), sha256
FILES=(
  js/opencv.js 056972307e143f2cfffb9418f3978fe4df1ff91b74f87e7cb740ff6aa0f8f410
  js/opencv_js.wasm 8e08dd691597ce0458a3d0e8633bf400f65108930ea94506afbf6e1ef1765948
  model/fr_detect.onnx 6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854
  model/fr_expression.onnx 88959314d9dc14d6c968cca31dc068e4350bf1944154e3bdd2eece5d0f318d05
  model/fr_age.onnx 74c9b01700cb9ef96f7190a2230218414ff99d231415c4b091a755780cad5e8a
  model/fr_gender.onnx a003e8392a617ca834c7ca2c01e0895f5c354217fb56cd0373935e6e9b9c396e
)

say() { printf 'setup-fr-ref: %s\n' "$*"; }

. scripts/lib.sh # npm_ci (tools/fr-ref/.npmrc turns install scripts off:
# onnxruntime-node's postinstall would download GPU libraries)

# extract MEMBER SHA256: one file of the tarball into $DEST, atomically,
# unless it is there already with that sha256.
extract() {
  local member=$1 sum=$2 dest=$DEST/$1
  if [ -f "$dest" ] && echo "$sum  $dest" | sha256sum -c --quiet 2>/dev/null; then
    return
  fi
  if ! echo "$TGZ_SHA256  $TGZ" | sha256sum -c --quiet 2>/dev/null; then
    say "$TGZ is missing or not the pinned one: run scripts/setup.sh first"
    exit 1
  fi
  mkdir -p "$(dirname "$dest")"
  tar -xzOf "$TGZ" "package/$member" >"$dest.tmp"
  if ! echo "$sum  $dest.tmp" | sha256sum -c --quiet; then
    say "checksum mismatch for package/$member in $TGZ"
    rm -f "$dest.tmp"
    exit 1
  fi
  mv "$dest.tmp" "$dest"
}

npm_ci tools/fr-ref
for ((i = 0; i < ${#FILES[@]}; i += 2)); do
  extract "${FILES[$i]}" "${FILES[$((i + 1))]}"
done
