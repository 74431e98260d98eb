#!/usr/bin/env bash
# Benchmarks of `shipshape run`, side by side with the alternatives, in one run:
#   - Google Benchmark kernels (parse, scheduler, journal) without processes;
#   - hyperfine on whole commands: 1,000 no-op steps as a chain and as a fan-out, against the
#     floor (a shell loop / xargs starting the same 1,000 processes), GNU make, and Ansible
#     (100 tasks: it is too slow for 1,000 in a sensible time; compare per step).
#   - start-up (bench/startup.sh): `shipshape --version` and `--json facts` against a C
#     hello-world and /bin/true.
#   - facts: Google Benchmark kernels and `shipshape facts --json` against `facter --json`,
#     `ansible -m setup` and CFEngine's `cf-promises --show-vars`.
#   - state (bench/state.sh): converging 1,000 files with `shipshape apply` against Puppet,
#     CFEngine and Ansible, and `shipshape drift` of a 100,000-file tree against `aide --check`.
#   - faults (bench/fault.sh): sandbox setup with every fault vs the same by hand, and the
#     NFQUEUE latency path's overhead.
#   - fleet (bench/fleet.sh): 10 and 50 hosts (network namespaces running sshd): a command on
#     every host vs raw multiplexed ssh and Ansible, facts vs ansible -m setup, a 100-file state
#     vs an Ansible playbook.
#   - agent (bench/agent.sh): the host agent's size, copying it to 50 hosts (cold, warm, against
#     one ssh handshake per host) and a checklist step with `on` on 10 and 50 hosts against raw
#     multiplexed ssh, each before (the full binary as the agent) and after (shipshape-agent).
#   - plan (bench/plan.sh): `validate` and `run --plan` of 25,000 to 100,000 steps (chain,
#     reverse chain, fan-out, fan-in), which must grow about linearly.
#   - server (bench/server.sh): `shipshape serve` over 10,000 runs on SQLite and PostgreSQL,
#     wrk at 50 connections, with `pgbench -S` on the same PostgreSQL as the reference.
#   - package (bench/package.sh): `shipshape package diff` vs debdiff and diffoscope on 2,000-
#     and 20,000-entry package pairs (zstd and xz) next to the dpkg-deb decompression floor,
#     what each reported and missed, and `package build` vs `dpkg-deb --build` (needs root).
#   - image (bench/image.sh): cold `image build` vs mmdebstrap alone, a warm rebuild after a
#     one-file change, `image check` of 50 hosts from saved facts (needs root).
#   - ci (bench/ci.sh): push-to-first-step latency, 200 jobs by two workers against the
#     processes a job starts, and the sandbox's cost, on SQLite and PostgreSQL (needs root).
# Usage: bench/run.sh [checklist|plan|startup|facts|state|fault|fleet|agent|server|package|image|ci|all]
#        (default all)
# Installs what it needs from Debian (hyperfine, ansible, make, facter, cfengine3, puppet, aide).
# Results go to bench/results/.
set -euo pipefail
what="${1:-all}"
cd "$(dirname "$0")/.."
root=$PWD
scripts/install-deps.sh bench
missing=()
for tool in ansible-playbook:ansible make:make facter:facter cf-promises:cfengine3; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool##*:}")
done
if ((${#missing[@]})); then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cmake --preset bench >/dev/null
cmake --build --preset bench
bin="$root/build/bench/src/cli/shipshape"
out="$root/bench/results"
mkdir -p "$out"

if [[ $what == plan || $what == all ]]; then
  bash "$root/bench/plan.sh" "$bin" "$out"
fi
[[ $what == plan ]] && exit 0

if [[ $what == startup || $what == all ]]; then
  bash "$root/bench/startup.sh" "$bin" "$out"
fi
[[ $what == startup ]] && exit 0

if [[ $what == facts || $what == all ]]; then
  bash "$root/bench/facts.sh" "$bin" "$out"
fi
[[ $what == facts ]] && exit 0

if [[ $what == fault || $what == all ]]; then
  bash "$root/bench/fault.sh" "$bin" "$out"
fi
[[ $what == fault ]] && exit 0
if [[ $what == fleet || $what == all ]]; then
  bash "$root/bench/fleet.sh" "$bin" "$out"
fi
[[ $what == fleet ]] && exit 0
if [[ $what == agent || $what == all ]]; then
  bash "$root/bench/agent.sh" "$bin" "$out"
fi
[[ $what == agent ]] && exit 0
if [[ $what == state || $what == all ]]; then
  bash "$root/bench/state.sh" "$bin" "$out"
fi
[[ $what == state ]] && exit 0
if [[ $what == server || $what == all ]]; then
  bash "$root/bench/server.sh" "$bin" "$out"
fi
[[ $what == server ]] && exit 0
if [[ $what == package || $what == all ]]; then
  bash "$root/bench/package.sh" --bin "$bin" --out "$out"
fi
if [[ $what == image || $what == all ]]; then
  bash "$root/bench/image.sh" "$bin" "$out"
fi
[[ $what == image ]] && exit 0
if [[ $what == ci || $what == all ]]; then
  bash "$root/bench/ci.sh" "$bin" "$out"
fi
[[ $what == ci ]] && exit 0
[[ $what == package ]] && exit 0

echo "== kernels (Google Benchmark)"
"$root/build/bench/bench/bench_checklist" --benchmark_out="$out/kernels.json" \
  --benchmark_out_format=json | tee "$out/kernels.txt"

work=$(mktemp -d /var/tmp/shipshape-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ops/checklists"
printf 'name = "bench"\n' > "$work/ops/shipshape.toml"
python3 - "$work" <<'PY'
import sys
work = sys.argv[1]
n = 1000
def checklist(chain, parallel):
    out = [f"parallel = {parallel}"]
    for i in range(n):
        out.append(f'[[step]]\nid = "s{i}"\nrun = ["true"]')
        if chain and i:
            out.append(f'needs = ["s{i-1}"]')
    return "\n".join(out) + "\n"
open(f"{work}/ops/checklists/chain.toml", "w").write(checklist(True, 1))
open(f"{work}/ops/checklists/fanout.toml", "w").write(checklist(False, 4))
with open(f"{work}/chain.mk", "w") as f:
    f.write(f"all: s{n-1}\n")
    for i in range(n):
        f.write(f"s{i}:{' s%d' % (i-1) if i else ''}\n\t@true\n.PHONY: s{i}\n")
with open(f"{work}/fanout.mk", "w") as f:
    f.write("all: " + " ".join(f"s{i}" for i in range(n)) + "\n")
    for i in range(n):
        f.write(f"s{i}:\n\t@true\n.PHONY: s{i}\n")
with open(f"{work}/play.yml", "w") as f:
    f.write("- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n")
    for i in range(100):
        f.write(f"    - name: s{i}\n      command: /bin/true\n")
PY

cd "$work/ops"
echo "== whole commands (hyperfine): 1,000 steps of 'true'"
hyperfine --warmup 1 --runs 5 --export-json "$out/steps.json" --export-markdown "$out/steps.md" \
  -n "floor: shell loop, 1000 x true (sequential)" "sh -c 'i=0; while [ \$i -lt 1000 ]; do /bin/true; i=\$((i+1)); done'" \
  -n "shipshape run, 1000-step chain" "$bin run checklists/chain.toml" \
  -n "make, 1000-target chain" "make -s -f $work/chain.mk" \
  -n "floor: xargs -P4, 1000 x true (parallel)" "seq 1000 | xargs -P 4 -n 1 /bin/true" \
  -n "shipshape run, 1000-step fan-out, parallel 4" "$bin run checklists/fanout.toml" \
  -n "make -j4, 1000-target fan-out" "make -s -j4 -f $work/fanout.mk"

echo "== Ansible: 100 command tasks on localhost (connection: local)"
ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 hyperfine --runs 2 \
  --export-json "$out/ansible.json" --export-markdown "$out/ansible.md" \
  -n "ansible-playbook, 100 tasks" "ansible-playbook -i localhost, $work/play.yml"

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
res = {r["command"]: r["mean"] for r in json.load(open(f"{out}/steps.json"))["results"]}
ans = json.load(open(f"{out}/ansible.json"))["results"][0]["mean"]
floor_c = res["floor: shell loop, 1000 x true (sequential)"]
floor_f = res["floor: xargs -P4, 1000 x true (parallel)"]
chain = res["shipshape run, 1000-step chain"]
fan = res["shipshape run, 1000-step fan-out, parallel 4"]
lines = [
    "| measure | value |", "|---|---|",
    f"| chain: shipshape overhead per step beyond the shell loop | {(chain - floor_c) / 1000 * 1e3:.3f} ms |",
    f"| fan-out: shipshape overhead per step beyond xargs -P4 | {(fan - floor_f) / 1000 * 1e3:.3f} ms |",
    f"| chain: shipshape per step | {chain / 1000 * 1e3:.3f} ms |",
    f"| chain: make per step | {res['make, 1000-target chain'] / 1000 * 1e3:.3f} ms |",
    f"| Ansible per task (100-task playbook) | {ans / 100 * 1e3:.1f} ms |",
    f"| Ansible per task / shipshape per chain step | {(ans / 100) / (chain / 1000):.0f}x |",
]
open(f"{out}/summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
