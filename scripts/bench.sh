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

# encode NAME ENCODER-OPTION...: the 60 s loop (H.264, a keyframe every
# 3 s) re-encoded once as uploads also come, with a keyframe every 3 s
# too, on 2 threads and the encoders' fast settings; says how long it took.
# The file's name holds a hash of the options: changing them remakes it.
encode() {
  local out t0
  out=".cache/bench/loop60-$(echo "$*" | md5sum | cut -c1-8)-$1"
  shift
  if [ ! -f "$out" ]; then
    t0=$(date +%s.%N)
    ffmpeg -nostdin -loglevel error -i "$v60" -an -g 75 -threads 2 "$@" -y "$out.part.${out##*.}"
    mv "$out.part.${out##*.}" "$out"
    awk -v t0="$t0" -v t1="$(date +%s.%N)" -v f="$out" 'BEGIN { printf "bench: made %s in %.1f s\n", f, t1 - t0 }' >&2
  fi
  echo "$out"
}
# VP8 and VP9 in webm as browsers record (MediaRecorder: realtime, 1 Mb/s
# here); HEVC in mp4 as phones record, at x265's fastest preset.
vp8=$(encode vp8.webm -c:v libvpx -deadline realtime -cpu-used 16 -b:v 1M)
vp9=$(encode vp9.webm -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -row-mt 1 -b:v 1M)
hevc=$(encode hevc.mp4 -c:v libx265 -preset ultrafast -x265-params log-level=error:pools=2)

b() { bin/facet-bench -root . "$@" || echo "BENCH case=$2 failed"; }
b -case pipeline -models fast -fps 5 "$v60"
b -case pipeline -models fast -fps 0 "$v60"
b -case pipeline -models default -fps 5 "$v60"
b -case pipeline -models default -fps 0 "$v60"
# The faster mode (settings.detect track): detect at least once a second,
# follow faces between, reuse unchanged faces' descriptions.
b -case pipeline -detect track -models fast -fps 5 "$v60"
b -case pipeline -detect track -models default -fps 5 "$v60"
# Decoding alone, per codec (the line says which: codec=), as the engine
# samples (sampling=pick) and on the old k/fps grid, every frame decoded
# (sampling=grid).
for cv in "h264 $v60" "vp8 $vp8" "vp9 $vp9" "hevc $hevc"; do
  for grid in false true; do
    bin/facet-bench -root . -case decode-only -fps 5 -grid=$grid "${cv#* }" || echo "BENCH case=decode-only codec=${cv%% *} grid=$grid failed"
  done
done
b -case infer-only -models fast -fps 5 "$v60"
b -case pipeline -name memory-10min -models fast -fps 5 "$v600"
b -case pipeline -name memory-10min -detect track -models fast -fps 5 "$v600"

# Project exports (handlers/export_bench_test.go): CSV, JSON and the report
# over 100 and 1,000 analysed recordings, in memory. Streaming means
# peak_live_mb (and peak_heap_mb, which adds the GC's headroom) stays flat
# as recordings grow.
{ go test -run '^$' -bench BenchmarkExport -benchtime 3x ./handlers 2>&1 || echo "BENCH case=export failed"; } | awk '
  /^BenchmarkExport\// || /^--- FAIL: BenchmarkExport\// {
    name = ($1 == "---") ? $3 : $1
    sub(/-[0-9]+$/, "", name); split(name, p, "/"); sub(/^recordings=/, "", p[3])
    if ($1 == "---") { printf "BENCH case=export-%s recordings=%s failed\n", p[2], p[3]; next }
    delete v; for (i = 3; i < NF; i += 2) v[$(i+1)] = $i
    printf "BENCH case=export-%s recordings=%s s_per_op=%.3f recordings_per_s=%.1f mb_out=%.2f peak_heap_mb=%.1f peak_live_mb=%.2f alloc_mb_per_op=%.0f\n",
      p[2], p[3], v["ns/op"] / 1e9, v["recordings/s"], v["MB-out/op"], v["peak-heap-MB"], v["peak-live-MB"], v["B/op"] / 1e6
    next
  }
  /^BENCH / { print }'

# API under load (handlers/apiload_bench_test.go): one client's
# authenticated list requests over loopback at concurrency 1, 8, 32 and
# 64, 5 s each, on the Cosmos DB stand-in (started by the benchmark).
{ go test -run '^$' -bench '^BenchmarkAPILoad$/^store=cosmos-standin$' -benchtime 1x ./handlers 2>&1 || echo "BENCH case=api-load failed"; } |
  awk '/^BENCH / { print; n++ } END { if (!n) print "BENCH case=api-load failed" }'

# The client portal (cmd/facet/portal_bench_test.go): each page in headless
# Chromium from the local stack over loopback, from the start of the
# navigation to the page usable (heading drawn with its data), the median
# of 5 loads; and the gzip-compressed size of what the first page loads.
{ go test -run '^$' -bench '^BenchmarkPortalPages$' -benchtime 1x ./cmd/facet 2>&1 || echo "BENCH case=portal-page failed"; } |
  awk '/^BENCH / { print; n++ } END { if (!n) print "BENCH case=portal-page failed" }'

# Throughput (cmd/facet/throughput_e2e_test.go): 20 uploads of the 6 s
# sample at once through the whole local stack (Azurite, the Cosmos DB and
# Service Bus stand-ins, a host stand-in in front of each `facet serve`),
# with one, then two handler processes on this machine: recordings per
# minute and seconds from each PUT to its stored result, p50 and p95.
{ go test -run '^$' -bench '^BenchmarkThroughput$' -benchtime 1x ./cmd/facet 2>&1 || echo "BENCH case=throughput failed"; } |
  awk '/^BENCH / { print; n++ } END { if (!n) print "BENCH case=throughput failed" }'
