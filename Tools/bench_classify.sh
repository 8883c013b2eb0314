#!/usr/bin/env bash
# End-to-end classify speed beside ffmpeg's own decoding, in one run (issue 6):
#   bash Tools/bench_classify.sh MODEL_DIR
# For 480p, 720p and 1080p H.264 clips (testsrc2, 30 fps, B-frames, the peers' settings):
# wall time of `ffmpeg -threads 0 -i IN -f null -` and of `vidformer classify` (median of 3,
# interleaved), x realtime, and the ratio (ffmpeg time / vidformer time: above 1 = faster).
# COMPARE_BIN=/path/to/other/vidformer adds that build's time as a last column (same runs).
set -euo pipefail
model=${1:?usage: bench_classify.sh MODEL_DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
bin="$here/.build/release/vidformer"
other=${COMPARE_BIN:-}
media=${PEERS_MEDIA:-$HOME/.cache/vidformer-peers}
mkdir -p "$media"
for size in 854x480 1280x720 1920x1080; do
  f="$media/clip_${size}_60s.mp4"
  [ -s "$f" ] || ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -i "testsrc2=size=$size:rate=30:duration=60" \
    -c:v libx264 -preset veryfast -pix_fmt yuv420p -an "$f"
done
wall() { local s e; s=$(date +%s.%N); "$@" > /dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
median() { printf "%s\n" "$@" | sort -n | sed -n 2p; }
echo "| input | ffmpeg -f null s | vidformer classify s | x realtime | vidformer / ffmpeg speed |${other:+ $other s |}"
echo "|---|---|---|---|---|${other:+---|}"
for size in 854x480 1280x720 1920x1080; do
  f="$media/clip_${size}_60s.mp4"
  a=(); b=(); c=()
  for r in 1 2 3; do
    a+=("$(wall ffmpeg -v error -threads 0 -i "$f" -f null -)")
    b+=("$(wall "$bin" classify --model "$model" --format json --no-progress "$f")")
    [ -z "$other" ] || c+=("$(wall "$other" classify --model "$model" --format json --no-progress "$f")")
  done
  fa=$(median "${a[@]}"); fb=$(median "${b[@]}")
  extra=""
  [ -z "$other" ] || extra=" $(median "${c[@]}") |"
  echo "| $size | $fa | $fb | $(echo "scale=1; 60 / $fb" | bc) | $(echo "scale=2; $fa / $fb" | bc)x |$extra"
done
