#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
# Twice the cores: most tests wait on local servers and child processes, not on the CPU.
ctest --test-dir build --output-on-failure -j "$((2 * $(nproc)))" --timeout 300
