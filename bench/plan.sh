#!/usr/bin/env bash
# How `shipshape validate` and `shipshape run --plan` scale with the number of steps: a chain
# (each step needs the one before), a reverse chain (each needs the one after, so file order is
# the opposite of run order), a fan-out (independent steps) and a fan-in (one step needs all the
# others), at 25,000, 50,000 and 100,000 steps. Both commands should grow about linearly.
# Usage: bench/plan.sh [BIN [OUT [SIZES...]]]   (default: build/bench's shipshape, bench/results)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$(realpath "${1:-$root/build/bench/src/cli/shipshape}")"
out="$(realpath -m "${2:-$root/bench/results}")"
shift $(($# > 2 ? 2 : $#))
sizes=("$@")
((${#sizes[@]})) || sizes=(25000 50000 100000)
mkdir -p "$out"
work=$(mktemp -d /var/tmp/shipshape-plan-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ops/checklists"
printf 'name = "bench"\n' >"$work/ops/shipshape.toml"
python3 - "$work/ops/checklists" "${sizes[@]}" <<'PY'
import sys
where, sizes = sys.argv[1], [int(s) for s in sys.argv[2:]]
def write(name, n, needs):
    with open(f"{where}/{name}-{n}.toml", "w") as f:
        f.write('name = "plan"\n')
        for i in range(n):
            f.write(f'[[step]]\nid = "s{i}"\nrun = ["true"]\n')
            ns = needs(i, n)
            if ns:
                f.write("needs = [" + ", ".join(f'"s{j}"' for j in ns) + "]\n")
for n in sizes:
    write("chain", n, lambda i, n: [i - 1] if i else [])
    write("reverse", n, lambda i, n: [i + 1] if i + 1 < n else [])
    write("fanout", n, lambda i, n: [])
    write("fanin", n, lambda i, n: list(range(1, n)) if i == 0 else [])
PY
cd "$work/ops"
result="$out/plan.md"
printf '| checklist | steps | validate | run --plan |\n|---|---|---|---|\n' | tee "$result"
seconds() {  # the elapsed seconds of a command, its output discarded; fails with the command
  /usr/bin/time -f '%e' -o "$work/time" "$@" >/dev/null 2>&1 || return 1
  cat "$work/time"
}
for n in "${sizes[@]}"; do
  for kind in chain reverse fanout fanin; do
    file="checklists/$kind-$n.toml"
    v=$(seconds "$bin" validate "$file") || v="failed"
    p=$(seconds "$bin" run --plan "$file") || p="failed"
    printf '| %s | %s | %s s | %s s |\n' "$kind" "$n" "$v" "$p" | tee -a "$result"
  done
done
