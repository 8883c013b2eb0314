#!/usr/bin/env python3
"""Reformer scale benchmark: vidformer beside the Hugging Face ReformerModel, in one run.

Every measurement runs in its own process (so peak RSS is per configuration):
  vidformer:  .build/release/vidformer bench reformer ...
  HF:         ../shared/peers/bench_reformer.py one --model hf ... (PyTorch CPU, 2 threads)
Configuration (issue 3): d_model 128, 4 heads of 32, 4 layers, 2 hash rounds, chunk 64, d_ff 512.

  python3 Tools/bench_reformer.py [--suite scale|depth|million|all] [--out bench_reformer.jsonl]
  python3 Tools/bench_reformer.py --table bench_reformer.jsonl     (markdown tables)
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".build/release/vidformer")
PEERS = os.path.join(ROOT, "..", "shared", "peers", "bench_reformer.py")
PY = os.environ.get("PEERS_PY", os.path.expanduser("~/.cache/vidformer-peers/venv/bin/python"))


def ours(tokens, layers=4, backward=False, reversible=True, runs=1, attention="lsh"):
    cmd = [BIN, "bench", "reformer", "--tokens", str(tokens), "--layers", str(layers), "--runs", str(runs),
           "--attention", attention, "--reversible" if reversible else "--no-reversible"]
    if backward:
        cmd.append("--backward")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    r = json.loads(out)
    return {"tool": "vidformer", "L": tokens, "layers": layers, "mode": "train" if backward else "fwd",
            "reversible": reversible, "attention": attention, "seconds": r["seconds"], "peak_rss_mb": r["peak_rss_mb"]}


def hf(tokens, layers=4, backward=False, runs=1):
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    cmd = [PY, PEERS, "one", "--model", "hf", "--L", str(tokens), "--mode", "train" if backward else "fwd",
           "--depth", str(layers), "--runs", str(runs)]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        return {"tool": "hf", "L": tokens, "layers": layers, "mode": "train" if backward else "fwd", "error": p.stderr.strip()[-300:]}
    r = json.loads(p.stdout.strip().splitlines()[-1])
    secs = r["median_s"] if r["median_s"] is not None else r["warmup_s"]
    return {"tool": "hf", "L": tokens, "layers": layers, "mode": r["mode"], "seconds": secs,
            "peak_rss_mb": r["peak_rss_kb"] / 1024}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", default="all", choices=["scale", "depth", "million", "all"])
    ap.add_argument("--out", default="bench_reformer.jsonl")
    ap.add_argument("--max-len", type=int, default=262144)
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--table")
    a = ap.parse_args()
    if a.table:
        return table(a.table)
    out = open(a.out, "a")

    def record(r, suite):
        r["suite"] = suite
        print(json.dumps(r), flush=True)
        out.write(json.dumps(r) + "\n")
        out.flush()

    if a.suite in ("scale", "all"):
        for L in [4096, 16384, 65536, 262144]:
            if L > a.max_len:
                break
            runs = 3 if L <= 16384 else 1
            for backward in (False, True):
                record(ours(L, backward=backward, runs=runs), "scale")
                if not a.no_peers:
                    record(hf(L, backward=backward, runs=runs), "scale")
    if a.suite in ("depth", "all"):
        for reversible in (True, False):
            for layers in [2, 4, 8, 12]:
                record(ours(16384, layers=layers, backward=True, reversible=reversible), "depth")
    if a.suite in ("million", "all"):
        record(ours(1 << 20), "million")


def table(path):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    print("| L | mode | vidformer s | vidformer MB | HF s | HF MB | speed-up |")
    print("|---|---|---|---|---|---|---|")
    for L in sorted({r["L"] for r in rows}):
        for mode in ("fwd", "train"):
            v = [r for r in rows if r["tool"] == "vidformer" and r["L"] == L and r["mode"] == mode and r["layers"] == 4
                 and r.get("reversible", True) and r.get("suite") != "depth"]
            h = [r for r in rows if r["tool"] == "hf" and r["L"] == L and r["mode"] == mode and r["layers"] == 4]
            if not v:
                continue
            v = v[-1]
            hs = h[-1] if h else {}
            sp = f"{hs['seconds'] / v['seconds']:.2f}x" if "seconds" in hs else "-"
            print(f"| {L} | {mode} | {v['seconds']:.2f} | {v['peak_rss_mb']:.0f} | {hs.get('seconds', float('nan')):.2f} | "
                  f"{hs.get('peak_rss_mb', float('nan')):.0f} | {sp} |")
    print()
    print("| layers | reversible MB | stored MB |")
    print("|---|---|---|")
    for layers in [2, 4, 8, 12]:
        rv = [r for r in rows if r["tool"] == "vidformer" and r["mode"] == "train" and r["L"] == 16384 and r["layers"] == layers and r["reversible"]]
        st = [r for r in rows if r["tool"] == "vidformer" and r["mode"] == "train" and r["L"] == 16384 and r["layers"] == layers and not r["reversible"]]
        if rv or st:
            f = lambda x: f"{x[-1]['peak_rss_mb']:.0f}" if x else "-"
            print(f"| {layers} | {f(rv)} | {f(st)} |")


if __name__ == "__main__":
    sys.exit(main())
