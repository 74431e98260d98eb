#!/usr/bin/env bash
# Fleet benchmark, called by bench/run.sh: BIN OUT_DIR [SIZES]. Needs root (it makes a test
# fleet: network namespaces running Debian's sshd, tests/e2e/fleet.py).
# For each fleet size (default "10 50"), side by side in one hyperfine run each, every command
# run from the fleet's controller namespace with warm ssh master connections:
#   1. a trivial command on every host:
#      - the floor: raw `ssh` to every host in parallel over its ControlMaster connection;
#      - shipshape exec (agent already on the hosts);
#      - ansible -m command with its defaults (forks 5), and with forks = N and pipelining;
#   2. facts of every host: shipshape facts --json vs ansible -m setup (forks = N, pipelining);
#   3. a 100-file state on every host, from scratch each run (the files are removed between
#      runs): shipshape apply vs an Ansible playbook (copy in a loop; forks = N, pipelining).
# Standalone: bash bench/fleet.sh [BIN [OUT_DIR [SIZES]]]
# SHIPSHAPE_ONLY=1 leaves Ansible out (minutes per size): a quick regression check of shipshape
# against the raw ssh floor.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$(readlink -f "${1:-$root/build/bench/src/cli/shipshape}")"
out="${2:-$root/bench/results}"
sizes="${3:-10 50}"
mkdir -p "$out"
if [[ $(id -u) -ne 0 ]]; then
  echo "fleet bench: needs root (network namespaces, sshd)" >&2
  exit 3
fi
only="${SHIPSHAPE_ONLY:-}"
tools="hyperfine sshd"
[[ -n $only ]] || tools+=" ansible"
for tool in $tools; do
  command -v "$tool" >/dev/null || [[ -x /usr/sbin/$tool ]] || {
    echo "fleet bench: $tool missing (scripts/install-deps.sh bench)" >&2
    exit 3
  }
done

w=$(mktemp -d /tmp/shipshape-bench-fleet-XXXXXX)
cleanup() {
  for d in "$w"/fleet-*; do
    [[ -f $d/fleet.json ]] && python3 "$root/tests/e2e/fleet.py" down "$d" >/dev/null 2>&1 || true
  done
  rm -rf "$w"
}
trap cleanup EXIT

for n in $sizes; do
  echo "== fleet of $n hosts"
  fd="$w/fleet-$n"
  mkdir -p "$fd"
  python3 "$root/tests/e2e/fleet.py" up "$n" "$fd" >/dev/null
  ops="$w/ops-$n"
  mkdir -p "$ops/states"
  printf 'name = "bench"\n' > "$ops/shipshape.toml"
  python3 - "$root" "$fd" "$ops" "$n" <<'PY'
import json, sys
root, fd, ops, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.path.insert(0, root + "/tests/e2e")
from fleet import Fleet
f = Fleet.from_description(json.load(open(fd + "/fleet.json")))
open(ops + "/inventory.toml", "w").write(f.inventory_toml(env="prod"))
with open(ops + "/states/files.toml", "w") as s:
    for i in range(100):
        s.write(f'[[file]]\npath = "/srv/bench/shipshape/f{i:03d}.conf"\n'
                f'content = "setting_{i} = {i * 7}\\n"\nmode = "0640"\n\n')
with open(fd + "/hosts.ini", "w") as inv:
    inv.write("[fleet]\n")
    for h in f.hosts:
        inv.write(f"{h['name']} ansible_host={h['address']}\n")
    inv.write("[fleet:vars]\nansible_user=root\nansible_python_interpreter=/usr/bin/python3\n"
              f"ansible_ssh_common_args='-F {f.ssh_config}'\n")
with open(fd + "/addresses", "w") as a:
    a.write(" ".join(h["address"] for h in f.hosts) + "\n")
with open(fd + "/ctl", "w") as c:
    c.write(f.ctl_netns + "\n")
with open(ops + "/files.yml", "w") as p:
    p.write("- hosts: fleet\n  gather_facts: false\n  tasks:\n"
            "    - name: directory\n      file: {path: /srv/bench/ansible, state: directory}\n"
            "    - name: 100 files\n      copy:\n"
            "        dest: \"/srv/bench/ansible/f{{ '%03d' | format(item) }}.conf\"\n"
            "        content: \"setting_{{ item }} = {{ item * 7 }}\\n\"\n"
            "        mode: \"0640\"\n"
            "      loop: \"{{ range(100) | list }}\"\n")
PY
  ctl=$(cat "$fd/ctl")
  cfg="$fd/ssh_config"
  addrs=$(cat "$fd/addresses")
  raw="for h in $addrs; do ssh -F $cfg -o ControlMaster=auto -o ControlPersist=600 -o ControlPath=$fd/cm-%C \$h true & done; wait"
  export ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3
  export ANSIBLE_LOCALHOST_WARNING=False ANSIBLE_INVENTORY_UNPARSED_WARNING=False
  in_ns() { ip netns exec "$ctl" "$@"; }
  # Warm up: agent copied, master connections up (shipshape's, raw ssh's, Ansible's).
  (cd "$ops" && in_ns "$bin" exec env:prod -- true >/dev/null)
  (cd "$ops" && in_ns "$bin" facts env:prod --only os >/dev/null)  # copies the agent
  in_ns bash -c "$raw"
  [[ -n $only ]] || in_ns ansible fleet -i "$fd/hosts.ini" -m command -a true -f "$n" >/dev/null

  in_ns hyperfine -N --warmup 2 --runs 10 --export-json "$out/fleet-$n-command.json" \
    --export-markdown "$out/fleet-$n-command.md" \
    -n "floor: raw ssh ×$n in parallel (multiplexed)" "bash -c '$raw'" \
    -n "shipshape exec env:prod -- true" "$bin -C $ops exec env:prod -- true"
  [[ -n $only ]] || in_ns hyperfine -N --warmup 1 --runs 3 --export-json "$out/fleet-$n-ansible-command.json" \
    --export-markdown "$out/fleet-$n-ansible-command.md" \
    -n "ansible -m command (defaults: forks 5)" \
    "ansible fleet -i $fd/hosts.ini -m command -a true" \
    -n "ansible -m command (forks $n, pipelining)" \
    "env ANSIBLE_PIPELINING=1 ansible fleet -i $fd/hosts.ini -m command -a true -f $n"

  in_ns hyperfine -N --warmup 1 --runs 10 --export-json "$out/fleet-$n-facts.json" \
    --export-markdown "$out/fleet-$n-facts.md" \
    -n "shipshape facts env:prod --json" "$bin -C $ops --json facts env:prod"
  # Ansible is slow enough that a couple of runs say it (its spread is in the JSON).
  [[ -n $only ]] || in_ns hyperfine -N --runs 2 --export-json "$out/fleet-$n-ansible-facts.json" \
    --export-markdown "$out/fleet-$n-ansible-facts.md" \
    -n "ansible -m setup (forks $n, pipelining)" \
    "env ANSIBLE_PIPELINING=1 ansible fleet -i $fd/hosts.ini -m setup -f $n"

  in_ns hyperfine -N --runs 5 --export-json "$out/fleet-$n-apply.json" \
    --export-markdown "$out/fleet-$n-apply.md" \
    --prepare "$bin -C $ops exec env:prod -- rm -rf /srv/bench" \
    -n "shipshape apply (100 files, from scratch)" \
    "$bin -C $ops apply env:prod --state states/files.toml"
  in_ns hyperfine -N --warmup 1 --runs 10 --export-json "$out/fleet-$n-apply-nochange.json" \
    --export-markdown "$out/fleet-$n-apply-nochange.md" \
    -n "shipshape apply (100 files, no change)" \
    "$bin -C $ops apply env:prod --state states/files.toml"
  # One run: 100 copy items per host take Ansible minutes (a module round trip per file).
  [[ -n $only ]] || in_ns hyperfine -N --runs 1 --export-json "$out/fleet-$n-ansible-apply.json" \
    --export-markdown "$out/fleet-$n-ansible-apply.md" \
    --prepare "$bin -C $ops exec env:prod -- rm -rf /srv/bench" \
    -n "ansible-playbook (100 files, from scratch; forks $n, pipelining)" \
    "env ANSIBLE_PIPELINING=1 ansible-playbook -i $fd/hosts.ini -f $n $ops/files.yml"
  python3 "$root/tests/e2e/fleet.py" down "$fd" >/dev/null
done
