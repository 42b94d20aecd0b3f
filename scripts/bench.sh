#!/usr/bin/env bash
# Speed and memory of the engine, one process per case (see README,
# Benchmarks). Prints one BENCH line per case and exits 0 whatever the
# figures are: they are read, not asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${FACET_SHARED_DIR:-../shared}
src="$shared/media/synthetic_faces_640x480.mp4"
[ -f "$src" ] || { echo "bench: $src not found (set FACET_SHARED_DIR)"; exit 1; }
mkdir -p .cache/bench bin
go build -o bin/facet-bench ./cmd/facet-bench

# loop N SECONDS: the 6 s sample repeated to SECONDS, stream-copied.
loop() {
  local out=".cache/bench/loop$1.mp4"
  [ -f "$out" ] || ffmpeg -nostdin -loglevel error -stream_loop $(($1 / 6)) -i "$src" -c copy -t "$1" -y "$out"
  echo "$out"
}
v60=$(loop 60)
v600=$(loop 600)

b() { bin/facet-bench -root . "$@" || echo "BENCH case=$2 failed"; }
b -case pipeline -models fast -fps 5 "$v60"
b -case pipeline -models fast -fps 0 "$v60"
b -case pipeline -models default -fps 5 "$v60"
b -case pipeline -models default -fps 0 "$v60"
b -case decode-only -models fast -fps 5 "$v60"
b -case infer-only -models fast -fps 5 "$v60"
b -case pipeline -name memory-10min -models fast -fps 5 "$v600"
