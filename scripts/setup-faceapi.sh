#!/usr/bin/env bash
# Installs face-api's age/gender, expression and 68-point landmark models
# as ONNX: fetches the npm tarball of @vladmandic/face-api (pinned sha256),
# converts its three networks with `bin/facet models faceapi` into
# models/default/ and checks each output against its pinned sha256 (the
# conversion is deterministic). Also installs tools/faceapi-ref, the Node
# harness the converter's tests compare with. Safe to run again: nothing
# is fetched, converted or installed when it is already in place.
# Run from anywhere after `go build -o bin/facet ./cmd/facet`.
set -euo pipefail
cd "$(dirname "$0")/.."

FACEAPI_PKG=@vladmandic/face-api@1.7.15
FACEAPI_TGZ_SHA256=0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031
OUT_DIR=models/default
# sha256 of each converted model (internal/faceapi, IR 8, opset 13).
OUT_FILES=(faceapi_age_gender.onnx faceapi_expression.onnx faceapi_landmark68.onnx)
OUT_SHA256=(
  04aebda69461a3c447b6fa143f405142b3c49cbc50c97cbb01381ef5680a32b3
  b17557d4d70483a9cb3a074e4671a16aa99eba018d18e0439b38f7f6a2a3f515
  d285a715a5a20ccefb505df14911e66f6444e653c2f551120a6a7589ca7b1220
)

say() { printf 'setup-faceapi: %s\n' "$*"; }

. scripts/lib.sh # fetch, npm_ci

# outputs_ok: every converted model is there with its pinned sha256.
outputs_ok() {
  local i
  for i in "${!OUT_FILES[@]}"; do
    echo "${OUT_SHA256[$i]}  $OUT_DIR/${OUT_FILES[$i]}" | sha256sum -c --quiet >/dev/null 2>&1 || return 1
  done
}


mkdir -p .cache/npm "$OUT_DIR"
tgz=$(fetch "$FACEAPI_PKG" "$FACEAPI_TGZ_SHA256")

if ! outputs_ok; then
  [ -x bin/facet ] || { say "bin/facet not built: run go build -o bin/facet ./cmd/facet first"; exit 1; }
  say "converting face-api's networks from $tgz"
  bin/facet models faceapi "$tgz" "$OUT_DIR" >/dev/null
  if ! outputs_ok; then
    say "converted models do not match their pinned sha256:"
    (cd "$OUT_DIR" && sha256sum "${OUT_FILES[@]}")
    exit 1
  fi
fi
(cd "$OUT_DIR" && sha256sum "${OUT_FILES[@]}") | sed 's/^/setup-faceapi: /'

npm_ci tools/faceapi-ref
