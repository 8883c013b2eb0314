#!/usr/bin/env bash
# Reproduces the default model (Media/models/default) and its measurements, end to end:
#   1. fetch the Debian packages whose footage and photos are the content (Tools/fetch_training_sources.sh)
#   2. build the labelled training sets (two of 50 videos, other seeds; one folder links both) and
#      validation sets, one of them low-quality (Tools/make_training_set.py)
#   3. train with `vidformer train` (the run that produced the shipped weights)
#   4. score it on the validation sets, against ffmpeg's blackdetect/freezedetect and against
#      the same model trained with local attention instead of LSH
#
#   bash Tools/train_default_model.sh            # everything (about 2.5 hours on 2 cores)
#   STEPS="train eval" bash Tools/train_default_model.sh
#   THREADS=2 STEPS="train eval" bash Tools/train_default_model.sh   # the model alone on two threads
# The shipped weights come from the train and ablation steps side by side, one thread each
# (training is deterministic for a thread count; another thread count gives other weights).
#
# DATA (default ~/.cache/vidformer-data) holds the sources, the sets and the ablation model.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-$HOME/.cache/vidformer-data}
SETS=$DATA/sets
OUT=${OUT:-Media/models/default}
TRAIN_VIDEOS=${TRAIN_VIDEOS:-50}   # in each of the two training sets
VAL_VIDEOS=${VAL_VIDEOS:-10}
VAL_LQ_VIDEOS=${VAL_LQ_VIDEOS:-4}
EPOCHS=${EPOCHS:-15}
STEPS=${STEPS:-"fetch sets train eval baseline ablation"}
B=.build/release/vidformer
[ -x "$B" ] || swift build -c release --product vidformer

# The model: 64x64 frames (fast bilinear, so snow keeps its texture) in 16x16 patches (16 tokens
# a frame, each with its pixels, their change since the previous sample, and four detail
# statistics of the patch measured on a 256x256 grey picture, multiplied by 8 so they weigh
# beside the pixels) and a 17th token, the whole frame shrunk to one patch, at 4 frames a
# second; the position sinusoid at a quarter of its size (a picture replayed later then looks
# like its original); 3 reversible blocks of width 96 with
# 4 heads of 2-round LSH attention over chunks of 64 tokens, two of them look-back heads (they
# see only frames at least 16 s earlier, beside a null key). Training pastes a synthetic
# repeat into half the crops. Black is decided by the contract's definition, measured on every
# sampled frame (--black-label black: at least 98% of pixels at or below 10% of the luma range).
# The default model and the local-attention ablation train side by side, one thread each
# (the same budget: 15 epochs over 100 videos; training is deterministic for a thread count).
MODEL_ARGS=(--labels content,black,bars,noise,frozen,repeat --size 64x64 --patch 16 --fps 4 --motion --detail 4 --detail-dark --detail-gain 8 --summary-token --time-signal 0.25 --scaling fast --threads "${THREADS:-1}"
            --d-model 96 --layers 3 --heads 4 --hashes 2 --chunk 64 --d-ff 384 --look-back-heads 2 --look-back-seconds 16
            --synthetic-repeats 0.5
            --epochs "$EPOCHS" --lr 0.001 --warmup 100 --tokens 16384 --seed 1 --val-split 0.1
            --min-segment content=0.5,black=0.5,bars=1,noise=0.5,frozen=2,repeat=2 --black-label black)

step() { [[ " $STEPS " == *" $1 "* ]]; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

if step fetch; then log "fetching sources"; bash Tools/fetch_training_sources.sh "$DATA"; fi
if step sets; then
  log "building $VAL_VIDEOS validation and 2x$TRAIN_VIDEOS training videos"
  python3 Tools/make_training_set.py --split val --videos "$VAL_VIDEOS" --out "$SETS/val" --sources "$DATA/root"
  python3 Tools/make_training_set.py --split train --videos "$TRAIN_VIDEOS" --out "$SETS/train" --sources "$DATA/root"
  # As many again from the same training material, drawn with another seed.
  python3 Tools/make_training_set.py --split train --videos "$TRAIN_VIDEOS" --seed 4 --name trainb --out "$SETS/trainb" --sources "$DATA/root"
  mkdir -p "$SETS/train100"
  for f in "$SETS"/train/* "$SETS"/trainb/*; do
    [[ $f == *.jsonl ]] || ln -sfn "../$(basename "$(dirname "$f")")/$(basename "$f")" "$SETS/train100/$(basename "$f")"
  done
  # A second validation set compressed like small web uploads (H.264 CRF 30-36 and the like),
  # where snow and fine texture are smeared; other seeds, the validation material.
  log "building $VAL_LQ_VIDEOS low-quality validation videos"
  python3 Tools/make_training_set.py --split val --videos "$VAL_LQ_VIDEOS" --seed 3 --low-quality --name vallq \
    --out "$SETS/val-lq" --sources "$DATA/root"
fi
train_default() {
  log "training the default model into $OUT"
  rm -rf "$OUT.partial" && mkdir -p "$(dirname "$OUT")"
  /usr/bin/time -v $B train --data "$SETS/train100" --out "$OUT.partial" --name default "${MODEL_ARGS[@]}" > "$DATA/train-default.log" 2>&1
  rm -f "$OUT.partial"/training-state.*
  rm -rf "$OUT" && mv "$OUT.partial" "$OUT"
  log "default model trained ($(grep -c '^epoch' "$DATA/train-default.log") epochs; log in $DATA/train-default.log)"
}
train_local() {
  log "ablation: the same model and budget with local attention"
  rm -rf "$DATA/models/local"
  /usr/bin/time -v $B train --data "$SETS/train100" --out "$DATA/models/local" --name local "${MODEL_ARGS[@]}" --attention local \
    > "$DATA/train-local.log" 2>&1
  log "local-attention model trained (log in $DATA/train-local.log)"
}
if step train && step ablation; then
  # Decode the training set into the frame cache once, then train both side by side.
  $B train --data "$SETS/train100" --out "$DATA/models/cache-warmup" "${MODEL_ARGS[@]}" --epochs 0 > /dev/null 2>&1 || true
  rm -rf "$DATA/models/cache-warmup"
  train_default & a=$!
  train_local & b=$!
  wait $a; wait $b
elif step train; then train_default
elif step ablation; then train_local
fi
if step eval; then
  log "scoring on the validation set"
  $B eval --data "$SETS/val" --model "$OUT" --format json > "$DATA/eval-default.json"
  $B eval --data "$SETS/val" --model "$OUT" --format table
  if [ -d "$SETS/val-lq" ]; then
    $B eval --data "$SETS/val-lq" --model "$OUT" --format json > "$DATA/eval-default-lq.json"
    $B eval --data "$SETS/val-lq" --model "$OUT" --format table
  fi
fi
if step baseline; then
  log "ffmpeg blackdetect/freezedetect baseline"
  python3 Tools/baseline_ffmpeg.py --data "$SETS/val" --out "$SETS/baseline-val"
  $B eval --data "$SETS/val" --model "$OUT" --predictions "$SETS/baseline-val" --format json > "$DATA/eval-baseline.json"
  $B eval --data "$SETS/val" --model "$OUT" --predictions "$SETS/baseline-val" --format table
  if [ -d "$SETS/val-lq" ]; then
    python3 Tools/baseline_ffmpeg.py --data "$SETS/val-lq" --out "$SETS/baseline-val-lq"
    $B eval --data "$SETS/val-lq" --model "$OUT" --predictions "$SETS/baseline-val-lq" --format table
  fi
fi
if step ablation; then
  $B eval --data "$SETS/val" --model "$DATA/models/local" --format json > "$DATA/eval-local.json"
  $B eval --data "$SETS/val" --model "$DATA/models/local" --format table
  if [ -d "$SETS/val-lq" ]; then $B eval --data "$SETS/val-lq" --model "$DATA/models/local" --format table; fi
fi
log "done"
