#!/usr/bin/env bash
# Sets up, builds and runs the main job: prompt optimization on a batch (offline engine unless
# an engine name is given, e.g. `bash scripts/main-job.sh openai/gpt-4o`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
./build/examples/example_prompt_optimization "$@"
