#!/usr/bin/env bash
# The README's first command: install, build, and run the quickstart study
# (an SVM tuned on scikit-learn's digits) embedded, with its database in
# examples/quickstart/vernier.db. Run it again to resume or see the result.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec build/vernier run examples/quickstart/study.yaml --db examples/quickstart/vernier.db
