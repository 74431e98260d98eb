#!/usr/bin/env bash
# Image benchmark (issue #18), called by bench/run.sh: BIN OUT_DIR. Side by side, in one run:
#   - cold `shipshape image build` of a minbase spec (no cache) against `mmdebstrap` alone on
#     the same package set, both from the same offline repository (goal: <= 1.15x);
#   - warm rebuild after a one-file change in the roles' state: the package base is cached,
#     only the layer is applied again (goal: <= 3 s);
#   - `image check` of 50 hosts from their saved facts (fake hosts: facts of this machine with
#     a few package versions changed per host, imported with `facts import`), next to a floor:
#     a Python script reading the same 50 documents from the store and computing the deltas.
# Needs root (mmdebstrap --mode=root) and the offline .debs of scripts/install-deps.sh test.
set -euo pipefail
bin="$1"
out="$2"
root="$(cd "$(dirname "$0")/.." && pwd)"
if [[ $(id -u) -ne 0 ]]; then
  echo "== image: skipped (mmdebstrap --mode=root needs root)"
  exit 0
fi
work=$(mktemp -d /var/tmp/shipshape-image-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$bin" init "$work/ops" >/dev/null
source_line=$(python3 - "$work" "$root" <<'PY'
import sys
sys.path.insert(0, sys.argv[2] + "/tests/e2e")
import debrepo
reason = debrepo.unavailable()
if reason:
    sys.exit("bench/image.sh: " + reason)
line = debrepo.make_repo(sys.argv[1] + "/repo")
debrepo.write_spec(sys.argv[1] + "/ops/images/mini.toml", "mini", line, variant="minbase",
                   roles=["web"])
print(line)
PY
)
cd "$work/ops"
cat > shipshape.toml <<'TOML'
name = "bench"
[roles]
web = ["states/web.toml"]
TOML
printf '[env.local]\nhosts = ["localhost"]\n' > inventory.toml
mkdir -p states
printf '[[file]]\npath = "/etc/bench/app.conf"\ncontent = "workers = 4\\n"\n' > states/web.toml

echo "== image build, cold (no cache), against mmdebstrap alone (hyperfine)"
hyperfine --runs 3 --export-json "$out/image-cold.json" \
  --prepare "rm -rf $work/ops/.shipshape/images $work/mm" \
  -n "shipshape image build (minbase, cold)" "$bin image build images/mini.toml" \
  -n "mmdebstrap --variant=minbase (same repo)" \
  "mmdebstrap --variant=minbase --mode=root --architectures=amd64 --skip=check/signed-by -q bookworm $work/mm '$source_line'"

echo "== image build, warm: one file of the state changed, base cached (hyperfine)"
"$bin" image build images/mini.toml >/dev/null
hyperfine --runs 10 --export-json "$out/image-warm.json" \
  --prepare "sed -i \"s/workers = [0-9]*/workers = \$(date +%N)/\" $work/ops/states/web.toml" \
  -n "shipshape image build (one-file change, base cached)" "$bin image build images/mini.toml"

echo "== image check, 50 hosts from saved facts (hyperfine)"
python3 - "$bin" "$work/ops" <<'PY'
import json, subprocess, sys
bin, ops = sys.argv[1], sys.argv[2]
hosts = [f"h{i:02d}" for i in range(1, 51)]
with open(f"{ops}/inventory.toml", "w") as f:
    f.write("[env.fleet]\nhosts = [" + ", ".join(f'"{h}"' for h in hosts) + "]\n")
    for i, h in enumerate(hosts):
        f.write(f'[host.{h}]\naddress = "10.254.{i // 250}.{i % 250 + 1}"\n')
facts = json.loads(subprocess.run([bin, "--json", "facts"], cwd=ops, capture_output=True,
                                  text=True, check=True).stdout)["hosts"][0]
for i, h in enumerate(hosts):
    doc = json.loads(json.dumps(facts))
    doc["host"] = h
    # Every host differs a little: i packages get another version.
    for p in doc["packages"][: i % 7]:
        p["version"] = p["version"] + "+bench" + str(i)
    path = f"{ops}/facts-{h}.json"
    with open(path, "w") as f:
        json.dump(doc, f)
    subprocess.run([bin, "facts", "import", h, path], cwd=ops, check=True,
                   capture_output=True)
PY
cat > "$work/floor.py" <<'PY'
# The floor: the 50 newest snapshots read from the same SQLite store, each delta computed in
# Python (names and versions only, no Debian version order, no drift, no report).
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
image = {p["name"]: p["version"] for p in json.load(open(sys.argv[2]))["packages"]}
rows = db.execute("SELECT host, document FROM facts_snapshots f WHERE id = "
                  "(SELECT max(id) FROM facts_snapshots g WHERE g.host = f.host)").fetchall()
out = []
for host, doc in rows:
    pk = {p["name"]: p["version"] for p in json.loads(doc)["packages"]}
    out.append((host, sum(1 for n in pk if image.get(n) != pk[n]) + sum(1 for n in image if n not in pk)))
print(len(out))
PY
image_json=$(ls "$work"/ops/.shipshape/images/*/image.json | head -1)
# -i: image check exits 1 when a host needs a patch or a rebuild, as every fake host does.
hyperfine -N -i --warmup 2 --runs 20 --export-json "$out/image-check.json" \
  -n "shipshape image check env:fleet (50 hosts, saved facts) --json" \
  "$bin --json image check env:fleet --against mini --saved" \
  -n "floor: python3 delta of the same 50 snapshots" \
  "python3 $work/floor.py $work/ops/.shipshape/state.db $image_json"

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
cold = {r["command"]: r["mean"] for r in json.load(open(f"{out}/image-cold.json"))["results"]}
ours = cold["shipshape image build (minbase, cold)"]
mm = cold["mmdebstrap --variant=minbase (same repo)"]
warm = json.load(open(f"{out}/image-warm.json"))["results"][0]["mean"]
lines = ["| measure | shipshape | reference | ratio | goal |", "|---|---|---|---|---|",
         f"| cold image build, minbase | {ours:.2f} s | mmdebstrap {mm:.2f} s | {ours/mm:.2f}x | <= 1.15x |",
         f"| warm rebuild, one-file change | {warm:.2f} s | | | <= 3 s |"]
try:
    chk = {r["command"]: r["mean"] for r in json.load(open(f"{out}/image-check.json"))["results"]}
    c = chk["shipshape image check env:fleet (50 hosts, saved facts) --json"]
    fl = chk["floor: python3 delta of the same 50 snapshots"]
    lines.append(f"| image check, 50 hosts (saved facts) | {c*1e3:.0f} ms | python floor {fl*1e3:.0f} ms | {c/fl:.2f}x | |")
except (OSError, KeyError):
    pass
open(f"{out}/image-summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
