#!/usr/bin/env python3
"""Reads a vidformer model's weights with Python's `safetensors` package and checks them
against config.json: every tensor float32 and finite, the expected names and shapes present.
Usage: check_safetensors.py MODEL_DIR   (exit 0 when the file reads and matches)."""
import json
import os
import sys

import numpy as np
from safetensors.numpy import load_file


def main(model_dir):
    config = json.load(open(os.path.join(model_dir, "config.json")))
    tensors = load_file(os.path.join(model_dir, "model.safetensors"))
    net = config["network"]
    frames = config["frames"]
    # As PatchTokenizer.tokenWidth: the patch's pixels, their change (--motion), the statistics.
    token_width = frames["patch"] ** 2 * 3 * (2 if frames.get("motion") else 1) + frames.get("detail", 0)
    expected = {
        "embed.weight": (token_width, net["width"]),
        "head.frame.weight": (net["width"], len(config["labels"])),
    }
    for i in range(net["layers"]):
        inner = net["attention"]["heads"] * net["attention"]["headWidth"]
        expected[f"blocks.{i}.attn.wqk.weight"] = (net["width"], inner)
        expected[f"blocks.{i}.ff.up.weight"] = (net["width"], net["hidden"])
    for name, shape in expected.items():
        if name not in tensors:
            sys.exit(f"missing {name}")
        if tuple(tensors[name].shape) != shape:
            sys.exit(f"{name}: shape {tensors[name].shape}, expected {shape}")
    for name, t in tensors.items():
        if t.dtype != np.float32 or not np.isfinite(t).all():
            sys.exit(f"{name}: not finite float32")
    print(f"ok: {len(tensors)} tensors, {sum(t.size for t in tensors.values())} parameters")


if __name__ == "__main__":
    main(sys.argv[1])
