#!/usr/bin/env bash
# Installs what the tests need (Debian 12 packages), builds with warnings as errors, checks
# formatting and runs the whole test suite through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
scripts/check-format.sh
cmake --preset ci >/dev/null
cmake --build --preset ci
scripts/check-tidy.sh build/ci
ctest --test-dir build/ci --output-on-failure -j 2 --timeout 900
