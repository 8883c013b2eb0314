#!/usr/bin/env bash
# The Reformer paper's duplication task (reformer.md, "Headline figures"), scaled to a 2-core CPU:
# trains one 1-layer causal model per attention setting, evaluates each with full attention and
# LSH with 8, 4, 2 and 1 rounds on held-out sequences, and writes the table beside the paper's.
#
#   bash Tools/duplication_task.sh [OUT_DIR]
#   TRAIN="lsh-4 full" STEPS=3000 LENGTH=512 VOCAB=64 bash Tools/duplication_task.sh /tmp/dup
#
# Trainings run side by side, one thread each (JOBS, default: cores). MORE_STEPS=N then continues
# every model for N more steps from its weights (fresh warm-up and decay from LR_MORE) into
# OUT/<setting>.more, and the table scores those.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$HOME/.cache/vidformer-data/duplication}
train=${TRAIN:-"full lsh-4 lsh-2 lsh-1"}
steps=${STEPS:-4000}
jobs=${JOBS:-$(nproc)}
extra=(--length "${LENGTH:-512}" --vocabulary "${VOCAB:-64}" --width "${WIDTH:-128}" --heads 4 --chunk 64
       --batch "${BATCH:-8}" --lr "${LR:-1e-3}")
swift build -c release --product vidformer-duplication >/dev/null
bin=.build/release/vidformer-duplication
mkdir -p "$out"

running=0
for a in $train; do
  if [[ -f "$out/$a/model.safetensors" ]]; then echo "have $out/$a (delete it to retrain)"; continue; fi
  echo "training with $a for $steps steps (log: $out/$a/log.jsonl)"
  /usr/bin/env time -f "%e s, %M KB peak" -o "$out/$a.time" \
    "$bin" train --out "$out/$a" --attention "$a" --steps "$steps" --log-every 100 "${extra[@]}" 2>"$out/$a.stderr" &
  running=$((running + 1))
  if (( running >= jobs )); then wait -n; running=$((running - 1)); fi
done
wait

more=${MORE_STEPS:-0}
final() { if [[ -f "$out/$1.more/model.safetensors" ]]; then echo "$out/$1.more"; else echo "$out/$1"; fi; }
if (( more > 0 )); then
  running=0
  for a in $train; do
    if [[ -f "$out/$a.more/model.safetensors" ]]; then echo "have $out/$a.more"; continue; fi
    echo "continuing $a for $more more steps (log: $out/$a.more/log.jsonl)"
    /usr/bin/env time -f "%e s, %M KB peak" -o "$out/$a.more.time" \
      "$bin" train --init "$out/$a" --out "$out/$a.more" --attention "$a" --steps "$more" --warmup 100 --log-every 100 \
      "${extra[@]}" --lr "${LR_MORE:-5e-4}" 2>"$out/$a.more.stderr" &
    running=$((running + 1))
    if (( running >= jobs )); then wait -n; running=$((running - 1)); fi
  done
  wait
fi

: >"$out/results.jsonl"
for a in $train; do "$bin" eval --model "$(final "$a")" --sequences "${SEQUENCES:-64}" --threads "$jobs" >>"$out/results.jsonl"; done

python3 - "$out/results.jsonl" "$train" <<'EOF' | tee "$out/table.md"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
cols = ["full", "lsh-8", "lsh-4", "lsh-2", "lsh-1"]
acc = {(r["trained_with"], r["evaluated_with"]): r["accuracy"] for r in rows}
paper = {"full": [100, 94.8, 92.5, 76.9, 52.5], "lsh-4": [0.8, 100, 99.9, 99.4, 91.9],
         "lsh-2": [0.8, 100, 99.9, 98.1, 86.8], "lsh-1": [0.8, 99.9, 99.6, 94.8, 77.9]}
steps = {r["trained_with"]: r.get("steps", "?") for r in rows}
print("| train \\ eval | steps | " + " | ".join(c.upper() for c in cols) + " |")
print("|---" * (len(cols) + 2) + "|")
for t in sys.argv[2].split():
    ours = " | ".join(f"{100 * acc[(t, c)]:.1f}%" if (t, c) in acc else "–" for c in cols)
    print(f"| {t.upper()} (ours) | {steps.get(t, '?')} | {ours} |")
    if t in paper:
        print(f"| {t.upper()} (paper) | – | " + " | ".join(f"{p}%" for p in paper[t]) + " |")
EOF
