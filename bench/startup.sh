#!/usr/bin/env bash
# Start-up cost of the shipshape binary (what every command, and every remote agent, pays
# before doing anything): `shipshape --version` and `shipshape --json facts` against a C
# hello-world and /bin/true, with hyperfine. Usage: bench/startup.sh [BIN [OUT_DIR]]
# (default: build/release/src/cli/shipshape, bench/results). Needs hyperfine and cc.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/build/release/src/cli/shipshape}"
out="${2:-$root/bench/results}"
mkdir -p "$out"
work=$(mktemp -d /var/tmp/shipshape-startup-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
printf '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n' > "$work/hello.c"
cc -O2 -o "$work/hello" "$work/hello.c"
# facts runs in an ops repo, as a user would run it.
"$bin" init "$work/ops" >/dev/null
cd "$work/ops"
echo "== start-up: $bin ($(ldd "$bin" | wc -l) shared objects)"
hyperfine -N --warmup 5 --runs 100 --export-json "$out/startup.json" \
  --export-markdown "$out/startup.md" \
  -n "/bin/true" "/bin/true" \
  -n "C hello-world" "$work/hello" \
  -n "shipshape --version" "$bin --version" \
  -n "shipshape --json facts" "$bin --json facts"
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
res = {r["command"]: r for r in json.load(open(f"{out}/startup.json"))["results"]}
hello = res["C hello-world"]["mean"]
print("| command | mean (wall) | user+sys CPU | vs C hello-world |")
print("|---|---|---|---|")
for name, r in res.items():
    cpu = r["user"] + r["system"]
    print(f"| {name} | {r['mean']*1e3:.2f} ms | {cpu*1e3:.2f} ms | +{(r['mean']-hello)*1e3:.2f} ms |")
PY
