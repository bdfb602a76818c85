#!/usr/bin/env bash
# Sets up, builds and runs the main job: `textgrad optimize` on BIG-Bench Hard object counting
# with the paper's protocol (batches of 3, 12 steps, validation revert, test after each step).
#
#   bash scripts/main-job.sh                      # OPENAI_API_KEY set: gpt-4o-mini, gpt-4o feedback
#   bash scripts/main-job.sh --engine E [...]     # any engine and flags of `textgrad optimize`
#
# Without an API key and without flags it runs an offline demonstration against a local mock
# model (scripted answers), so the whole pipeline can be seen; its accuracies mean nothing.
# The demonstration says so in config.json, report.md and report.html, and is not priced (the
# mock names itself as the model, which no price table lists).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
tool=./build/tools/textgrad/textgrad

if [[ $# -gt 0 ]]; then
  exec "$tool" optimize --task object_counting "$@"
fi
if [[ -n "${OPENAI_API_KEY:-}" ]]; then
  exec "$tool" optimize --task object_counting --engine openai/gpt-4o-mini \
    --backward-engine openai/gpt-4o
fi

echo "No OPENAI_API_KEY set: running an OFFLINE DEMONSTRATION against a local mock model." >&2
echo "Set OPENAI_API_KEY (or pass --engine ...) for a real run." >&2
work=$(mktemp -d)
./build/tools/mock-llm/textgrad-mock-llm data "$work/port" 20 &
mock=$!
trap 'kill $mock 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [[ -s "$work/port" ]] && break; sleep 0.1; done
OPENAI_API_KEY=mock OPENAI_BASE_URL="http://127.0.0.1:$(cat "$work/port")/v1" \
  TEXTGRAD_CACHE_DIR="$work/cache" \
  "$tool" optimize --task object_counting --engine openai/textgrad-mock-llm \
    --label "offline demonstration (mock model)"
