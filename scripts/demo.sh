#!/usr/bin/env bash
# Installs what shipshape needs (Debian 12 packages), builds it, and runs the demo: a sample
# ops repo made by `shipshape init`, whose deploy checklist runs against the `local`
# environment with the embedded SQLite store, stops for QA's check-off, and finishes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
# The release preset builds without tests, so the demo needs only the build packages.
cmake --preset release >/dev/null
cmake --build --preset release
bin="$PWD/build/release/src/cli/shipshape"

demo="$PWD/demo"
rm -rf "$demo"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

say shipshape init demo
"$bin" init "$demo"
cd "$demo"
say shipshape run checklists/deploy.toml --set version=1.4.2 --plan
"$bin" run checklists/deploy.toml --set version=1.4.2 --plan
say shipshape run checklists/deploy.toml --set version=1.4.2
status=0
"$bin" run checklists/deploy.toml --set version=1.4.2 || status=$?
if [[ $status -ne 4 ]]; then
  echo "demo: expected the run to wait for QA's check-off (exit 4), got exit $status" >&2
  exit 1
fi
run=last  # the newest run; `shipshape runs` lists them all
say shipshape check-off "$run" qa-ok --as qa --by demo --note "smoke tests pass"
"$bin" check-off "$run" qa-ok --as qa --by demo --note "smoke tests pass"
say shipshape resume "$run"
"$bin" resume "$run"
say shipshape show "$run"
"$bin" show "$run"
say shipshape runs
"$bin" runs
printf '\nThe demo ops repo is in %s; try: %s -C %s --help\n' "$demo" "$bin" "$demo"
