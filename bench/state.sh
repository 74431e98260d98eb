#!/usr/bin/env bash
# Desired-state benchmark, called by bench/run.sh: BIN OUT_DIR.
#   1. converge: 1,000 files (distinct small contents, mode 0640) in a fresh directory, applied by
#      `shipshape apply`, `puppet apply`, `cf-agent` (standalone policy) and `ansible-playbook`
#      (connection local, pipelining on); first run (no target) and no-change run (target
#      already converged). Each tool's result is checked file by file after its runs,
#      so that a broken manifest cannot look fast. Ansible takes 0.5-1 s per file here (a stat
#      and a copy or file module per item), so it gets the first 50 of the 1,000 files, and the
#      summary compares per file. Next to them the floor: a Python loop that writes and fchmods
#      the same 1,000 files (no fsync), i.e. what the file system itself costs. shipshape's first
#      run is also measured with --sync fsync (one fsync per file) and --sync none next to the
#      default batch (one syncfs). Then the same converge on tmpfs (/dev/shm) for shipshape, the
#      floor and cf-agent, which takes the (slow, noisy) virtual disk out of the picture. Every
#      first run starts with the previous target moved aside and a sync (hyperfine --prepare,
#      not timed; why not deleted: see aside below).
#   2. drift of a 100,000-file tree (1,000 dirs x 100 files, 100 B-4 KiB): `shipshape drift`
#      with its hash cache removed (cold) and kept (warm), against `aide --check` (sha256, size,
#      type, permissions, owner, group; AIDE keeps no cache and hashes every file on every run).
#      Both then have to report one modified file.
# Standalone: bash bench/state.sh [BIN [OUT_DIR]]  (defaults: the release build, bench/results).
# STATE_BENCH_NO_SHIPSHAPE=1 runs the competitors only (while shipshape's side is being written).
# Everything is made under /tmp/shipshape-bench-state (about 1 GB with the two trees) and
# /dev/shm/shipshape-bench-state (the tmpfs targets, moved aside run after run: up to ~300 MB
# of RAM), removed at the end unless STATE_BENCH_KEEP=1. Each group waits for an idle machine
# first (STATE_BENCH_IDLE_WAIT seconds at most, default 900; see wait_idle).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/build/release/src/cli/shipshape}"
out="${2:-$root/bench/results}"
mkdir -p "$out"
w=/tmp/shipshape-bench-state
shm=/dev/shm/shipshape-bench-state
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

# The floor runs under the real interpreter: through a pyenv shim it would also time pyenv.
py=$(python3 -c 'import sys; print(sys.executable)')

rm -rf "$w" "$shm"
sync
deleted_at=$SECONDS
mkdir -p "$w/trash" "$shm/trash"
[[ ${STATE_BENCH_KEEP:-0} == 1 ]] || trap 'rm -rf "$w" "$shm"' EXIT

echo "== state bench: writing the desired state for each tool and a 100,000-file tree"
python3 - "$w" "$shm" <<'PY'
import json, os, random, sys
w, shm = sys.argv[1], sys.argv[2]
N = 1000
ANSIBLE_N = 50

def content(i):
    return (f"file {i}\nname = f{i:04d}.conf\nindex = {i}\n"
            f"token = {i * 2654435761 % 2**32:08x}\n")

def target(tool, base=w):
    return f"{base}/target-{tool}"

files = [(f"f{i:04d}.conf", content(i)) for i in range(1, N + 1)]
# What every tool must leave behind; read by the check after each tool's runs.
json.dump({"count": N, "mode": "0640", "files": dict(files)}, open(f"{w}/expected.json", "w"))

# shipshape: an ops repo with two state files.
ops = f"{w}/ops"
os.makedirs(f"{ops}/states")
open(f"{ops}/shipshape.toml", "w").write('name = "bench"\n')
for state, base in (("files", w), ("files-shm", shm)):
    with open(f"{ops}/states/{state}.toml", "w") as f:
        for name, text in files:
            f.write(f'[[file]]\npath = "{target("shipshape", base)}/{name}"\n'
                    f'content = {json.dumps(text)}\nmode = "0640"\n\n')
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
for policy, base in (("policy", w), ("policy-shm", shm)):
    d = target("cfengine", base)
    with open(f"{w}/cfengine/{policy}.cf", "w") as f:
        f.write('body common control\n{\n  bundlesequence => { "main" };\n}\n\n'
                'body perms m0640\n{\n  mode => "0640";\n  rxdirs => "false";\n}\n\n'
                'bundle agent main\n{\n  files:\n'
                f'    "{d}/."\n      create => "true";\n\n')
        for name, text in files:
            assert '"' not in text and "$" not in text and "@" not in text
            # A quoted CFEngine string may span lines: the newlines are part of the content.
            f.write(f'    "{d}/{name}"\n      create => "true",\n'
                    f'      content => "{text}",\n      perms => m0640;\n\n')
        f.write("}\n")
    os.chmod(f"{w}/cfengine/{policy}.cf", 0o600)

# The floor: what the file system costs for the same result, in one process and no fsync.
# Converges like the tools: a file already there with its content and mode is only read; any
# other is written with open(O_CREAT|O_TRUNC) and fchmod (in place, no temporary + rename).
with open(f"{w}/floor.py", "w") as f:
    f.write(f"""import os, sys
d = sys.argv[1]
FILES = {[(n, t.encode()) for n, t in files]!r}
os.makedirs(d, exist_ok=True)
for name, data in FILES:
    p = d + "/" + name
    try:
        st = os.lstat(p)
        if (st.st_mode & 0o170000 == 0o100000 and st.st_mode & 0o7777 == 0o640
                and st.st_size == len(data)):
            with open(p, "rb") as g:
                if g.read() == data:
                    continue
    except FileNotFoundError:
        pass
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
    os.write(fd, data)
    os.fchmod(fd, 0o640)
    os.close(fd)
""")

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
# The two trees are ~400 MB of dirty pages: flushed now, not by whichever timed run comes first
# (shipshape's syncfs flushes the whole file system; the kernel's writeback would slow the rest).
sync

# This VM's root file system is ext4 without a journal. There, ext4 does not reuse an inode
# deleted less than 60 s ago (300 s while its inode table block is not written back): every
# create walks the inode bitmap past all such inodes one by one (find_inode_bit ->
# recently_deleted), so 1,000 creates right after deleting 1,000 files cost 0.2-0.5 ms each
# instead of ~0.05 ms, and more with every repetition. A first run therefore never starts right
# after a deletion: the previous target is moved aside into trash/ (a rename, no inode freed)
# and everything is deleted at the end. aside DIR: that move.
aside() {
  if [[ -e $1 ]]; then mv "$1" "$(mktemp -d -p "$(dirname "$1")/trash")/"; fi
}
aside_cmd() {  # the same as a command for hyperfine's --prepare, followed by a sync
  echo "sh -c 'if [ -e $1 ]; then mv $1 \"\$(mktemp -d -p $(dirname "$1")/trash)/\"; fi; ${2:+rm -rf $2; }sync'"
}
# shipshape's hash cache (content hashes by device, inode and change time): a real first run
# has none for its files, and an entry is not dropped when its file is deleted, so with a new
# inode every run the cache would grow by 1,000 entries a run, and apply reads and rewrites all
# of it (1,000 files on tmpfs: 62 ms with no cache, 249 ms with 220,000 entries). Every
# shipshape first run starts without it; each no-change group starts with it rebuilt by one run.
cache="$w/ops/.shipshape/cache"

# Checks that a tool left exactly the 1,000 expected files, each with its content and mode.
# check_files DIR LABEL [COUNT]: the first COUNT files (default all) and nothing else.
check_files() {
  python3 - "$w" "$1" "$2" "${3:-0}" <<'PY'
import json, os, stat, sys
w, d, tool, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
exp = json.load(open(f"{w}/expected.json"))
if count:
    exp["count"] = count
    exp["files"] = dict(sorted(exp["files"].items())[:count])
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
print(f"check: {tool}: {exp['count']} files in {d} with the expected content and mode {exp['mode']}")
PY
}

# Ansible's own speed-up for many module runs; facts are not gathered (see the playbook).
export ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_NOCOLOR=1 ANSIBLE_PIPELINING=1
ansible_n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["bench_files"]))' \
  "$w/ansible/files.json")

# wait_idle: on a shared 2-core VM a compiler or test run on the other core doubles the fast
# numbers. Before each group, wait until the CPUs have been at least 90% idle over 3 s (at most
# STATE_BENCH_IDLE_WAIT seconds, default 900; then go on and say so in busy.txt and the summary).
wait_idle() {
  local waited=0
  while ! python3 - <<'PY'
import sys, time
def sample():
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return f[3] + f[4], sum(f)
i0, t0 = sample(); time.sleep(3); i1, t1 = sample()
sys.exit(0 if (i1 - i0) >= 0.9 * (t1 - t0) else 1)
PY
  do
    ((waited == 0)) && echo "state bench: the machine is busy, waiting for it to be idle" >&2
    waited=$((waited + 3))
    if ((waited >= ${STATE_BENCH_IDLE_WAIT:-900})); then
      echo "state bench: still busy after ${waited} s, measuring $1 anyway" >&2
      echo "$1" >>"$w/busy.txt"
      return 0
    fi
  done
}

# bench LABEL ROUNDS RUNS WARMUP first|nochange NAME CMD DIR [NAME CMD DIR]...
# hyperfine on the given commands (DIR: the target directory the command converges), then the
# file check of each command. In first-run mode each command's --prepare moves its DIR aside
# (see aside above) and syncs, so that every run starts on a quiet disk (no writeback of the
# previous run's files, which would land in the next run's time and, for shipshape's default
# mode, in its syncfs); each hyperfine call starts with a sync too. hyperfine runs all runs of
# one command, then all of the next: on this VM's virtual disk, whose speed drifts within
# minutes, that order alone can decide who wins. With ROUNDS > 1 the group
# is run as ROUNDS hyperfine calls of RUNS runs each, the order of the commands rotated by one
# every round, and the rounds are merged (times concatenated) into one result per command.
bench() {
  local label="$1" rounds="$2" runs="$3" warmup="$4" mode="$5"
  shift 5
  local names=() cmds=() dirs=()
  while (($#)); do
    names+=("$1") cmds+=("$2") dirs+=("$3")
    shift 3
  done
  local n=${#cmds[@]} r k i j shared count args
  for ((r = 0; r < rounds; r++)); do
    args=(-N --runs "$runs" --warmup "$warmup" --export-json "$w/$label-round$r.json")
    for ((k = 0; k < n; k++)); do
      i=$(((k + r) % n))
      if [[ $mode == first && ${cmds[i]} == "$bin "* ]]; then
        args+=(--prepare "$(aside_cmd "${dirs[i]}" "$cache")")
      elif [[ $mode == first ]]; then
        args+=(--prepare "$(aside_cmd "${dirs[i]}")")
      fi
      args+=(-n "${names[i]}, ${mode/nochange/no change}" "${cmds[i]}")
    done
    ((rounds == 1)) || echo "-- $label: round $((r + 1)) of $rounds"
    sync
    wait_idle "$label"
    hyperfine "${args[@]}"
  done
  python3 - "$out/state-$label" "$rounds" "$w/$label-round" "${names[@]}" <<'PY'
import json, statistics, sys
dest, rounds, prefix, names = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
merged = {}
for r in range(rounds):
    for res in json.load(open(f"{prefix}{r}.json"))["results"]:
        m = merged.setdefault(res["command"], {"command": res["command"], "times": [],
                                               "exit_codes": [], "user": [], "system": []})
        m["times"] += res["times"]
        m["exit_codes"] += res["exit_codes"]
        m["user"].append((res["user"], len(res["times"])))
        m["system"].append((res["system"], len(res["times"])))
results = []
for name in names:  # in the order given, whatever the order of the rounds
    m = next(v for c, v in merged.items() if c.rsplit(", ", 1)[0] == name)
    t = m["times"]
    for key in ("user", "system"):
        m[key] = sum(v * k for v, k in m[key]) / len(t)
    m.update(mean=statistics.fmean(t), stddev=statistics.stdev(t) if len(t) > 1 else None,
             median=statistics.median(t), min=min(t), max=max(t))
    results.append(m)
json.dump({"results": results, "rounds": rounds}, open(f"{dest}.json", "w"), indent=2)
with open(f"{dest}.md", "w") as f:
    f.write("| Command | Mean [ms] | Min [ms] | Max [ms] | Median [ms] | Runs |\n"
            "|:---|---:|---:|---:|---:|---:|\n")
    for m in results:
        sd = f" ± {m['stddev']*1e3:.1f}" if m["stddev"] is not None else ""
        f.write(f"| `{m['command']}` | {m['mean']*1e3:.1f}{sd} | {m['min']*1e3:.1f} | "
                f"{m['max']*1e3:.1f} | {m['median']*1e3:.1f} | {len(m['times'])} |\n")
    if rounds > 1:
        f.write(f"\n{rounds} rounds, the order of the commands rotated every round.\n")
PY
  # The files on disk are the last run's for each DIR: a command sharing its DIR with another
  # (shipshape's sync modes) is run once more on its own (from scratch in first-run mode).
  for ((i = 0; i < n; i++)); do
    shared=0
    for ((j = 0; j < n; j++)); do ((j != i)) && [[ ${dirs[j]} == "${dirs[i]}" ]] && shared=1; done
    if ((shared)); then
      [[ $mode == first ]] && aside "${dirs[i]}" && rm -rf "$cache" && sync
      eval "${cmds[i]}" >"$w/recheck.log" 2>&1 || {
        echo "state bench: ${names[i]} failed when run again for its check:" >&2
        cat "$w/recheck.log" >&2
        exit 1
      }
    fi
    count=0
    [[ ${dirs[i]} == */target-ansible ]] && count=$ansible_n
    check_files "${dirs[i]}" "${names[i]}" "$count"
  done
}

floor_first="floor: python3, write + fchmod each file"
floor_nochange="floor: python3, read + compare each file"
ship_apply="$bin -C $w/ops apply --state states/files.toml"
# shipshape first run with each durability mode; --sync batch (one syncfs) is the default.
first_fast=()
nochange_fast=()
if ((ours)); then
  first_fast+=("shipshape apply" "$ship_apply" "$w/target-shipshape"
               "shipshape apply --sync fsync" "$ship_apply --sync fsync" "$w/target-shipshape"
               "shipshape apply --sync none" "$ship_apply --sync none" "$w/target-shipshape")
  nochange_fast+=("shipshape apply" "$ship_apply" "$w/target-shipshape")
fi
first_fast+=("$floor_first" "$py -S $w/floor.py $w/target-floor" "$w/target-floor"
             "cf-agent" "cf-agent -K -f $w/cfengine/policy.cf" "$w/target-cfengine")
nochange_fast+=("$floor_nochange" "$py -S $w/floor.py $w/target-floor" "$w/target-floor"
                "cf-agent" "cf-agent -K -f $w/cfengine/policy.cf" "$w/target-cfengine")
puppet=("puppet apply" "puppet apply $w/puppet/files.pp" "$w/target-puppet")
ansible=("ansible-playbook ($ansible_n files)"
         "ansible-playbook -c local -i localhost, $w/ansible/files.yml" "$w/target-ansible")
# tmpfs: the same state with the targets under /dev/shm.
ship_shm=()
if ((ours)); then
  ship_shm=("shipshape apply (tmpfs)" "$bin -C $w/ops apply --state states/files-shm.toml"
            "$shm/target-shipshape")
fi
floor_shm=("$py -S $w/floor.py $shm/target-floor" "$shm/target-floor")
cf_shm=("cf-agent (tmpfs)" "cf-agent -K -f $w/cfengine/policy-shm.cf" "$shm/target-cfengine")
first_shm=("${ship_shm[@]}" "$floor_first (tmpfs)" "${floor_shm[@]}" "${cf_shm[@]}")
nochange_shm=("${ship_shm[@]}" "$floor_nochange (tmpfs)" "${floor_shm[@]}" "${cf_shm[@]}")

echo "== process start: the floor's interpreter and shipshape, doing nothing"
wait_idle startup
startup=(-n "python3 -S -c pass (the floor's start)" "$py -S -c pass")
((ours)) && startup+=(-n "shipshape --version" "$bin --version")
hyperfine -N --warmup 3 --runs 30 --export-json "$out/state-startup.json" \
  --export-markdown "$out/state-startup.md" "${startup[@]}"

# The work directories of a previous run were deleted at the start (synced): wait until ext4
# reuses their inodes (see aside above).
((SECONDS - deleted_at >= 65)) || sleep $((65 - (SECONDS - deleted_at)))
# Order: the fast commands first (shipshape, the floor, cf-agent: ext4, then tmpfs, then
# shipshape drift), puppet, ansible and aide after them. The fast ones are the comparisons a
# few ms decide, and on a 2-core VM they are the first to suffer from anything else running;
# together they take about 3.5 minutes from the start.
echo "== converge 1,000 files: first run (previous target moved aside before each run), no change"
bench converge-first-fast 5 2 0 first "${first_fast[@]}"
# The no-change groups run right after their first-run groups, which left the targets converged.
# nochange_ready STATE: the hash cache rebuilt by one apply, which must change nothing.
nochange_ready() {
  ((ours)) || return 0
  rm -rf "$cache"
  "$bin" -C "$w/ops" apply --state "$1" >"$w/nochange.log" 2>&1
  grep -q "no changes" "$w/nochange.log" || {
    echo "state bench: shipshape apply on a converged target did not say 'no changes':" >&2
    cat "$w/nochange.log" >&2
    exit 1
  }
}
nochange_ready states/files.toml
bench converge-nochange-fast 1 10 1 nochange "${nochange_fast[@]}"
echo "== converge 1,000 files on tmpfs (/dev/shm): first run, then no change"
bench converge-first-tmpfs 1 20 2 first "${first_shm[@]}"
nochange_ready states/files-shm.toml
bench converge-nochange-tmpfs 1 20 2 nochange "${nochange_shm[@]}"

echo "== drift of a 100,000-file tree (no drift: every command must exit 0)"
ship_drift="$bin -C $w/ops drift --state states/tree.toml"
if ((ours)); then
  sync
  # The warmup run reads the tree into the page cache: cold means no hash cache, not cold pages.
  wait_idle drift-shipshape
  hyperfine -N --warmup 1 --runs 5 \
    --export-json "$out/state-drift-shipshape.json" --export-markdown "$out/state-drift-shipshape.md" \
    --prepare "rm -rf $cache" -n "shipshape drift, cold (no hash cache)" "$ship_drift" \
    --prepare "true" -n "shipshape drift, warm (hash cache kept)" "$ship_drift"
fi

echo "== converge 1,000 files with puppet and ansible: first run, then no change"
bench converge-first-puppet 1 3 0 first "${puppet[@]}"
bench converge-nochange-puppet 1 3 1 nochange "${puppet[@]}"
bench converge-first-ansible 1 2 0 first "${ansible[@]}"
# Converged by the first-run bench and checked: a warmup run would only cost another minute.
bench converge-nochange-ansible 1 2 0 nochange "${ansible[@]}"

echo "== drift of a 100,000-file tree with aide (no drift: must exit 0)"
sync
aide --init -c "$w/aide/aide.conf" >"$w/aide/init.log"
mv "$w/aide/aide.db.new" "$w/aide/aide.db"
aide_cmd="aide --check -c $w/aide/aide.conf"
# The tree was just read by aide --init: its pages are as warm as for shipshape, so no warmup.
wait_idle drift-aide
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

python3 - "$out" "$ansible_n" "$w/busy.txt" <<'PY'
import json, os, sys
out, ansible_n, busy = sys.argv[1], int(sys.argv[2]), sys.argv[3]
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
# Per-file times: ansible converges ansible_n files, every other command 1,000. "x shipshape":
# this command's time per file / shipshape apply's (default --sync batch) in the same scenario
# and on the same file system. "beyond the floor": time per file minus the floor's.
lines = ["| scenario | command | mean ± σ | per file | × shipshape | beyond the floor, per file |",
         "|---|---|---|---|---|---|"]
scenarios = (
    ("first", "converge, first run", ("fast", "puppet", "ansible")),
    ("nochange", "converge, no change", ("fast", "puppet", "ansible")),
    ("first", "converge on tmpfs, first run", ("tmpfs",)),
    ("nochange", "converge on tmpfs, no change", ("tmpfs",)),
)
for scen, label, groups in scenarios:
    res = load(*(f"converge-{scen}-{g}" for g in groups))
    per = {c: r["mean"] / (ansible_n if c.startswith("ansible") else 1000) for c, r in res.items()}
    base = next((p for c, p in per.items() if c.startswith("shipshape apply,")
                 or c.startswith("shipshape apply (tmpfs),")), None)
    floor = next((p for c, p in per.items() if c.startswith("floor")), None)
    for cmd, r in res.items():
        rel = f"{per[cmd]/base:,.2f}×" if base else "n/a"
        beyond = ("—" if cmd.startswith("floor") or floor is None
                  else f"{(per[cmd] - floor)*1e3:,.3f} ms")
        lines.append(f"| {label} | {cmd.rsplit(', ', 1)[0]} | {fmt(r['mean'], r['stddev'] or 0)} | "
                     f"{per[cmd]*1e3:,.3f} ms | {rel} | {beyond} |")
res = load("startup")
if res:
    lines += ["", "| process start (included in every time above) | mean ± σ |", "|---|---|"]
    lines += [f"| {c} | {fmt(r['mean'], r['stddev'] or 0)} |" for c, r in res.items()]
lines += ["", "| scenario | command | mean ± σ | per file | × shipshape warm | × shipshape cold |",
          "|---|---|---|---|---|---|"]
res = load("drift-shipshape", "drift-aide")
warm = next((r["mean"] for c, r in res.items() if c.startswith("shipshape drift, warm")), None)
cold = next((r["mean"] for c, r in res.items() if c.startswith("shipshape drift, cold")), None)
for cmd, r in res.items():
    rw = f"{r['mean']/warm:,.1f}×" if warm else "n/a"
    rc = f"{r['mean']/cold:,.1f}×" if cold else "n/a"
    lines.append(f"| drift, 100,000 files | {cmd} | {fmt(r['mean'], r['stddev'] or 0)} | "
                 f"{r['mean']/1e5*1e6:,.1f} µs | {rw} | {rc} |")
if os.path.exists(busy):
    lines += ["", "Started on a busy machine (other processes using the CPUs): "
              + ", ".join(open(busy).read().split()) + "."]
open(f"{out}/state-summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
