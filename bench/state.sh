#!/usr/bin/env bash
# Desired-state benchmark, called by bench/run.sh: BIN OUT_DIR.
#   1. converge: 1,000 files (distinct small contents, mode 0640) in a fresh directory, applied by
#      `shipshape apply`, `puppet apply`, `cf-agent` (standalone policy) and `ansible-playbook`
#      (connection local); first run (target removed before each run) and no-change run (target
#      already converged). Each tool's result is checked file by file after its runs, so that a
#      broken manifest cannot look fast.
#   2. drift of a 100,000-file tree (1,000 dirs x 100 files, 100 B-4 KiB): `shipshape drift`
#      with its hash cache removed (cold) and kept (warm), against `aide --check` (sha256, size,
#      type, permissions, owner, group; AIDE keeps no cache and hashes every file on every run).
#      Both then have to report one modified file.
# Standalone: bash bench/state.sh [BIN [OUT_DIR]]  (defaults: the release build, bench/results).
# STATE_BENCH_NO_SHIPSHAPE=1 runs the competitors only (while shipshape's side is being written).
# Everything is made under /tmp/shipshape-bench-state (about 1 GB with the two trees), removed
# at the end unless STATE_BENCH_KEEP=1.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/build/release/src/cli/shipshape}"
out="${2:-$root/bench/results}"
mkdir -p "$out"
w=/tmp/shipshape-bench-state
ours=1
if [[ ${STATE_BENCH_NO_SHIPSHAPE:-0} == 1 ]]; then
  ours=0
  echo "state bench: STATE_BENCH_NO_SHIPSHAPE=1, competitors only" >&2
elif [[ ! -x $bin ]]; then
  echo "state bench: no shipshape binary at $bin (STATE_BENCH_NO_SHIPSHAPE=1 runs the competitors only)" >&2
  exit 1
fi
for tool in hyperfine puppet cf-agent ansible-playbook aide python3; do
  command -v "$tool" >/dev/null || { echo "state bench: $tool missing (scripts/install-deps.sh bench)" >&2; exit 1; }
done

rm -rf "$w"
mkdir -p "$w"
[[ ${STATE_BENCH_KEEP:-0} == 1 ]] || trap 'rm -rf "$w"' EXIT

echo "== state bench: writing the desired state for each tool and a 100,000-file tree"
python3 - "$w" <<'PY'
import json, os, random, sys
w = sys.argv[1]
N = 1000

def content(i):
    return (f"file {i}\nname = f{i:04d}.conf\nindex = {i}\n"
            f"token = {i * 2654435761 % 2**32:08x}\n")

def target(tool):
    return f"{w}/target-{tool}"

files = [(f"f{i:04d}.conf", content(i)) for i in range(1, N + 1)]
# What every tool must leave behind; read by the check after each tool's runs.
json.dump({"count": N, "mode": "0640", "files": dict(files)}, open(f"{w}/expected.json", "w"))

# shipshape: an ops repo with two state files.
ops = f"{w}/ops"
os.makedirs(f"{ops}/states")
open(f"{ops}/shipshape.toml", "w").write('name = "bench"\n')
with open(f"{ops}/states/files.toml", "w") as f:
    for name, text in files:
        f.write(f'[[file]]\npath = "{target("shipshape")}/{name}"\ncontent = {json.dumps(text)}\n'
                f'mode = "0640"\n\n')
with open(f"{ops}/states/tree.toml", "w") as f:
    f.write(f'[[tree]]\npath = "{w}/tree/target"\nsource = "files/tree"\n')

# Puppet: one file resource per file; the directory is autorequired.
os.makedirs(f"{w}/puppet")
with open(f"{w}/puppet/files.pp", "w") as f:
    f.write(f"file {{ '{target('puppet')}':\n  ensure => directory,\n}}\n")
    for name, text in files:
        esc = text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("\n", "\\n")
        f.write(f"file {{ '{target('puppet')}/{name}':\n  ensure  => file,\n"
                f"  content => \"{esc}\",\n  mode    => '0640',\n}}\n")

# CFEngine: a standalone policy (no masterfiles), one files promise per file.
os.makedirs(f"{w}/cfengine")
with open(f"{w}/cfengine/policy.cf", "w") as f:
    f.write('body common control\n{\n  bundlesequence => { "main" };\n}\n\n'
            'body perms m0640\n{\n  mode => "0640";\n  rxdirs => "false";\n}\n\n'
            'bundle agent main\n{\n  files:\n'
            f'    "{target("cfengine")}/."\n      create => "true";\n\n')
    for name, text in files:
        assert '"' not in text and "$" not in text and "@" not in text
        # A quoted CFEngine string may span lines: the newlines are part of the content.
        f.write(f'    "{target("cfengine")}/{name}"\n      create => "true",\n'
                f'      content => "{text}",\n      perms => m0640;\n\n')
    f.write("}\n")
os.chmod(f"{w}/cfengine/policy.cf", 0o600)

# Ansible: one copy task looping over the 1,000 files (facts not gathered).
os.makedirs(f"{w}/ansible")
json.dump({"bench_files": [{"path": f"{target('ansible')}/{n}", "content": t} for n, t in files]},
          open(f"{w}/ansible/files.json", "w"))
with open(f"{w}/ansible/files.yml", "w") as f:
    f.write(f"""- hosts: localhost
  connection: local
  gather_facts: false
  vars_files:
    - {w}/ansible/files.json
  tasks:
    - name: target directory
      ansible.builtin.file:
        path: {target('ansible')}
        state: directory
    - name: files
      ansible.builtin.copy:
        dest: "{{{{ item.path }}}}"
        content: "{{{{ item.content }}}}"
        mode: "0640"
      loop: "{{{{ bench_files }}}}"
      loop_control:
        label: "{{{{ item.path }}}}"
""")

# The 100,000-file tree, deterministic: 1,000 dirs x 100 files of 100 B to 4 KiB.
rng = random.Random(20261125)
pool = rng.randbytes(1 << 16)
src = f"{ops}/files/tree"
for d in range(1000):
    dpath = f"{src}/d{d:04d}"
    os.makedirs(dpath)
    for i in range(100):
        size = rng.randint(100, 4096)
        off = rng.randrange(0, len(pool) - size)
        with open(f"{dpath}/f{i:03d}.dat", "wb") as f:
            f.write(f"{d}/{i}\n".encode() + pool[off:off + size])

# AIDE: its own config and database under the work dir; checksum, size, type, permissions,
# owner and group of everything under the target tree (no inode, link count or times).
os.makedirs(f"{w}/aide")
open(f"{w}/aide/aide.conf", "w").write(f"""database_in=file:{w}/aide/aide.db
database_out=file:{w}/aide/aide.db.new
gzip_dbout=no
num_workers=2
report_url=stdout
BenchRule = ftype+p+u+g+s+sha256
{w}/tree/target BenchRule
""")
PY
mkdir -p "$w/tree"
cp -a "$w/ops/files/tree" "$w/tree/target"
echo "tree: $(find "$w/tree/target" -type f | wc -l) files, $(du -sh "$w/tree/target" | cut -f1)"

# Checks that a tool left exactly the 1,000 expected files, each with its content and mode.
check_files() {
  python3 - "$w" "$1" <<'PY'
import json, os, stat, sys
w, tool = sys.argv[1], sys.argv[2]
exp = json.load(open(f"{w}/expected.json"))
d = f"{w}/target-{tool}"
bad = []
names = sorted(os.listdir(d)) if os.path.isdir(d) else []
if names != sorted(exp["files"]):
    bad.append(f"{len(names)} entries in {d}, expected the {exp['count']} files")
for name, text in exp["files"].items():
    p = f"{d}/{name}"
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        bad.append(f"{p}: missing"); continue
    if not stat.S_ISREG(st.st_mode):
        bad.append(f"{p}: not a regular file")
    elif oct(stat.S_IMODE(st.st_mode)) != "0o" + exp["mode"][1:]:
        bad.append(f"{p}: mode {oct(stat.S_IMODE(st.st_mode))}, expected {exp['mode']}")
    elif open(p).read() != text:
        bad.append(f"{p}: wrong content")
if bad:
    print(f"state bench: {tool} did NOT converge the files:", *bad[:10], sep="\n  ", file=sys.stderr)
    sys.exit(1)
print(f"check: {tool}: {exp['count']} files with the expected content and mode {exp['mode']}")
PY
}

export ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_NOCOLOR=1
puppet_cmd="puppet apply $w/puppet/files.pp"
cf_cmd="cf-agent -K -f $w/cfengine/policy.cf"
ansible_cmd="ansible-playbook -c local -i localhost, $w/ansible/files.yml"
ship_apply="$bin -C $w/ops apply --state states/files.toml"

# Fast tools: many runs; Puppet and Ansible: few (seconds to minutes per run).
fast_names=() fast_cmds=() fast_tools=()
if ((ours)); then
  fast_names+=("shipshape apply") fast_cmds+=("$ship_apply") fast_tools+=(shipshape)
fi
fast_names+=("cf-agent") fast_cmds+=("$cf_cmd") fast_tools+=(cfengine)
slow_names=("puppet apply" "ansible-playbook") slow_cmds=("$puppet_cmd" "$ansible_cmd")
slow_tools=(puppet ansible)

# bench SCENARIO RUNS first|nochange NAMES... -- CMDS... -- TOOLS...
bench() {
  local label="$1" runs="$2" mode="$3"
  shift 3
  local names=() cmds=() tools=()
  while [[ $1 != -- ]]; do names+=("$1"); shift; done; shift
  while [[ $1 != -- ]]; do cmds+=("$1"); shift; done; shift
  tools=("$@")
  local args=(-N --runs "$runs" --export-json "$out/state-$label.json"
              --export-markdown "$out/state-$label.md")
  local i
  for i in "${!cmds[@]}"; do
    if [[ $mode == first ]]; then
      args+=(--prepare "rm -rf $w/target-${tools[$i]}")
    fi
    args+=(-n "${names[$i]}, ${mode/nochange/no change}" "${cmds[$i]}")
  done
  [[ $mode == nochange ]] && args+=(--warmup 1)
  hyperfine "${args[@]}"
  for i in "${!tools[@]}"; do check_files "${tools[$i]}"; done
}

echo "== converge 1,000 files: first run (target removed before each run)"
bench converge-first-fast 10 first "${fast_names[@]}" -- "${fast_cmds[@]}" -- "${fast_tools[@]}"
bench converge-first-slow 3 first "${slow_names[@]}" -- "${slow_cmds[@]}" -- "${slow_tools[@]}"
echo "== converge 1,000 files: no change (target already converged)"
bench converge-nochange-fast 10 nochange "${fast_names[@]}" -- "${fast_cmds[@]}" -- "${fast_tools[@]}"
bench converge-nochange-slow 3 nochange "${slow_names[@]}" -- "${slow_cmds[@]}" -- "${slow_tools[@]}"

echo "== drift of a 100,000-file tree (no drift: every command must exit 0)"
aide --init -c "$w/aide/aide.conf" >"$w/aide/init.log"
mv "$w/aide/aide.db.new" "$w/aide/aide.db"
drift_args=(-N --export-json "$out/state-drift.json" --export-markdown "$out/state-drift.md")
if ((ours)); then
  ship_drift="$bin -C $w/ops drift --state states/tree.toml"
  drift_args+=(--prepare "rm -rf $w/ops/.shipshape/cache" -n "shipshape drift, cold (no hash cache)" "$ship_drift"
               --prepare "true" -n "shipshape drift, warm (hash cache kept)" "$ship_drift")
fi
drift_args+=(--prepare "true" -n "aide --check (sha256 of every file)" "aide --check -c $w/aide/aide.conf")
hyperfine --warmup 1 --runs 5 "${drift_args[@]}"

echo "== drift: one modified file must be reported"
changed="$w/tree/target/d0500/f050.dat"
cp -p "$changed" "$w/changed.orig"
printf 'drift\n' >>"$changed"
rc=0
aide --check -c "$w/aide/aide.conf" >"$w/aide/check.log" || rc=$?
if ((rc == 0)) || ! grep -q "d0500/f050.dat" "$w/aide/check.log"; then
  echo "state bench: aide --check did not report $changed (exit $rc)" >&2
  exit 1
fi
echo "check: aide --check reports the modified file (exit $rc)"
if ((ours)); then
  rc=0
  $ship_drift >"$w/drift.log" 2>&1 || rc=$?
  if ((rc != 1)); then
    echo "state bench: shipshape drift exited $rc on a modified tree, expected 1:" >&2
    cat "$w/drift.log" >&2
    exit 1
  fi
  echo "check: shipshape drift (warm cache) reports the modified file (exit 1)"
fi
cp -p "$w/changed.orig" "$changed"

python3 - "$out" "$ours" <<'PY'
import json, sys
out, ours = sys.argv[1], sys.argv[2] == "1"
def load(name):
    return {r["command"]: r for r in json.load(open(f"{out}/state-{name}.json"))["results"]}
def fmt(r):
    m, s = r["mean"], r["stddev"] or 0.0
    return f"{m*1e3:,.1f} ± {s*1e3:,.1f} ms" if m < 10 else f"{m:,.2f} ± {s:,.2f} s"
lines = ["| scenario | tool | mean | vs shipshape |", "|---|---|---|---|"]
for scen, label in (("first", "converge 1,000 files, first run"),
                    ("nochange", "converge 1,000 files, no change")):
    res = {**load(f"converge-{scen}-fast"), **load(f"converge-{scen}-slow")}
    base = next((r["mean"] for c, r in res.items() if c.startswith("shipshape")), None)
    for cmd, r in res.items():
        rel = f"{r['mean']/base:,.1f}x" if base else "n/a"
        lines.append(f"| {label} | {cmd.split(',')[0]} | {fmt(r)} | {rel} |")
res = load("drift")
base = next((r["mean"] for c, r in res.items() if c.startswith("shipshape drift, warm")), None)
for cmd, r in res.items():
    rel = f"{r['mean']/base:,.1f}x" if base else "n/a"
    lines.append(f"| drift, 100,000 files | {cmd} | {fmt(r)} | {rel} (vs warm) |")
open(f"{out}/state-summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
