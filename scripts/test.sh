#!/usr/bin/env bash
# The README's second command: install, build, and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
ctest --test-dir build --output-on-failure --parallel "${JOBS:-$(nproc)}" --timeout 600
