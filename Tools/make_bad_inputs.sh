#!/usr/bin/env bash
# Makes the corpus of broken and unusual inputs that Tests/VidformerTests/BadInputTests runs the
# binary over: truncations, flipped bytes, renamed files, re-muxes and odd encodings, all from
# Media/samples and ffmpeg's generators. Deterministic (fixed seeds).
#   bash Tools/make_bad_inputs.sh OUT_DIR
set -euo pipefail
out=${1:?usage: make_bad_inputs.sh OUT_DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
samples=$here/Media/samples
mkdir -p "$out"
cd "$out"
ff() { ffmpeg -nostdin -v error -y "$@"; }

: > empty.mp4
printf 'this is a text file, not a video\n' > text.mp4
mkdir -p folder.mp4
ff -f lavfi -i testsrc2=s=320x240 -frames:v 1 image.jpg
ff -f lavfi -i sine=d=2 -c:a aac audio.mp4
# A video stream that holds no frames at all.
ff -f lavfi -i testsrc2=s=64x64 -frames:v 0 -c:v libx264 noframes.mkv
# An MP4 cut before its index (moov at the end), Matroska and MPEG-TS cut mid-stream.
ff -f lavfi -i testsrc2=s=320x240:d=12 -c:v libx264 -preset ultrafast -movflags -faststart whole.mp4
head -c $(( $(stat -c %s whole.mp4) * 2 / 3 )) whole.mp4 > truncated_moov.mp4
ff -f lavfi -i testsrc2=s=320x240:d=20 -c:v libx264 -preset ultrafast whole.mkv
head -c $(( $(stat -c %s whole.mkv) / 2 )) whole.mkv > truncated.mkv
ff -f lavfi -i testsrc2=s=320x240:d=20 -c:v mpeg2video whole.ts
head -c $(( $(stat -c %s whole.ts) / 2 )) whole.ts > truncated.ts
rm -f whole.mp4 whole.mkv
# Random bytes, and bit flips in the middle of a valid stream.
python3 - <<'EOF'
import random
r = random.Random(7)
open("random.bin", "wb").write(bytes(r.randrange(256) for _ in range(200_000)))
open("random.mp4", "wb").write(bytes(r.randrange(256) for _ in range(200_000)))
data = bytearray(open("whole.ts", "rb").read())
for _ in range(400):
    p = r.randrange(len(data) // 4, 3 * len(data) // 4)
    data[p] ^= 1 << r.randrange(8)
open("flipped.ts", "wb").write(data)
EOF
rm -f whole.ts
# Sizes: huge, 8K, tiny, odd.
ff -f lavfi -i testsrc2=s=4096x4096:d=0.4 -c:v libx264 -preset ultrafast huge_4096.mp4
ff -f lavfi -i testsrc2=s=7680x4320:d=0.3 -c:v libx264 -preset ultrafast uhd_8k.mp4
ff -f lavfi -i testsrc2=s=2x2:d=2 -c:v ffv1 tiny_2x2.mkv
cp "$samples/odd_17x13.mkv" odd_17x13.mkv
cp "$samples/tenbit_h264.mp4" tenbit.mp4
cp "$samples/ffv1_444.mkv" yuv444.mkv
# Interlaced MPEG-2.
ff -f lavfi -i testsrc2=s=320x240:d=3 -vf tinterlace=4 -c:v mpeg2video -flags +ilme+ildct interlaced.ts
# Timestamps that jump backwards, and that repeat.
ff -f lavfi -i testsrc2=s=160x120:r=25:d=6 -c:v mpeg2video -bsf:v "setts=ts=if(between(N\,50\,70)\,TS-90000\,TS)" -f mpegts backwards.ts
ff -f lavfi -i testsrc2=s=160x120:r=25:d=6 -c:v mpeg2video -bsf:v "setts=ts=if(between(N\,50\,70)\,PREV_INPTS\,TS)" -f mpegts repeated.ts
# Model directories: a bad safetensors header, wrong shapes, unknown labels (made by the tests
# from a good model); label sidecars with overlapping, negative and unknown segments.
cp "$samples/cfr_h264.mp4" labelled.mp4
printf 'start,end,label\n0,2,content\n1.5,3,black\n' > overlap.csv
printf 'start,end,label\n-1,2,content\n' > negative.csv
printf 'start,end,label\n0,2,content\n2,4,sparkles\n' > unknown.csv
echo "corpus in $out: $(ls | wc -l) entries"
