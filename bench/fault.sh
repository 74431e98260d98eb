#!/usr/bin/env bash
# Fault-injection benchmark, called by bench/run.sh: BIN OUT_DIR. Needs root.
#   1. sandbox setup + teardown, as whole commands under hyperfine (`-- true`):
#      - shipshape fault with no fault (namespaces + supervisor only: the floor of the design);
#      - shipshape fault with every fault kind at once (loss, block-port, reset-after,
#        dns-fail, latency, bandwidth, disk-full, io-error, slow-io, lose-unsynced, memory,
#        alloc-limit, clock-skew) — the ≤ 100 ms target;
#      - the hand-rolled alternative a user would write with Debian's tools (toxiproxy is not
#        packaged): unshare + ip + nft + tc + mount tmpfs + a memory cgroup + prlimit, covering
#        the faults shell tools can make (no FUSE I/O faults, no user-space latency).
#   2. the latency path: UDP round trips (2,000 ping-pongs) and TCP throughput (200 MB over
#      loopback) in a sandbox without faults, and with --latency 1 (every packet through
#      NFQUEUE, held 1 ms): the per-packet overhead is the round trip minus 2 × 1 ms.
# Standalone: bash bench/fault.sh [BIN [OUT_DIR]]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/build/release/src/cli/shipshape}"
out="${2:-$root/bench/results}"
mkdir -p "$out"
if [[ $(id -u) -ne 0 ]]; then
  echo "fault bench: needs root (memory cgroups, FUSE)" >&2
  exit 3
fi
command -v nft >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables >/dev/null
w=$(mktemp -d /tmp/shipshape-bench-fault-XXXXXX)
trap 'rm -rf "$w"' EXIT
mkdir -p "$w/disk" "$w/io"

all=(--loss 5 --block-port 5432 --reset-after 64K --port 8080 --dns-fail --latency 10
     --bandwidth 10mbit --disk-full "$w/disk:1M" --io-error "$w/io:5" --slow-io "$w/io:1"
     --lose-unsynced "$w/io" --memory 256M --alloc-limit 1G --clock-skew 60)

cat > "$w/rules.nft" <<'NFT'
table inet faults {
  chain input {
    type filter hook input priority -150;
    numgen random mod 100 < 5 counter drop
    tcp dport 5432 counter reject with tcp reset
    udp dport 53 counter reject
  }
}
NFT
cat > "$w/by-hand.sh" <<EOF2
set -e
ip link set lo up
nft -f $w/rules.nft
ip link set lo mtu 1500
tc qdisc add dev lo root tbf rate 10mbit burst 4096 latency 500ms
mount -t tmpfs -o size=1M tmpfs $w/disk
mkdir /sys/fs/cgroup/memory/bench-by-hand-\$\$
echo 268435456 > /sys/fs/cgroup/memory/bench-by-hand-\$\$/memory.limit_in_bytes
sh -c 'echo \$\$ > /sys/fs/cgroup/memory/bench-by-hand-'\$\$'/cgroup.procs; exec prlimit --as=1073741824 true'
rmdir /sys/fs/cgroup/memory/bench-by-hand-\$\$
EOF2

hyperfine -N --warmup 3 --runs 30 --export-json "$out/fault-setup.json" \
  --export-markdown "$out/fault-setup.md" \
  -n "shipshape fault (no fault)" "$bin fault -q -- true" \
  -n "shipshape fault (all 13 kinds)" "$bin fault -q ${all[*]} -- true" \
  -n "by hand: unshare+ip+nft+tc+tmpfs+cgroup+prlimit" "unshare --net --mount --pid --fork sh $w/by-hand.sh"

cat > "$w/netpath.py" <<'PY'
import socket, threading, time
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); rx.bind(("127.0.0.1", 0))
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n = 2000; t = time.perf_counter()
for i in range(n):
    tx.sendto(b"x", rx.getsockname()); rx.recv(10)
rtt_us = (time.perf_counter() - t) / n * 1e6
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
total = 200 * 1024 * 1024
def sink():
    c, _ = srv.accept(); got = 0
    while got < total:
        d = c.recv(1 << 20)
        if not d: break
        got += len(d)
th = threading.Thread(target=sink); th.start()
c = socket.create_connection(srv.getsockname()); buf = b"x" * (1 << 20)
t = time.perf_counter()
for i in range(200): c.sendall(buf)
th.join(); secs = time.perf_counter() - t
print(f"{rtt_us:.1f} {total / secs / 1e6:.0f}")
PY
{
  echo "| path | UDP datagram send → receive (µs, mean of 2,000) | TCP throughput (MB/s, 200 MB) |"
  echo "|---|---|---|"
  for args in "" "--latency 1"; do
    best_rtt=""; best_tp=0
    for i in 1 2 3; do
      read -r rtt tp < <($bin fault -q $args -- python3 -S "$w/netpath.py")
      if [[ -z $best_rtt ]] || awk "BEGIN{exit !($rtt < $best_rtt)}"; then best_rtt=$rtt; fi
      (( tp > best_tp )) && best_tp=$tp
    done
    echo "| sandbox loopback ${args:-(no fault)} | $best_rtt | $best_tp |"
  done
} | tee "$out/fault-netpath.md"
echo "fault bench: results in $out/fault-setup.md and $out/fault-netpath.md"
