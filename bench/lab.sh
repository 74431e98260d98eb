#!/usr/bin/env bash
# `shipshape lab up 10` and `shipshape lab down` wall times (goal: ≤ 10 s up, ≤ 3 s down), on
# the Debian root tests/e2e/lab_image.py makes from the offline .debs (cached), with hyperfine.
# `up` is measured from nothing to 10 hosts accepting ssh connections; `down` from 10 running
# hosts to nothing left. Usage: bench/lab.sh [BIN [OUT_DIR]] (default:
# build/release/src/cli/shipshape, bench/results). Needs root; installs hyperfine when missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$(realpath "${1:-$root/build/release/src/cli/shipshape}")"
out="${2:-$root/bench/results}"
mkdir -p "$out"
command -v hyperfine >/dev/null ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends hyperfine >/dev/null
work=$(mktemp -d /var/tmp/shipshape-lab-bench-XXXXXX)
trap '(cd "$work/ops" && "$bin" lab down >/dev/null 2>&1); rm -rf "$work"' EXIT
"$bin" init "$work/ops" >/dev/null
(cd "$root/tests/e2e" && python3 -c "
import lab_image, sys
lab_image.make_image(sys.argv[1], 'bench')" "$work/ops/.shipshape/images")
cd "$work/ops"
hyperfine -N --runs 10 --prepare "$bin lab down" --cleanup "$bin lab down" \
  --export-json "$out/lab_up.json" -n "lab up 10" "$bin lab up 10"
hyperfine -N --runs 10 --prepare "$bin lab up 10" \
  --export-json "$out/lab_down.json" -n "lab down (10 hosts)" "$bin lab down"
python3 - "$out" <<'PY'
import json, sys
print("| command | mean | max | goal |")
print("|---|---|---|---|")
for f, goal in (("lab_up", "≤ 10 s"), ("lab_down", "≤ 3 s")):
    r = json.load(open(f"{sys.argv[1]}/{f}.json"))["results"][0]
    print(f"| {r['command']} | {r['mean']*1e3:.0f} ms | {r['max']*1e3:.0f} ms | {goal} |")
PY
