#!/usr/bin/env bash
# Reproduces the default model (Media/models/default) and its measurements, end to end:
#   1. fetch the Debian packages whose footage and photos are the content (Tools/fetch_training_sources.sh)
#   2. build the labelled training and validation sets (Tools/make_training_set.py)
#   3. train with `vidformer train` (the run that produced the shipped weights)
#   4. score it on the validation set, against ffmpeg's blackdetect/freezedetect and against
#      the same model trained with local attention instead of LSH
#
#   bash Tools/train_default_model.sh            # everything (about 2 hours on 2 cores)
#   STEPS="train eval" bash Tools/train_default_model.sh
#
# DATA (default ~/.cache/vidformer-data) holds the sources, the sets and the ablation model.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-$HOME/.cache/vidformer-data}
SETS=$DATA/sets
OUT=${OUT:-Media/models/default}
TRAIN_VIDEOS=${TRAIN_VIDEOS:-30}
VAL_VIDEOS=${VAL_VIDEOS:-10}
EPOCHS=${EPOCHS:-50}
STEPS=${STEPS:-"fetch sets train eval baseline ablation"}
B=.build/release/vidformer
[ -x "$B" ] || swift build -c release --product vidformer

# The model: 64x64 frames in 16x16 patches (16 tokens a frame) at 4 frames a second; 3
# reversible blocks of width 96 with 4 heads of 2-round LSH attention over chunks of 64 tokens.
MODEL_ARGS=(--labels content,black,bars,noise,frozen,repeat --size 64x64 --patch 16 --fps 4
            --d-model 96 --layers 3 --heads 4 --hashes 2 --chunk 64 --d-ff 384
            --epochs "$EPOCHS" --lr 0.001 --warmup 100 --tokens 16384 --seed 1 --val-split 0.1
            --min-segment content=0.5,black=0.5,bars=1,noise=0.5,frozen=2,repeat=2)

step() { [[ " $STEPS " == *" $1 "* ]]; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

if step fetch; then log "fetching sources"; bash Tools/fetch_training_sources.sh "$DATA"; fi
if step sets; then
  log "building $VAL_VIDEOS validation and $TRAIN_VIDEOS training videos"
  python3 Tools/make_training_set.py --split val --videos "$VAL_VIDEOS" --out "$SETS/val" --sources "$DATA/root"
  python3 Tools/make_training_set.py --split train --videos "$TRAIN_VIDEOS" --out "$SETS/train" --sources "$DATA/root"
fi
if step train; then
  log "training the default model into $OUT"
  rm -rf "$OUT.partial" && mkdir -p "$(dirname "$OUT")"
  /usr/bin/time -v $B train --data "$SETS/train" --out "$OUT.partial" --name default "${MODEL_ARGS[@]}" 2> >(tee "$DATA/train-default.log" >&2)
  rm -f "$OUT.partial"/training-state.*
  rm -rf "$OUT" && mv "$OUT.partial" "$OUT"
fi
if step eval; then
  log "scoring on the validation set"
  $B eval --data "$SETS/val" --model "$OUT" --format json > "$DATA/eval-default.json"
  $B eval --data "$SETS/val" --model "$OUT" --format table
  log "and on the training set (for reference)"
  $B eval --data "$SETS/train" --model "$OUT" --format json > "$DATA/eval-default-train.json"
fi
if step baseline; then
  log "ffmpeg blackdetect/freezedetect baseline"
  python3 Tools/baseline_ffmpeg.py --data "$SETS/val" --out "$SETS/baseline-val"
  $B eval --data "$SETS/val" --model "$OUT" --predictions "$SETS/baseline-val" --format json > "$DATA/eval-baseline.json"
  $B eval --data "$SETS/val" --model "$OUT" --predictions "$SETS/baseline-val" --format table
fi
if step ablation; then
  log "ablation: the same model and budget with local attention"
  rm -rf "$DATA/models/local"
  /usr/bin/time -v $B train --data "$SETS/train" --out "$DATA/models/local" --name local "${MODEL_ARGS[@]}" --attention local \
    2> >(tee "$DATA/train-local.log" >&2)
  $B eval --data "$SETS/val" --model "$DATA/models/local" --format json > "$DATA/eval-local.json"
  $B eval --data "$SETS/val" --model "$DATA/models/local" --format table
fi
log "done"
