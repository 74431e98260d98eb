#!/usr/bin/env bash
# Desired-state benchmark, called by bench/run.sh: BIN OUT_DIR.
#   1. converge: 1,000 files (distinct small contents, mode 0640) in a fresh directory, applied by
#      `shipshape apply`, `puppet apply`, `cf-agent` (standalone policy) and `ansible-playbook`
#      (connection local, pipelining on); first run (target removed before each run) and no-change
#      run (target already converged). Each tool's result is checked file by file after its runs,
#      so that a broken manifest cannot look fast. Ansible takes 0.5-1 s per file here (a stat
#      and a copy or file module per item), so it gets the first 50 of the 1,000 files, and the
#      summary compares per file.
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
ANSIBLE_N = 50

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

# Ansible: one copy task looping over the first ANSIBLE_N files (facts not gathered).
os.makedirs(f"{w}/ansible")
json.dump({"bench_files": [{"path": f"{target('ansible')}/{n}", "content": t}
                           for n, t in files[:ANSIBLE_N]]},
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
# num_workers stays at its default (1): 2 or 4 were no faster here, the time goes into AIDE's
# own bookkeeping (strncmp in its path tree), not into hashing.
os.makedirs(f"{w}/aide")
open(f"{w}/aide/aide.conf", "w").write(f"""database_in=file:{w}/aide/aide.db
database_out=file:{w}/aide/aide.db.new
gzip_dbout=no
report_url=stdout
BenchRule = ftype+p+u+g+s+sha256
{w}/tree/target BenchRule
""")
PY
mkdir -p "$w/tree"
cp -a "$w/ops/files/tree" "$w/tree/target"
echo "tree: $(find "$w/tree/target" -type f | wc -l) files, $(du -sh "$w/tree/target" | cut -f1)"

# Checks that a tool left exactly the 1,000 expected files, each with its content and mode.
# check_files TOOL [COUNT]: the first COUNT files (default all) and nothing else.
check_files() {
  python3 - "$w" "$1" "${2:-0}" <<'PY'
import json, os, stat, sys
w, tool, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
exp = json.load(open(f"{w}/expected.json"))
if count:
    exp["count"] = count
    exp["files"] = dict(sorted(exp["files"].items())[:count])
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
    elif f"{stat.S_IMODE(st.st_mode):04o}" != exp["mode"]:
        bad.append(f"{p}: mode {stat.S_IMODE(st.st_mode):04o}, expected {exp['mode']}")
    elif open(p).read() != text:
        bad.append(f"{p}: wrong content")
if bad:
    print(f"state bench: {tool} did NOT converge the files:", *bad[:10], sep="\n  ", file=sys.stderr)
    sys.exit(1)
print(f"check: {tool}: {exp['count']} files with the expected content and mode {exp['mode']}")
PY
}

# Ansible's own speed-up for many module runs; facts are not gathered (see the playbook).
export ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_NOCOLOR=1 ANSIBLE_PIPELINING=1
ansible_n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["bench_files"]))' \
  "$w/ansible/files.json")

# bench LABEL RUNS WARMUP first|nochange NAME CMD TOOL [NAME CMD TOOL]...
# One hyperfine run of the given commands, then the file check of each tool. In first-run mode
# each command's --prepare removes that tool's target directory.
bench() {
  local label="$1" runs="$2" warmup="$3" mode="$4"
  shift 4
  local args=(-N --runs "$runs" --warmup "$warmup" --export-json "$out/state-$label.json"
              --export-markdown "$out/state-$label.md")
  local tools=()
  while (($#)); do
    [[ $mode == first ]] && args+=(--prepare "rm -rf $w/target-$3")
    args+=(-n "$1, ${mode/nochange/no change}" "$2")
    tools+=("$3")
    shift 3
  done
  hyperfine "${args[@]}"
  local t
  for t in "${tools[@]}"; do
    if [[ $t == ansible ]]; then check_files ansible "$ansible_n"; else check_files "$t"; fi
  done
}

fast=()
if ((ours)); then
  fast+=("shipshape apply" "$bin -C $w/ops apply --state states/files.toml" shipshape)
fi
fast+=("cf-agent" "cf-agent -K -f $w/cfengine/policy.cf" cfengine)
puppet=("puppet apply" "puppet apply $w/puppet/files.pp" puppet)
ansible=("ansible-playbook ($ansible_n files)"
         "ansible-playbook -c local -i localhost, $w/ansible/files.yml" ansible)

echo "== converge 1,000 files: first run (target removed before each run)"
bench converge-first-fast 10 0 first "${fast[@]}"
bench converge-first-puppet 3 0 first "${puppet[@]}"
bench converge-first-ansible 2 0 first "${ansible[@]}"
echo "== converge 1,000 files: no change (target already converged)"
bench converge-nochange-fast 10 1 nochange "${fast[@]}"
bench converge-nochange-puppet 3 1 nochange "${puppet[@]}"
# Converged by the first-run bench and checked: a warmup run would only cost another minute.
bench converge-nochange-ansible 2 0 nochange "${ansible[@]}"

echo "== drift of a 100,000-file tree (no drift: every command must exit 0)"
aide --init -c "$w/aide/aide.conf" >"$w/aide/init.log"
mv "$w/aide/aide.db.new" "$w/aide/aide.db"
aide_cmd="aide --check -c $w/aide/aide.conf"
ship_drift="$bin -C $w/ops drift --state states/tree.toml"
if ((ours)); then
  hyperfine -N --warmup 1 --runs 5 \
    --export-json "$out/state-drift-shipshape.json" --export-markdown "$out/state-drift-shipshape.md" \
    --prepare "rm -rf $w/ops/.shipshape/cache" -n "shipshape drift, cold (no hash cache)" "$ship_drift" \
    --prepare "true" -n "shipshape drift, warm (hash cache kept)" "$ship_drift"
fi
# The tree was just read by aide --init: its pages are as warm as for shipshape, so no warmup.
hyperfine -N --runs 3 --export-json "$out/state-drift-aide.json" --export-markdown "$out/state-drift-aide.md" \
  -n "aide --check (sha256, size, type, perms, owner)" "$aide_cmd"

echo "== drift: one modified file must be reported"
changed="$w/tree/target/d0500/f050.dat"
cp -p "$changed" "$w/changed.orig"
printf 'drift\n' >>"$changed"
rc=0
$aide_cmd >"$w/aide/check.log" || rc=$?
if ((rc == 0)) || ! grep -q "d0500/f050.dat" "$w/aide/check.log"; then
  echo "state bench: aide --check did not report $changed (exit $rc)" >&2
  exit 1
fi
echo "check: aide --check reports the modified file (exit $rc)"
if ((ours)); then
  rc=0
  $ship_drift >"$w/drift.log" 2>&1 || rc=$?
  if ((rc != 1)) || ! grep -q "d0500/f050.dat" "$w/drift.log"; then
    echo "state bench: shipshape drift exited $rc on a modified tree, expected 1 and the file named:" >&2
    cat "$w/drift.log" >&2
    exit 1
  fi
  echo "check: shipshape drift (warm cache) reports the modified file (exit 1)"
fi
cp -p "$w/changed.orig" "$changed"

python3 - "$out" "$ansible_n" <<'PY'
import json, os, sys
out, ansible_n = sys.argv[1], int(sys.argv[2])
def load(*names):
    res = {}
    for name in names:
        path = f"{out}/state-{name}.json"
        if os.path.exists(path):
            res.update({r["command"]: r for r in json.load(open(path))["results"]})
    return res
def fmt(m, s=None):
    t = f"{m*1e3:,.1f} ms" if m < 1 else f"{m:,.2f} s"
    if s is not None:
        t += f" ± {s*1e3:,.1f} ms" if m < 1 else f" ± {s:,.2f} s"
    return t
lines = ["| scenario | tool | mean | per file | vs shipshape (per file) |", "|---|---|---|---|---|"]
for scen, label in (("first", "converge, first run"), ("nochange", "converge, no change")):
    res = load(*(f"converge-{scen}-{g}" for g in ("fast", "puppet", "ansible")))
    base = next((r["mean"] / 1000 for c, r in res.items() if c.startswith("shipshape")), None)
    for cmd, r in res.items():
        n = ansible_n if cmd.startswith("ansible") else 1000
        per = r["mean"] / n
        rel = f"{per/base:,.1f}x" if base else "n/a"
        lines.append(f"| {label} | {cmd.split(',')[0]} | {fmt(r['mean'], r['stddev'] or 0)} | "
                     f"{per*1e3:,.2f} ms | {rel} |")
res = load("drift-shipshape", "drift-aide")
base = next((r["mean"] for c, r in res.items() if c.startswith("shipshape drift, warm")), None)
for cmd, r in res.items():
    rel = f"{r['mean']/base:,.1f}x (vs warm)" if base else "n/a"
    lines.append(f"| drift, 100,000 files | {cmd} | {fmt(r['mean'], r['stddev'] or 0)} | "
                 f"{r['mean']/1e5*1e6:,.1f} µs | {rel} |")
open(f"{out}/state-summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
