#!/usr/bin/env bash
# Installs the Debian packages textgrad-cpp needs to build, test and benchmark.
# Safe to run again; needs root (or sudo) on Debian 12.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libcurl4-openssl-dev nlohmann-json3-dev libsqlite3-dev libcli11-dev libfmt-dev
  libsimdjson-dev  # reads LLM answers on the per-call path (docs/performance.md)
  libgtest-dev libgmock-dev libbenchmark-dev libcpp-httplib-dev libssl-dev
  ca-certificates zlib1g-dev
  libjemalloc-dev  # the textgrad program's allocator (docs/performance.md)
  clang libclang-rt-14-dev  # the fuzz targets (scripts/fuzz.sh) need clang and libFuzzer
  chromium  # renders report.html in a test (headless)
  # The shared response cache on Redis (libhiredis) and the server its tests start.
  libhiredis-dev redis-server
  # The sandbox of `textgrad code` and the tests it runs.
  bubblewrap python3
  # The Python package textgrad_cpp and its tests.
  pybind11-dev python3-dev python3-pytest python3-venv python3-setuptools python3-wheel
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=""
  [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
