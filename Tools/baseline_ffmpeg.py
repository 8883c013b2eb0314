#!/usr/bin/env python3
"""The ffmpeg baseline for the default model: blackdetect and freezedetect over every labelled
video in a folder, turned into label files that `vidformer eval --predictions` scores.

    python3 Tools/baseline_ffmpeg.py --data VAL_DIR --out PRED_DIR
    vidformer eval --data VAL_DIR --predictions PRED_DIR

Settings follow the contract's definitions: blackdetect with pix_th=0.10 (luma at most 10% of
the range) and pic_th=0.98 (98% of pixels), any duration; freezedetect with a 2 s minimum and
a noise tolerance of -50 dB (compression noise on a held picture stays below it). Where both
fire, black wins (the contract's order); everything else is `content`. The baseline cannot
see bars, noise or repeats, so those count against it only as missed labels.
"""
import argparse
import re
import subprocess
import sys
from pathlib import Path

VIDEO_EXTENSIONS = {".mp4", ".mkv", ".webm", ".ts", ".avi", ".mov", ".mpg", ".m4v", ".nut"}


def detect(video, noise_db):
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-i", str(video), "-an", "-vf",
           f"blackdetect=d=0:pix_th=0.10:pic_th=0.98,freezedetect=n={noise_db}dB:d=2", "-f", "null", "-"]
    err = subprocess.run(cmd, capture_output=True, text=True).stderr
    black = [(float(a), float(b)) for a, b in re.findall(r"black_start:\s*([\d.]+)\s+black_end:\s*([\d.]+)", err)]
    starts = [float(x) for x in re.findall(r"lavfi\.freezedetect\.freeze_start:\s*([\d.]+)", err)]
    ends = [float(x) for x in re.findall(r"lavfi\.freezedetect\.freeze_end:\s*([\d.]+)", err)]
    duration = re.findall(r"time=(\d+):(\d+):([\d.]+)", err)
    total = 0.0
    if duration:
        h, m, s = duration[-1]
        total = int(h) * 3600 + int(m) * 60 + float(s)
    # A freeze still running at the end has no end line.
    frozen = [(a, ends[i] if i < len(ends) else total) for i, a in enumerate(starts)]
    return black, frozen, total


def label_rows(black, frozen, total):
    """Tiles [0, total] with black > frozen > content."""
    cuts = sorted({0.0, total, *[t for span in black + frozen for t in span if 0 <= t <= total]})
    rows = []
    for a, b in zip(cuts, cuts[1:]):
        mid = (a + b) / 2
        if any(s <= mid < e for s, e in black):
            label = "black"
        elif any(s <= mid < e for s, e in frozen):
            label = "frozen"
        else:
            label = "content"
        if rows and rows[-1][2] == label:
            rows[-1] = (rows[-1][0], b, label)
        else:
            rows.append((a, b, label))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--noise-db", type=float, default=-50)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    videos = sorted(p for p in args.data.iterdir() if p.suffix in VIDEO_EXTENSIONS and p.with_suffix(".csv").exists())
    for v in videos:
        black, frozen, total = detect(v, args.noise_db)
        rows = label_rows(black, frozen, total)
        (args.out / f"{v.stem}.csv").write_text("start,end,label\n" + "".join(f"{a:.6f},{b:.6f},{l}\n" for a, b, l in rows))
        print(f"{v.name}: {len(black)} black, {len(frozen)} frozen spans", file=sys.stderr)


if __name__ == "__main__":
    main()
