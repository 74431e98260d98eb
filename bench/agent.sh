#!/usr/bin/env bash
# Agent benchmark, called by bench/run.sh: BIN OUT_DIR [HOSTS]. Needs root (it makes a test
# fleet: network namespaces running Debian's sshd, tests/e2e/fleet.py), HOSTS (default 50).
# "After" is the default agent, shipshape-agent (static, stripped, built beside BIN); "before"
# is the full shipshape binary, stripped, given as SHIPSHAPE_AGENT: what a controller copied
# before shipshape-agent existed (the full binary still serves `agent --protocol 2`). Side by
# side, each in one hyperfine run:
#   1. sizes of both binaries, and the agent's start alone on this machine (`agent
#      --protocol 2 </dev/null`);
#   2. copying the agent to every host: `shipshape exec env:prod -- true` with every host's
#      ~/.cache/shipshape emptied before each run (cold), before and after; the same with the
#      agent already there (warm); and the yardstick, one fresh ssh handshake per host (not
#      multiplexed, all hosts in parallel);
#   3. a checklist step with `on` (`run = ["true"]`) on 10 hosts (group:ten) and on all
#      HOSTS (env:prod): `shipshape run` before and after, against the floor, raw `ssh` to
#      every host in parallel over its ControlMaster connection.
# Standalone: bash bench/agent.sh [BIN [OUT_DIR [HOSTS]]]. AGENT_RUNS=N changes the number
# of runs of the timed commands (default 10; the cold copies use half, at least 3).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$(readlink -f "${1:-$root/build/bench/src/cli/shipshape}")"
out="${2:-$root/bench/results}"
n="${3:-50}"
runs="${AGENT_RUNS:-10}"
cold_runs=$((runs / 2 < 3 ? 3 : runs / 2))
agent="$(dirname "$bin")/shipshape-agent"
mkdir -p "$out"
if [[ $(id -u) -ne 0 ]]; then
  echo "agent bench: needs root (network namespaces, sshd)" >&2
  exit 3
fi
for tool in hyperfine sshd strip; do
  command -v "$tool" >/dev/null || [[ -x /usr/sbin/$tool ]] || {
    echo "agent bench: $tool missing (scripts/install-deps.sh bench)" >&2
    exit 3
  }
done
[[ -x $agent ]] || {
  echo "agent bench: $agent missing (cmake --build build/bench --target shipshape-agent)" >&2
  exit 3
}
((n >= 10)) || {
  echo "agent bench: HOSTS must be at least 10" >&2
  exit 2
}

w=$(mktemp -d /tmp/shipshape-bench-agent-XXXXXX)
fd="$w/fleet"
cleanup() {
  [[ -f $fd/fleet.json ]] && python3 "$root/tests/e2e/fleet.py" down "$fd" >/dev/null 2>&1 || true
  rm -rf "$w"
}
trap cleanup EXIT

# The "before" agent: the full binary, stripped as a release package would ship it.
full="$w/shipshape-full"
strip -o "$full" "$bin"
python3 - "$out/agent-sizes.json" "$bin" "$full" "$agent" <<'PY'
import json, os, sys
out, bin_, full, agent = sys.argv[1:]
sizes = {"shipshape (release, unstripped)": os.path.getsize(bin_),
         "shipshape (release, stripped): the agent before": os.path.getsize(full),
         "shipshape-agent (static, stripped): the agent after": os.path.getsize(agent)}
json.dump(sizes, open(out, "w"), indent=2)
for k, v in sizes.items():
    print(f"{k}: {v / 1e6:.1f} MB ({v} bytes)")
PY

echo "== agent start on this machine"
hyperfine -N --warmup 3 --runs 30 --export-json "$out/agent-start.json" \
  --export-markdown "$out/agent-start.md" \
  -n "before: shipshape agent --protocol 2 </dev/null" "$full agent --protocol 2" \
  -n "after: shipshape-agent agent --protocol 2 </dev/null" "$agent agent --protocol 2"

echo "== fleet of $n hosts"
mkdir -p "$fd"
python3 "$root/tests/e2e/fleet.py" up "$n" "$fd" >/dev/null
ops="$w/ops"
mkdir -p "$ops/checklists"
printf 'name = "bench"\n' > "$ops/shipshape.toml"
python3 - "$root" "$fd" "$ops" <<'PY'
import json, sys
root, fd, ops = sys.argv[1:]
sys.path.insert(0, root + "/tests/e2e")
from fleet import Fleet
f = Fleet.from_description(json.load(open(fd + "/fleet.json")))
ten = [h["name"] for h in f.hosts[:10]]
open(ops + "/inventory.toml", "w").write(f.inventory_toml(env="prod", groups={"ten": ten}))
for name, on in (("on10", "group:ten"), ("onall", "env:prod")):
    open(f"{ops}/checklists/{name}.toml", "w").write(
        f'[[step]]\nid = "true"\non = "{on}"\nrun = ["true"]\n')
with open(fd + "/addresses", "w") as a:
    a.write(" ".join(h["address"] for h in f.hosts) + "\n")
with open(fd + "/addresses10", "w") as a:
    a.write(" ".join(h["address"] for h in f.hosts[:10]) + "\n")
with open(fd + "/ctl", "w") as c:
    c.write(f.ctl_netns + "\n")
PY
ctl=$(cat "$fd/ctl")
cfg="$fd/ssh_config"
in_ns() { ip netns exec "$ctl" "$@"; }
# Each shell loop is a script, so that hyperfine (-N) and bash see it the same way.
mux="-F $cfg -o ControlMaster=auto -o ControlPersist=600 -o ControlPath=$fd/cm-%C"
loop() { printf 'for h in %s; do ssh %s "$h" %s & done; wait\n' "$(cat "$fd/$1")" "$2" "$3" > "$w/$4.sh"; }
loop addresses "$mux" true raw-all
loop addresses10 "$mux" true raw-ten
loop addresses "$mux" "'rm -rf .cache/shipshape'" clear
loop addresses "-F $cfg -o ControlMaster=no -o ControlPath=none" true handshake
before="env SHIPSHAPE_AGENT=$full $bin -C $ops"
after="$bin -C $ops"
# `exec --timeout` runs through the agent (a plain exec is one multiplexed ssh, no agent).
x="exec --timeout 30s env:prod -- true"
# Warm up: master connections up (shipshape's and raw ssh's), both agents on every host.
in_ns bash "$w/raw-all.sh"
in_ns $after $x >/dev/null
in_ns $before $x >/dev/null

echo "== copying the agent to $n hosts (cold: ~/.cache/shipshape emptied before each run)"
in_ns hyperfine -N --runs "$cold_runs" --prepare "bash $w/clear.sh" \
  --export-json "$out/agent-copy-$n.json" --export-markdown "$out/agent-copy-$n.md" \
  -n "before, cold: shipshape $x (copies the full binary)" \
  "$before $x" \
  -n "after, cold: shipshape $x (copies shipshape-agent)" \
  "$after $x"
in_ns $before $x >/dev/null # both agents back on every host
in_ns hyperfine -N --warmup 2 --runs "$runs" \
  --export-json "$out/agent-warm-$n.json" --export-markdown "$out/agent-warm-$n.md" \
  -n "yardstick: one fresh ssh handshake per host ×$n in parallel (not multiplexed)" \
  "bash $w/handshake.sh" \
  -n "floor: raw ssh ×$n in parallel (multiplexed)" "bash $w/raw-all.sh" \
  -n "before, warm: shipshape $x" "$before $x" \
  -n "after, warm: shipshape $x" "$after $x"

for size in 10 "$n"; do
  if [[ $size == 10 ]]; then
    list=$ops/checklists/on10.toml floor=raw-ten on="group:ten"
  else
    list=$ops/checklists/onall.toml floor=raw-all on="env:prod"
  fi
  echo "== a checklist step with on = \"$on\" ($size hosts)"
  in_ns hyperfine -N --warmup 2 --runs "$runs" \
    --export-json "$out/agent-step-$size.json" --export-markdown "$out/agent-step-$size.md" \
    -n "floor: raw ssh ×$size in parallel (multiplexed)" "bash $w/$floor.sh" \
    -n "after: shipshape run (step on $on, run true)" "$after run $list --env prod" \
    -n "before: shipshape run (step on $on, run true)" "$before run $list --env prod"
done

python3 - "$out" "$n" <<'PY'
import json, sys
out, n = sys.argv[1], sys.argv[2]
def load(name):
    return {r["command"]: r for r in json.load(open(f"{out}/{name}.json"))["results"]}
def ms(r):
    return f"{r['mean'] * 1e3:,.1f} ms ± {r['stddev'] * 1e3:,.1f}"
sizes = json.load(open(f"{out}/agent-sizes.json"))
lines = ["| binary | size |", "|---|---|"]
lines += [f"| {k} | {v / 1e6:.1f} MB |" for k, v in sizes.items()]
start = load("agent-start")
lines += ["", "| agent start alone, this machine | mean ± σ |", "|---|---|"]
lines += [f"| {k} | {ms(r)} |" for k, r in start.items()]
copy, warm = load(f"agent-copy-{n}"), load(f"agent-warm-{n}")
hs = next(r for k, r in warm.items() if k.startswith("yardstick"))
def pick(d, prefix):
    return next(r for k, r in d.items() if k.startswith(prefix))
lines += ["", f"| {n} hosts | mean ± σ | copy cost (cold − warm) | ÷ one handshake each |",
          "|---|---|---|---|"]
for side in ("before", "after"):
    c, wm = pick(copy, f"{side}, cold"), pick(warm, f"{side}, warm")
    extra = c["mean"] - wm["mean"]
    lines.append(f"| {side}, cold: exec (agent copied) | {ms(c)} | {extra * 1e3:,.1f} ms | "
                 f"{extra / hs['mean']:.2f}× |")
    lines.append(f"| {side}, warm: exec (agent there) | {ms(wm)} | | |")
lines.append(f"| yardstick: one fresh ssh handshake per host, in parallel | {ms(hs)} | | 1 |")
lines.append(f"| floor: raw ssh, multiplexed | {ms(pick(warm, 'floor'))} | | |")
lines += ["", "| step with `on`, run true | 10 hosts | " + n + " hosts |", "|---|---|---|"]
steps = [load("agent-step-10"), load(f"agent-step-{n}")]
for prefix in ("floor", "after", "before"):
    cells = []
    for s in steps:
        r, f = pick(s, prefix), pick(s, "floor")
        cells.append(ms(r) + ("" if prefix == "floor" else f" ({r['mean'] / f['mean']:.2f}×)"))
    label = {"floor": "floor: raw ssh ×N, multiplexed", "after": "after: shipshape run",
             "before": "before: shipshape run (SHIPSHAPE_AGENT=full binary)"}[prefix]
    lines.append(f"| {label} | " + " | ".join(cells) + " |")
open(f"{out}/agent-summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
