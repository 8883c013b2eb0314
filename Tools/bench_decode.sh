#!/usr/bin/env bash
# Frame pipeline benchmark (issue 2): vidformer's decode + scale + tokenise beside ffmpeg,
# PyAV, decord and OpenCV, all in one run of ../shared/peers/bench_decode.py, then peak RSS
# on a 10-minute and a 60-minute file.
#   bash ../shared/peers/setup.sh && bash ../shared/peers/make_media.sh   (once)
#   bash Tools/bench_decode.sh [OUTDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/vidformer-bench}
mkdir -p "$out"
media=${PEERS_MEDIA:-$HOME/.cache/vidformer-peers}
py=${PEERS_PY:-$HOME/.cache/vidformer-peers/venv/bin/python}
bin="$here/.build/release/vidformer"
[ -x "$bin" ] || (cd "$here" && swift build -c release --product vidformer)

# 1. Throughput side by side (interleaved rounds, medians), on the peers' 1080p clip.
"$py" "$here/../shared/peers/bench_decode.py" run --repeat 3 --files "$media/t1080_60s.mp4" --out "$out/decode.json" \
  --extra "vidformer all frames::$bin bench decode {IN}" \
  --extra "vidformer fps=2::$bin bench decode --fps 2 {IN}" \
  --extra "vidformer keyframes::$bin bench decode --keyframes-only {IN}" \
  --extra "ffmpeg fps=2 scale 64::ffmpeg -v error -threads 0 -i {IN} -vf fps=2,scale=64:64 -pix_fmt rgb24 -f rawvideo -y /dev/null" \
  | tee "$out/decode.md"

# 2. Memory does not grow with length: 10 and 60 minutes of the same 320x240 source.
for minutes in 10 60; do
  f="$media/long_${minutes}min.mp4"
  [ -s "$f" ] || ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi \
    -i "testsrc2=size=320x240:rate=30:duration=$((minutes * 60))" -c:v libx264 -preset ultrafast -g 250 "$f"
  for args in "" "--fps 4"; do
    /usr/bin/time -f "%M" -o "$out/rss.txt" "$bin" bench decode $args "$f" > "$out/run.json"
    echo "{\"file\": \"$(basename "$f")\", \"args\": \"$args\", \"max_rss_kb\": $(cat "$out/rss.txt"), \"result\": $(cat "$out/run.json")}"
  done
done | tee "$out/memory.jsonl"
