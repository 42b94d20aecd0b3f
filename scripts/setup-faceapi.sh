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
OUT=(
  faceapi_age_gender.onnx=04aebda69461a3c447b6fa143f405142b3c49cbc50c97cbb01381ef5680a32b3
  faceapi_expression.onnx=b17557d4d70483a9cb3a074e4671a16aa99eba018d18e0439b38f7f6a2a3f515
  faceapi_landmark68.onnx=d285a715a5a20ccefb505df14911e66f6444e653c2f551120a6a7589ca7b1220
)

say() { printf 'setup-faceapi: %s\n' "$*"; }

. scripts/lib.sh # fetch, npm_ci, convert_pinned

mkdir -p "$OUT_DIR"
tgz=$(fetch "$FACEAPI_PKG" "$FACEAPI_TGZ_SHA256")
convert_pinned faceapi "$tgz" "$OUT_DIR" "${OUT[@]}"

npm_ci tools/faceapi-ref
