#!/usr/bin/env bash
# CI on check-in (#19), on SQLite and PostgreSQL side by side (bench/ci.py does the work):
# latency from `git push` returning to the job's first step, `git push` with and without the
# hook, 200 trivial jobs run by two workers against the processes one job starts, and the
# sandbox's cost against the same commands bare (hyperfine). Starts and stops its own
# PostgreSQL (tests/e2e/pgserver.py) in a temporary directory, removed at the end.
# Usage: bench/ci.sh [BIN [OUT_DIR]] (default: build/release/src/cli/shipshape if it exists,
# else build/dev/src/cli/shipshape; bench/results). Needs root (the sandbox) and a PostgreSQL
# server package; installs hyperfine from Debian when missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
default="$root/build/release/src/cli/shipshape"
[[ -x $default ]] || default="$root/build/dev/src/cli/shipshape"
bin="$(realpath "${1:-$default}")"
out="${2:-$root/bench/results}"
mkdir -p "$out"
if ! command -v hyperfine >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends hyperfine >/dev/null
fi
echo "== ci ($bin)"
python3 "$root/bench/ci.py" --bin "$bin" --out "$out" ${CI_BENCH_ARGS:-}
