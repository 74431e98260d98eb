#!/usr/bin/env bash
# `shipshape serve` benchmark, called by bench/run.sh: BIN OUT_DIR.
#   1. seeds a store with SERVER_BENCH_RUNS runs (default 10,000), each with 5 steps, 12 events
#      and 2 params, by direct SQL (a few seconds), on SQLite and on PostgreSQL (a private server
#      started with scripts/team-postgres.sh in a temporary directory: real settings, fsync on);
#      and 1,000,000 log lines (seed_log_lines);
#   2. starts `shipshape serve` on each store and measures every route of ROUTES with wrk at
#      SERVER_BENCH_CONNECTIONS (default 50) connections on loopback for SERVER_BENCH_SECONDS
#      (default 10): p50, p99 and requests/s;
#   3. runs `pgbench -S` (select-only, the same 50 clients) on the same PostgreSQL in the same
#      run: what the database alone does on this machine, the reference.
# The run-list indexes are in the schema since migration 8 (SQLite) / 4 (PostgreSQL);
# SERVER_BENCH_INDEXES=1 (proposed_indexes below) only matters for an older binary.
# Goal: p99 <= 50 ms at 50 clients. Results: OUT_DIR/server.txt (raw) and OUT_DIR/server.md.
# Standalone: bash bench/server.sh [BIN [OUT_DIR]]  (defaults: the release build, bench/results).
# Needs wrk (installed here from Debian when missing) and PostgreSQL (postgresql, with pgbench).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$(realpath "${1:-$root/build/release/src/cli/shipshape}")"
out="${2:-$root/bench/results}"
runs="${SERVER_BENCH_RUNS:-10000}"
connections="${SERVER_BENCH_CONNECTIONS:-50}"
seconds="${SERVER_BENCH_SECONDS:-10}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
if ! command -v wrk >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi
pgbin="$(pg_config --bindir 2>/dev/null || ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"

# The routes measured; a route the server does not have (404) is left out of the table.
# RUN is replaced by a run id from the middle of the store.
ROUTES=("/api/v1/runs" "/api/v1/runs/RUN" "/api/v1/runs?env=prod&status=failed" "/api/v1/board"
  "/api/v1/runs/RUN/steps/build/log" "/api/v1/history")
if [[ -n ${SERVER_BENCH_ROUTES:-} ]]; then
  read -r -a ROUTES <<<"$SERVER_BENCH_ROUTES"
fi

work="$(mktemp -d /tmp/shipshape-bench-server-XXXXXX)"
chmod 755 "$work"  # the PostgreSQL server's user (not root) reaches its directory below
server_pid=""
cleanup() {
  [[ -z $server_pid ]] || kill "$server_pid" 2>/dev/null || true
  bash "$root/scripts/team-postgres.sh" stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

checklist='name = "deploy"
[[step]]
id = "build"
sh = "true"
[[step]]
id = "test"
sh = "true"
needs = ["build"]
[[step]]
id = "package"
sh = "true"
needs = ["test"]
[[step]]
id = "deploy"
sh = "true"
needs = ["package"]
[[step]]
id = "qa"
manual = "QA confirms"
role = "qa"
needs = ["deploy"]'

# The seeding SQL, one dialect for both stores: SQLite and PostgreSQL both take WITH RECURSIVE,
# || and "user". $1: how a number i becomes a run id.
seed_sql() {
  local id="$1"
  cat <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $runs)
INSERT INTO runs(id, checklist_path, checklist_name, checklist_text, env, status, "user", host,
                 pid, started_at, updated_at)
SELECT $id, 'checklists/deploy.toml', CASE i % 4 WHEN 0 THEN 'backup' ELSE 'deploy' END,
       '$checklist', CASE i % 3 WHEN 0 THEN 'prod' WHEN 1 THEN 'staging' ELSE 'dev' END,
       CASE i % 10 WHEN 6 THEN 'failed' WHEN 7 THEN 'waiting' WHEN 8 THEN 'undone'
                   WHEN 9 THEN 'running' ELSE 'done' END,
       'ops', 'bench-host', 1, 1700000000000 + i * 60000, 1700000000000 + i * 60000 + 30000
FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $runs),
     p(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM p WHERE k < 1)
INSERT INTO run_params(run_id, position, name, value)
SELECT $id, k, CASE k WHEN 0 THEN 'version' ELSE 'region' END, '1.' || i FROM n, p;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $runs),
     s(k, name) AS (VALUES (1, 'build'), (2, 'test'), (3, 'package'), (4, 'deploy'), (5, 'qa'))
INSERT INTO steps(run_id, step_id, state, attempts, exit_code, detail, started_at, finished_at,
                  duration_ms, finish_seq, undo_state)
SELECT $id, name, CASE WHEN k = 5 THEN 'waiting' ELSE 'ok' END, 1, 0, '',
       1700000000000 + i * 60000 + k * 1000, 1700000000000 + i * 60000 + k * 1000 + 900, 900,
       CASE WHEN k = 5 THEN 0 ELSE k END, ''
FROM n, s;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $runs),
     e(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM e WHERE k < 12)
INSERT INTO events(at, run_id, step_id, kind, detail)
SELECT 1700000000000 + i * 60000 + k * 500, $id, CASE WHEN k = 1 THEN '' ELSE 'build' END,
       CASE WHEN k = 1 THEN 'run-started' WHEN k % 2 = 0 THEN 'step-started'
            ELSE 'step-finished' END, 'exit 0'
FROM n, e ORDER BY 2, 1;
SQL
}

# 100 log lines per run (1,000,000 for 10,000 runs), on the "build" step. $1: the store kind
# (sqlite or postgresql); $2: how a number i becomes a run id.
log_lines_sql() {
  cat <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $runs),
     l(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM l WHERE k < 100)
INSERT INTO log_lines(run_id, step_id, at, line)
SELECT $1, 'build', 1700000000000 + i * 60000 + k, 'compiling unit ' || k || ' of run ' || i
FROM n, l ORDER BY 1, 3;
SQL
}
seed_log_lines() {
  case "$1" in
    sqlite)
      python3 - "$work/sqlite/.shipshape/state.db" "$(log_lines_sql "printf('bench-%05d', i)")" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript("BEGIN;" + sys.argv[2] + "COMMIT; ANALYZE;")
db.close()
PY
      ;;
    postgresql)
      log_lines_sql "'bench-' || lpad(i::text, 5, '0')" |
        "$pgbin/psql" -q -v ON_ERROR_STOP=1 -d "$pg_url" >/dev/null
      "$pgbin/psql" -q -d "$pg_url" -c "ANALYZE" >/dev/null
      ;;
  esac
}

# Indexes for listing runs newest first, with and without filters; not in the schema yet.
proposed_indexes() {
  [[ ${SERVER_BENCH_INDEXES:-0} == 1 ]] || return 0
  cat <<SQL
CREATE INDEX IF NOT EXISTS runs_by_start ON runs(started_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS runs_by_env ON runs(env, started_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs(status, started_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS runs_by_checklist ON runs(checklist_name, started_at DESC, id DESC);
SQL
}

make_repo() {  # DIR [STORE]
  mkdir -p "$1/checklists"
  printf 'name = "bench"\n' >"$1/shipshape.toml"
  printf '[env.prod]\nhosts = ["p1"]\n[env.staging]\nhosts = ["s1"]\n[env.dev]\nhosts = ["localhost"]\n' \
    >"$1/inventory.toml"
  printf '%s\n' "$checklist" >"$1/checklists/deploy.toml"
}

# Starts `shipshape serve` in repo $1 (store $2 or the repo's own); sets $url.
start_server() {
  local fifo="$work/serve.out"
  rm -f "$fifo"
  mkfifo "$fifo"
  (cd "$1" && SHIPSHAPE_STORE="$2" exec "$bin" serve --listen 127.0.0.1:0 >"$fifo" 2>"$work/serve.err") &
  server_pid=$!
  read -r line <"$fifo"
  url="${line##* }"
  exec 3<"$fifo"  # keep the pipe open: the server may write more
}

stop_server() {
  kill "$server_pid"
  wait "$server_pid" || true
  server_pid=""
  exec 3<&-
}

{
  echo "# shipshape serve benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $runs runs"
  echo "# wrk -t2 -c$connections -d${seconds}s --latency; pgbench -S -c$connections -j2 -T$seconds"
  echo "# proposed indexes: ${SERVER_BENCH_INDEXES:-0}"
} >"$out/server.txt"
table="| store | route | p50 | p99 | requests/s |"$'\n'"|---|---|---|---|---|"
mid_run=$(printf 'bench-%05d' $((runs / 2)))

measure() {  # STORE-NAME
  local route path
  for route in "${ROUTES[@]}"; do
    path="${route//RUN/$mid_run}"
    local code
    code=$(python3 -c "
import sys, urllib.request
try:
    print(urllib.request.urlopen(sys.argv[1]).status)
except Exception as e:
    print(getattr(e, 'code', 0))" "$url$path")
    if [[ $code != 200 ]]; then
      echo "## $1 $path: HTTP $code, left out" >>"$out/server.txt"
      continue
    fi
    local result
    result=$(wrk -t"$(( connections < 2 ? 1 : 2 ))" -c"$connections" -d"${seconds}s" --latency "$url$path")
    printf '## %s %s\n%s\n' "$1" "$path" "$result" >>"$out/server.txt"
    local p50 p99 rps
    p50=$(awk '$1 == "50%" {print $2}' <<<"$result")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$result")
    rps=$(awk '$1 == "Requests/sec:" {print $2}' <<<"$result")
    table+=$'\n'"| $1 | \`GET ${path}\` | $p50 | $p99 | $rps |"
  done
}

# SQLite.
make_repo "$work/sqlite"
(cd "$work/sqlite" && "$bin" store migrate >/dev/null)
python3 - "$work/sqlite/.shipshape/state.db" "$(seed_sql "printf('bench-%05d', i)"; proposed_indexes)" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript("BEGIN;" + sys.argv[2] + "COMMIT; ANALYZE;")
db.close()
PY
seed_log_lines sqlite
start_server "$work/sqlite" ""
measure sqlite
stop_server

# PostgreSQL.
pg_url=$(bash "$root/scripts/team-postgres.sh" start "$work/pg")
make_repo "$work/postgres"
(cd "$work/postgres" && SHIPSHAPE_STORE="$pg_url" "$bin" store migrate >/dev/null)
{ seed_sql "'bench-' || lpad(i::text, 5, '0')"; proposed_indexes; } | "$pgbin/psql" -q -v ON_ERROR_STOP=1 -d "$pg_url" >/dev/null
"$pgbin/psql" -q -d "$pg_url" -c "ANALYZE" >/dev/null
seed_log_lines postgresql
start_server "$work/postgres" "$pg_url"
measure postgresql
stop_server

# The reference: pgbench select-only on the same server, same client count.
"$pgbin/createdb" -h "$work/pg" -U shipshape pgbench 2>/dev/null || true
"$pgbin/pgbench" -i -q -s 10 -h "$work/pg" -U shipshape pgbench >/dev/null 2>&1
pgb=$("$pgbin/pgbench" -S -c "$connections" -j 2 -T "$seconds" -h "$work/pg" -U shipshape pgbench 2>&1)
printf '## pgbench -S\n%s\n' "$pgb" >>"$out/server.txt"
lat=$(awk '/latency average/ {print $4 " " $5}' <<<"$pgb")
tps=$(awk '/^tps/ {print $3; exit}' <<<"$pgb")
table+=$'\n'"| postgresql | pgbench -S (scale 10), the reference | avg $lat | | $tps |"

printf '%s\n' "$table" | tee "$out/server.md"
