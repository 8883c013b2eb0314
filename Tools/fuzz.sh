#!/usr/bin/env bash
# Fuzzes the demux/decode path, the safetensors reader and the label-file parsers with
# libFuzzer (Swift's -sanitize=fuzzer), each for a bounded time.
#   bash Tools/fuzz.sh [SECONDS_PER_TARGET] [TARGETS…]      (default 600 s; demux safetensors labels)
# Findings (crashes, timeouts, out-of-memory) are written to Tests/FuzzRegressions/<target>/,
# where the test suite replays them (the plain build of vidformer-fuzz is a replayer).
# Corpora grow under .build/fuzz-corpus/<target>; the log of each run is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(demux safetensors labels)

swift build -c release --product vidformer-fuzz --build-path .build/fuzz \
  -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld   # gold trips over the fuzzer runtime
bin=.build/fuzz/release/vidformer-fuzz

seed() {  # seed corpora: small real inputs of each kind
  local dir=.build/fuzz-corpus/$1
  mkdir -p "$dir"
  case $1 in
    demux)
      for f in Media/samples/*; do head -c 65536 "$f" > "$dir/$(basename "$f").head"; done
      ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=s=32x32:d=0.5 -c:v mpeg4 -f mpegts "$dir/tiny.ts"
      ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=s=32x32:d=0.5 -c:v libx264 -f matroska "$dir/tiny.mkv"
      ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=s=32x32:d=0.5 -c:v libx264 -movflags +faststart "$dir/tiny.mp4" ;;
    safetensors)
      python3 - "$dir" <<'EOF'
import json, struct, sys
def write(path, tensors, meta=None):
    header, blob = {}, b""
    if meta: header["__metadata__"] = meta
    for name, (shape, values) in tensors.items():
        data = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = json.dumps(header).encode()
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + blob)
d = sys.argv[1]
write(f"{d}/one.safetensors", {"w": ([2, 2], [1, 2, 3, 4])})
write(f"{d}/two.safetensors", {"a.weight": ([3], [0.5, -1, 2]), "a.bias": ([1], [0])}, {"format": "vidformer"})
EOF
      ;;
    labels)
      printf 'start,end,label\n0,1.5,content\n1.5,3,black\n' > "$dir/a.csv"
      printf '# comment\nlabel,start,end\n"bars",0,2\n' > "$dir/b.csv"
      printf '{"segments": [{"start": 0, "end": 1, "label": "content"}, {"start": 1, "end": 2.5, "label": "bars"}]}' > "$dir/c.json" ;;
  esac
}

summary=()
for t in "${targets[@]}"; do
  seed "$t"
  mkdir -p "Tests/FuzzRegressions/$t"
  log=.build/fuzz-corpus/$t.log
  echo "fuzzing $t for $seconds s" >&2
  set +e
  VIDFORMER_FUZZ_TARGET=$t "$bin" ".build/fuzz-corpus/$t" -max_total_time="$seconds" -max_len=262144 -timeout=20 \
    -rss_limit_mb=3000 -print_final_stats=1 -artifact_prefix="Tests/FuzzRegressions/$t/" > "$log" 2>&1
  status=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  findings=$(ls "Tests/FuzzRegressions/$t" | wc -l)
  summary+=("$t: exit $status, $execs executions in $seconds s, $findings saved finding(s)")
done
printf '%s\n' "${summary[@]}"
