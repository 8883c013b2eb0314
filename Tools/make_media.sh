#!/usr/bin/env bash
# Makes the small sample videos the tests and the README use, with the ffmpeg CLI.
#   bash Tools/make_media.sh [OUTDIR]      (default: Media/samples)
# Every file is 2-6 s of ffmpeg's test sources, so all of them together stay well under 2 MB.
set -euo pipefail
out=${1:-"$(cd "$(dirname "$0")/.." && pwd)/Media/samples"}
mkdir -p "$out"
ff() { ffmpeg -hide_banner -loglevel error -nostdin -y "$@"; }
src="testsrc2=size=320x240:rate=30"

# Constant frame rate H.264 with B-frames, in MP4 (the common case).
ff -f lavfi -i "$src:duration=4" -c:v libx264 -preset veryfast -bf 3 -g 30 -pix_fmt yuv420p "$out/cfr_h264.mp4"
# The same picture in 10-bit 4:2:0 (HDR-style pixel format), for the 8-bit twin test.
ff -f lavfi -i "$src:duration=2" -c:v libx264 -preset veryfast -g 30 -pix_fmt yuv420p10le "$out/tenbit_h264.mp4"
ff -f lavfi -i "$src:duration=2" -c:v libx264 -preset veryfast -g 30 -pix_fmt yuv420p "$out/eightbit_h264.mp4"
# Variable frame rate: frame times stretch as the clip goes on (gaps of 1/30 s to 1/10 s).
ff -f lavfi -i "$src:duration=3" -vf "setpts='N/30/TB+if(gte(N,30),(N-30)*2/30/TB,0)'" -fps_mode vfr \
   -c:v libx264 -preset veryfast -pix_fmt yuv420p "$out/vfr_h264.mkv"
# A phone-style rotated clip: stored 320x240 with a display matrix that turns it a quarter turn
# (ffmpeg 5.1 writes the matrix from the rotate tag only when stream-copying).
ff -f lavfi -i "$src:duration=2" -c:v libx264 -preset veryfast -pix_fmt yuv420p "$out/.unrotated.mp4"
ff -i "$out/.unrotated.mp4" -c copy -metadata:s:v:0 rotate=90 "$out/rotated.mp4"
rm -f "$out/.unrotated.mp4"
# Long GOP: one key frame every 250 frames (10 s at 25 fps) with a forced one at 2 s and 4 s.
ff -f lavfi -i "testsrc2=size=320x240:rate=25:duration=6" -c:v libx264 -preset veryfast -g 250 \
   -force_key_frames 2,4 -sc_threshold 0 -pix_fmt yuv420p "$out/longgop_h264.mp4"
# Other codecs and containers.
ff -f lavfi -i "$src:duration=2" -c:v libvpx-vp9 -b:v 300k -deadline realtime -cpu-used 8 "$out/vp9.webm"
ff -f lavfi -i "$src:duration=2" -c:v mpeg2video -q:v 5 "$out/mpeg2.ts"
ff -f lavfi -i "$src:duration=2" -c:v mpeg4 -q:v 5 "$out/mpeg4.avi"
ff -f lavfi -i "$src:duration=2" -c:v mjpeg -q:v 5 -pix_fmt yuvj420p "$out/mjpeg.mov"
ff -f lavfi -i "testsrc2=size=160x120:rate=30:duration=1" -c:v ffv1 -pix_fmt yuv444p "$out/ffv1_444.mkv"
# A stream that does not start at time zero (first PTS at 10 s).
ff -f lavfi -i "$src:duration=2" -c:v libx264 -preset veryfast -pix_fmt yuv420p -output_ts_offset 10 "$out/offset.ts"
# Odd size.
ff -f lavfi -i "testsrc2=size=64x48:rate=10:duration=1" -vf scale=17:13 -c:v ffv1 -pix_fmt yuv444p "$out/odd_17x13.mkv"
ls -l "$out"
