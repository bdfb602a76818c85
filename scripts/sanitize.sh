#!/usr/bin/env bash
# Builds the library and the tests with sanitizers and runs the whole suite under them.
#
#   bash scripts/sanitize.sh asan   # AddressSanitizer + UndefinedBehaviorSanitizer, in build-asan/
#   bash scripts/sanitize.sh tsan   # ThreadSanitizer, in build-tsan/
#
# -O1 -g1 keeps stacks readable (functions, files and lines) and the run fast enough for CI; only
# the test program and the tool it runs are built. Any report fails the run. See docs/ci.md for
# the options, the TSan suppressions and what is left out.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# Both trees with clang: the same checks as with g++, and each leg takes 12-25% less time
# (docs/ci.md); the fuzz targets need clang anyway.
case "${1:-}" in
  asan) sanitizers=address,undefined ;;
  tsan) sanitizers=thread ;;
  *) echo "usage: $0 asan|tsan" >&2; exit 2 ;;
esac
build="build-$1"

bash scripts/setup.sh
# The same options at build time matter too: gtest_discover_tests runs the test binary.
export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="suppressions=$root/tests/tsan.supp:second_deadlock_stack=1:history_size=4"

cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DTEXTGRAD_SANITIZE="$sanitizers" -DTEXTGRAD_BUILD_BENCH=OFF -DTEXTGRAD_BUILD_EXAMPLES=OFF \
  -DTEXTGRAD_BUILD_PYTHON=OFF -DTEXTGRAD_UBSAN_TEST_CODE=OFF \
  > /dev/null
TIMEFORMAT="$1 build: %R s wall, %U s user + %S s sys"
time cmake --build "$build" -j "$(nproc)" --target textgrad_tests
# The packaging test links a consumer against the sanitized library without its runtime.
# Twice as many tests as cores: they spend most of their time waiting (on the tool they run,
# on a sandbox, on a server): about 40% less wall time for the same CPU time (docs/ci.md).
TIMEFORMAT="$1 tests: %R s wall, %U s user + %S s sys"
time ctest --test-dir "$build" --output-on-failure -j "$((2 * $(nproc)))" --timeout 300 \
  -E "^packaging_"
