#!/usr/bin/env bash
# Pull reports at 10,000 hosts (#20), called standalone: bash bench/pull.sh [BIN [OUT_DIR]].
#   1. starts a private PostgreSQL (scripts/team-postgres.sh, fsync on) and `shipshape serve` on
#      127.0.0.1 over it; makes PULL_BENCH_HOSTS (default 10,000) users with the role host and a
#      token each through app::UserService (bench_pull seed; the seeding session only commits
#      without waiting for the WAL flush);
#   2. (a) closed loop: PULL_BENCH_SENDERS (default "8 32 128") senders post reports as fast as
#      they are answered, PULL_BENCH_CLOSED_S (default 15) s each: reports/s, p50, p99;
#   3. (b) open loop at 10,000 hosts every 5 min (33.3/s) and every 15 min (11.1/s),
#      PULL_BENCH_OPEN_S (default 60) s each: p50, p99, max from the time each report was due;
#   4. (c) the database's size before and after (b) at 33.3/s: growth per report and per day;
#   5. (d) open loop at rising rates (PULL_BENCH_RATES, default "50 100 200 400 800") for
#      PULL_BENCH_STEP_S (default 15) s each until p99 passes 100 ms or errors appear, with the
#      CPU time serve and postgres used in each step and the busiest pg_stat_activity states;
#   6. on a SQLite store (PULL_BENCH_SQLITE=0: not): (a) at 32 senders, 33.3/s for
#      PULL_BENCH_SQLITE_OPEN_S (default 30) s, then 100, 200, 400/s.
# Reports: a real facts document of this machine (`shipshape --json facts`), a drift summary,
# an apply result; a new run id each, the commit moves every 500, about 1 in 50 changes facts.
# Results: OUT_DIR/pull.txt. Only 127.0.0.1 is contacted. Run it under buildlock (2 cores).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$(realpath "${1:-$root/build/bench/src/cli/shipshape}")"
out="${2:-$root/bench/results}"
tool="$(dirname "$(dirname "$(dirname "$bin")")")/bench/bench_pull"
hosts="${PULL_BENCH_HOSTS:-10000}"
senders="${PULL_BENCH_SENDERS:-8 32 128}"
closed_s="${PULL_BENCH_CLOSED_S:-15}"
open_s="${PULL_BENCH_OPEN_S:-60}"
rates="${PULL_BENCH_RATES:-50 100 200 400 800}"
step_s="${PULL_BENCH_STEP_S:-15}"
sqlite_hosts="${PULL_BENCH_SQLITE_HOSTS:-$hosts}"
sqlite_open_s="${PULL_BENCH_SQLITE_OPEN_S:-30}"
[[ -x $tool ]] || { echo "pull.sh: no $tool (build the target bench_pull)" >&2; exit 2; }
mkdir -p "$out"
out="$(cd "$out" && pwd)"
pgbin="$(pg_config --bindir 2>/dev/null || ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"

work="$(mktemp -d /tmp/shipshape-bench-pull-XXXXXX)"
chmod 755 "$work"
server_pid=""
cleanup() {
  [[ -z $server_pid ]] || kill "$server_pid" 2>/dev/null || true
  bash "$root/scripts/team-postgres.sh" stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
log() { printf '%s\n' "$*" | tee -a "$out/pull.txt"; }

mkdir -p "$work/repo"
printf 'name = "bench"\n' >"$work/repo/shipshape.toml"
# This machine's facts document; its package list cut to PULL_BENCH_PACKAGES (default 250) so
# that it weighs what a server's does (10-30 KB; a developer container lists thousands).
(cd "$work/repo" && "$bin" --json facts) | python3 -c '
import json, sys
doc = json.load(sys.stdin)["hosts"][0]
doc["packages"] = doc["packages"][:int(sys.argv[1])]
print(json.dumps(doc, separators=(",", ":")))' "${PULL_BENCH_PACKAGES:-250}" >"$work/facts.json"
log "# pull reports benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $hosts hosts," \
  "facts $(wc -c <"$work/facts.json") bytes, $bin"

start_server() {  # STORE
  local fifo="$work/serve.out"
  rm -f "$fifo"
  mkfifo "$fifo"
  (cd "$work/repo" && SHIPSHAPE_STORE="$1" exec "$bin" serve --listen 127.0.0.1:0 >"$fifo" 2>"$work/serve.err") &
  server_pid=$!
  read -r line <"$fifo"
  url="${line##* }"
  exec 3<"$fifo"
}
stop_server() {
  kill "$server_pid"
  wait "$server_pid" || true
  server_pid=""
  exec 3<&-
}
# CPU seconds (user + system) used so far by process $1 and its children that are alive.
cpu_of() {
  local pids total=0 p t
  pids="$1 $(ps -o pid= --ppid "$1" 2>/dev/null | tr '\n' ' ')"
  for p in $pids; do
    t=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
    total=$((total + t))
  done
  echo "$total"
}
send() { "$tool" send "$url" "$work/tokens" "$work/facts.json" "$@"; }
pg_sizes() {
  "$pgbin/psql" -qAt -d "$pg_url" -c "SELECT pg_database_size(current_database()),
    pg_total_relation_size('host_reports'), pg_total_relation_size('host_latest'),
    (SELECT count(*) FROM host_reports)"
}

# --- PostgreSQL ---
pg_url=$(bash "$root/scripts/team-postgres.sh" start "$work/pg")
postmaster=$(head -1 "$work/pg/data/postmaster.pid" 2>/dev/null || pgrep -o -f "$work/pg" || echo 0)
(cd "$work/repo" && SHIPSHAPE_STORE="$pg_url" "$bin" store migrate >/dev/null)
t0=$(date +%s.%N)
sep='?'; [[ $pg_url == *\?* ]] && sep='&'
"$tool" seed "${pg_url}${sep}options=-c%20synchronous_commit%3Doff" "$hosts" "$work/tokens" "$work/facts.json"
log "seeded $hosts users with a token and a first report (its facts) each in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
start_server "$pg_url"

log "## (a) PostgreSQL, closed loop"
for n in $senders; do log "$(send closed "$n" "$closed_s")"; done

log "## (b, c) PostgreSQL, open loop at 10,000 hosts every 5 and 15 minutes"
read -r db0 rep0 lat0 rows0 <<<"$(pg_sizes | tr '|' ' ')"
log "$(send open 33.3 "$open_s")"
"$pgbin/psql" -qAt -d "$pg_url" -c "CHECKPOINT" >/dev/null
read -r db1 rep1 lat1 rows1 <<<"$(pg_sizes | tr '|' ' ')"
log "$(send open 11.1 "$open_s")"
per_report=$(( (rep1 - rep0) / (rows1 - rows0 > 0 ? rows1 - rows0 : 1) ))
log "sizes before/after 33.3/s: database $db0 -> $db1 bytes, host_reports $rep0 -> $rep1" \
  "($((rows1 - rows0)) reports, $per_report bytes each with indexes), host_latest $lat0 -> $lat1"
log "growth at 10,000 hosts every 5 min (2,880,000 reports/day): host_reports" \
  "$(( per_report * 2880000 / 1048576 )) MiB/day; database $(( (db1 - db0) / (rows1 - rows0 > 0 ? rows1 - rows0 : 1) * 2880000 / 1048576 )) MiB/day"

log "## (d) PostgreSQL, open loop at rising rates"
for rate in $rates; do
  s0=$(cpu_of "$server_pid"); p0=$(cpu_of "$postmaster")
  (sleep $((step_s / 2)); "$pgbin/psql" -qAt -d "$pg_url" -c \
    "SELECT state, wait_event_type, wait_event, count(*) FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1, 2, 3
     ORDER BY 4 DESC LIMIT 4" | tr '\n' ';' >"$work/activity") &
  sampler=$!
  result=$(send open "$rate" "$step_s")
  wait "$sampler" || true
  s1=$(cpu_of "$server_pid"); p1=$(cpu_of "$postmaster")
  tck=$(getconf CLK_TCK)
  log "$result cpu: serve $(( (s1 - s0) * 100 / tck / step_s ))% postgres $(( (p1 - p0) * 100 / tck / step_s ))% (of one core) pg_stat_activity: $(cat "$work/activity")"
  p99=$(sed -E 's/.*p99=([0-9.]+)ms.*/\1/' <<<"$result")
  errors=$(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$result")
  if [[ $errors != 0 ]] || awk -v p="$p99" 'BEGIN{exit !(p > 100)}'; then
    log "breaking point: $rate reports/s (p99 $p99 ms, $errors errors)"
    break
  fi
done
stop_server
bash "$root/scripts/team-postgres.sh" stop "$work/pg" >/dev/null 2>&1 || true

# --- SQLite ---
if [[ ${PULL_BENCH_SQLITE:-1} == 1 ]]; then
  (cd "$work/repo" && "$bin" store migrate >/dev/null)
  sqlite_db="$work/repo/.shipshape/state.db"
  t0=$(date +%s.%N)
  "$tool" seed "$sqlite_db" "$sqlite_hosts" "$work/tokens" "$work/facts.json"
  log "## SQLite: seeded $sqlite_hosts users and first reports in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
  start_server "$sqlite_db"
  log "$(send closed 32 "$closed_s")"
  size0=$(stat -c %s "$sqlite_db")
  log "$(send open 33.3 "$sqlite_open_s")"
  size1=$(stat -c %s "$sqlite_db")
  log "SQLite file $size0 -> $size1 bytes during 33.3/s"
  for rate in 100 200 400; do
    result=$(send open "$rate" "$step_s")
    log "$result"
  done
  stop_server
fi
