#!/usr/bin/env bash
# Builds the libFuzzer targets with clang into build-fuzz/ and runs each one for a fixed time,
# as many at once as there are cores, starting from its seed corpus in fuzz/corpus/<target>/.
# A crash, a sanitizer report or an escaped exception fails the run; the input that caused it is
# left in build-fuzz/findings/.
#
#   bash scripts/fuzz.sh            # every target, FUZZ_SECONDS (default 20) each
#   bash scripts/fuzz.sh csv_reader # one target
#
# New inputs found along the way stay in build-fuzz/corpus/ (not committed); copy an
# interesting one into fuzz/corpus/<target>/ by hand. See docs/ci.md.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-20}
targets=("$@")
((${#targets[@]})) || targets=(openai_decode anthropic_decode gemini_decode jsonl_reader csv_reader
                                extract_tagged json_dump openai_answer json_parse)

bash scripts/setup.sh
CXX=clang++ cmake -S . -B build-fuzz -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DTEXTGRAD_SANITIZE=address,undefined -DTEXTGRAD_FUZZ=ON \
  -DTEXTGRAD_BUILD_TESTS=OFF -DTEXTGRAD_BUILD_BENCH=OFF -DTEXTGRAD_BUILD_EXAMPLES=OFF \
  > /dev/null
TIMEFORMAT="fuzz build: %R s wall, %U s user + %S s sys"
time cmake --build build-fuzz -j "$(nproc)" --target textgrad_fuzzers

export ASAN_OPTIONS="detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

# One target: its log in build-fuzz/<target>.log, and a file in build-fuzz/failed/ if it failed.
fuzz_one() {
  local target=$1 work="build-fuzz/corpus/$1" findings="build-fuzz/findings/$1"
  mkdir -p "$work" "$findings"
  # The seed corpus is read, never written: new inputs go to $work.
  "build-fuzz/fuzz/fuzz_$target" "$work" "fuzz/corpus/$target" \
    -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$findings/" 2>"build-fuzz/$target.log" ||
    touch "build-fuzz/failed/$target"
}

# A fuzzer uses one core: as many targets at once as there are cores, each for the full time.
rm -rf build-fuzz/failed && mkdir -p build-fuzz/failed
echo "== fuzzing ${targets[*]} for ${seconds}s each, $(nproc) at a time"
for target in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= $(nproc))); do wait -n; done
  fuzz_one "$target" &
done
wait

failed=()
for target in "${targets[@]}"; do
  if [[ -e "build-fuzz/failed/$target" ]]; then
    echo "== $target failed"
    tail -n 60 "build-fuzz/$target.log"
    failed+=("$target")
  else
    echo "== $target"
    grep -E '^stat::(number_of_executed_units|new_units_added)' "build-fuzz/$target.log" || true
  fi
done
if ((${#failed[@]})); then
  echo "fuzzing found problems in: ${failed[*]} (inputs in build-fuzz/findings/)" >&2
  echo "fuzzing: $((${#targets[@]} - ${#failed[@]})) passed, ${#failed[@]} failed"
  exit 1
fi
echo "fuzzing: ${#targets[@]} passed, 0 failed"
