#!/usr/bin/env bash
# `shipshape audit verify` of a ledger of N entries (default 1,000,000; #17): bench_audit_gen
# builds a SQLite store of N chained entries (batches of 100,000 per transaction), then
# hyperfine times `audit verify` (reading every row, recomputing every hash and link), and
# `audit export` + `audit verify --file` of the same ledger for comparison. Goal: verify of
# 1,000,000 entries <= 2 s. Usage: bash bench/audit.sh [BUILD_DIR] [N] (default build/bench,
# else build/release, else build/dev). Run under buildlock.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-}"
[[ -z $build || $build == /* ]] || build="$PWD/$build"
n="${2:-1000000}"
if [[ -z $build ]]; then
  for b in bench release dev; do
    [[ -x $root/build/$b/bench/bench_audit_gen && -x $root/build/$b/src/cli/shipshape ]] &&
      { build="$root/build/$b"; break; }
  done
fi
[[ -x $build/bench/bench_audit_gen ]] ||
  { echo "bench/audit.sh: build bench_audit_gen and shipshape first" >&2; exit 2; }
bin="$build/src/cli/shipshape"
work="$(mktemp -d /var/tmp/shipshape-bench-audit-XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ops/.shipshape"
printf 'name = "bench"\n' > "$work/ops/shipshape.toml"
start=$(date +%s%N)
"$build/bench/bench_audit_gen" "$work/ops/.shipshape/state.db" "$n"
echo "generated in $(( ($(date +%s%N) - start) / 1000000 )) ms;" \
  "store $(du -m "$work/ops/.shipshape/state.db" | cut -f1) MB"
cd "$work/ops"
"$bin" audit verify  # once, to see it intact (and warm the page cache)
"$bin" audit export ledger.jsonl
echo "export: $(du -m ledger.jsonl | cut -f1) MB"
if command -v hyperfine >/dev/null; then
  hyperfine -N --warmup 1 --runs 5 --export-markdown "$work/audit.md" \
    -n "audit verify, $n entries (store)" "$bin audit verify" \
    -n "audit verify --file, $n entries (export)" "$bin audit verify --file ledger.jsonl" \
    >/dev/null
  cat "$work/audit.md"
else
  for args in "audit verify" "audit verify --file ledger.jsonl"; do
    start=$(date +%s%N)
    # shellcheck disable=SC2086
    "$bin" $args >/dev/null
    echo "$args: $(( ($(date +%s%N) - start) / 1000000 )) ms"
  done
fi
