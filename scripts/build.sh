#!/usr/bin/env bash
# Installs the dependencies and builds everything into ./build (Release with debug info).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DTEXTGRAD_WERROR=ON > /dev/null
cmake --build build -j "$(nproc)"
