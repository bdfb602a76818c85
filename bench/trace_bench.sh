#!/usr/bin/env bash
# Cost of the run trace on a ~2,700-call run: `textgrad optimize` on object_counting (12 steps,
# 100 validation and 100 test items, no cache, so every call is real) against the local mock
# server, with --trace full, meta and none side by side, RUNS times each (interleaved).
# Prints the median wall time of each level and the size of trace.sqlite.
#   bash bench/trace_bench.sh [BUILD_DIR] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
runs=${2:-5}
work=$(mktemp -d)
"$build/tools/mock-llm/textgrad-mock-llm" data "$work/port" 0 &
mock=$!
trap 'kill $mock 2>/dev/null; rm -rf "$work"' EXIT
while [[ ! -s "$work/port" ]]; do sleep 0.05; done
export OPENAI_API_KEY=bench OPENAI_BASE_URL="http://127.0.0.1:$(cat "$work/port")/v1"
declare -A times
for i in $(seq "$runs"); do
  for level in full meta none; do
    dir="$work/$level-$i"
    start=$(date +%s.%N)
    "$build/tools/textgrad/textgrad" optimize --task object_counting \
      --engine openai/textgrad-mock-llm --no-cache --quiet --trace "$level" --run-dir "$dir" \
      --json > "$work/out.json"
    end=$(date +%s.%N)
    times[$level]+="$(echo "$end - $start" | bc) "
    calls=$(python3 -c "import json;print(json.load(open('$work/out.json'))['calls'])")
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "calls per run: $calls"
for level in full meta none; do
  size=$( [[ -f "$work/$level-1/trace.sqlite" ]] && du -k "$work/$level-1/trace.sqlite" | cut -f1 || echo 0)
  echo "trace $level: median $(echo "${times[$level]}" | median) s, trace.sqlite ${size} KiB"
done
echo "events.jsonl: $(du -k "$work/full-1/events.jsonl" | cut -f1) KiB"
