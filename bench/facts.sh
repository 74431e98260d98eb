#!/usr/bin/env bash
# Facts benchmark, called by bench/run.sh: BIN OUT_DIR.
set -euo pipefail
bin="$1"
out="$2"
root="$(cd "$(dirname "$0")/.." && pwd)"
echo "== facts kernels (Google Benchmark)"
"$root/build/bench/bench/bench_facts" --benchmark_out="$out/facts-kernels.json" \
  --benchmark_out_format=json | tee "$out/facts-kernels.txt"
work=$(mktemp -d /var/tmp/shipshape-facts-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$bin" init "$work/ops" >/dev/null
# cf-promises needs a policy; an empty one shows CFEngine's discovered inventory variables.
printf 'bundle agent main\n{\n}\n' > "$work/promises.cf"
chmod 600 "$work/promises.cf"
cd "$work/ops"
echo "== facts, whole commands (hyperfine)"
hyperfine -N --warmup 3 --runs 30 --export-json "$out/facts.json" --export-markdown "$out/facts.md" \
  -n "shipshape facts --json (all sections, packages and sockets)" "$bin --json facts" \
  -n "cf-promises --show-vars (CFEngine inventory, no packages/sockets)" "cf-promises -f $work/promises.cf --show-vars"
# facter exits 1 in sandboxes where /proc/1/environ is unreadable, after printing its facts:
# time it anyway (-i), in its own run so that no other failure is ignored.
hyperfine -N -i --warmup 2 --runs 10 --export-json "$out/facts-facter.json" \
  -n "facter --json" "facter --json"
hyperfine --runs 5 --export-json "$out/facts-ansible.json" \
  -n "ansible -m setup localhost -c local" \
  "ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ansible -m setup localhost -c local -i localhost,"
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
res = {r["command"]: r["mean"] for r in json.load(open(f"{out}/facts.json"))["results"]}
ans = json.load(open(f"{out}/facts-ansible.json"))["results"][0]["mean"]
ours = res["shipshape facts --json (all sections, packages and sockets)"]
cf = res["cf-promises --show-vars (CFEngine inventory, no packages/sockets)"]
fa = json.load(open(f"{out}/facts-facter.json"))["results"][0]["mean"]
lines = ["| tool | mean | vs shipshape |", "|---|---|---|",
         f"| shipshape facts --json | {ours*1e3:.1f} ms | 1.0x |",
         f"| cf-promises --show-vars | {cf*1e3:.1f} ms | {cf/ours:.1f}x |",
         f"| facter --json | {fa*1e3:.1f} ms | {fa/ours:.1f}x |",
         f"| ansible -m setup | {ans*1e3:.0f} ms | {ans/ours:.0f}x |"]
open(f"{out}/facts-summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
