#!/usr/bin/env python3
"""Where a model's mistakes come from: for every kind of segment that make_training_set.py
cut into a labelled set (by its planned label; content by source: photo, clip, mandelbrot, life, ...; holds; noise;
repeats by the source they replay), the share of its duration that the predictions gave each
label.

    B=.build/release/vidformer; V=~/.cache/vidformer-data/sets/val
    mkdir -p /tmp/pred && for f in $V/*.{ts,mkv,mp4,webm,mov,avi}; do [ -e "$f" ] || continue
        b=$(basename "${f%.*}"); $B classify "$f" -q --format json -o /tmp/pred/$b.json; done
    python3 Tools/error_breakdown.py --data $V --predictions /tmp/pred

Reads the set's manifest.jsonl and one classify JSON (X.json) per video.
"""
import argparse
import collections
import json
import sys
from fractions import Fraction
from pathlib import Path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="a set made by make_training_set.py")
    ap.add_argument("--predictions", type=Path, required=True, help="folder of classify JSON, X.json per video")
    args = ap.parse_args()
    shares = collections.defaultdict(collections.Counter)
    manifest = args.data / "manifest.jsonl"
    if not manifest.exists():
        sys.exit(f"{manifest}: not found (is --data a set made by make_training_set.py?)")
    for line in manifest.read_text().splitlines():
        video = json.loads(line)
        name = video["video"].rsplit(".", 1)[0]
        rate = float(Fraction(video["rate"]))
        path = args.predictions / f"{name}.json"
        try:
            predicted = json.loads(path.read_text())["segments"]
        except (OSError, ValueError, KeyError) as e:
            sys.exit(f"{path}: cannot read predictions ({e})")
        for seg in video["segments"]:
            start, end = seg["start"] / rate, (seg["start"] + seg["frames"]) / rate
            key = (seg["label"], seg.get("source") or seg["kind"])
            for p in predicted:
                overlap = min(end, p["end"]) - max(start, p["start"])
                if overlap > 0:
                    shares[key][p["label"]] += overlap
    print(f"{'truth':8s} {'segment':12s} {'seconds':>8s}  predicted share")
    for key in sorted(shares):
        c = shares[key]
        total = sum(c.values())
        print(f"{key[0]:8s} {key[1]:12s} {total:8.1f}  " + "  ".join(f"{l} {v / total:.2f}" for l, v in c.most_common()))


if __name__ == "__main__":
    main()
