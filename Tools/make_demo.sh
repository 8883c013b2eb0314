#!/usr/bin/env bash
# Rebuilds Media/demo.mp4 (the README's first command classifies it) and its true labels
# Media/demo.csv: one 108-second edit with every label of the default model, made like the
# validation set (validation footage, seed 24) at 426x240, then re-encoded small for the repo.
# Needs the sources of Tools/fetch_training_sources.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 Tools/make_training_set.py --split val --videos 1 --seed 24 --minutes 1.3 1.5 --size 426x240 --container mp4 \
  --name demo --out "$tmp"
ffmpeg -nostdin -v error -y -i "$tmp/demo.mp4" -c:v libx264 -preset medium -crf 33 -movflags +faststart Media/demo.mp4
cp "$tmp/demo.csv" Media/demo.csv
