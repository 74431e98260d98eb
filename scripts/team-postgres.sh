#!/usr/bin/env bash
# A private PostgreSQL server for a team's shipshape store, from Debian's packages (postgresql):
# initdb and pg_ctl in one directory, never the system's cluster or service.
#
#   scripts/team-postgres.sh start [DIR] [--port N]   initialise (first time), start, create the
#                                                     database `shipshape`, print its URL
#   scripts/team-postgres.sh stop [DIR]               stop it (the data stays in DIR)
#   scripts/team-postgres.sh url [DIR] [--port N]     print the URL to put in SHIPSHAPE_STORE
#
# DIR defaults to .shipshape/postgres (in the working directory). The server listens on a Unix
# socket in DIR only (readable by its owner alone, no password); with --port N (or
# SHIPSHAPE_PG_PORT) also on 127.0.0.1:N, where a password is required: it is generated once
# into DIR/password and the printed URL carries it. Every command is idempotent: `start` on a
# running server prints the URL again, `stop` on a stopped one says so and exits 0.
#
# PostgreSQL refuses to run as root: run as root, the server runs as the user `postgres` (made
# by Debian's package) or else `nobody`, through runuser, and DIR must be reachable by it.
set -euo pipefail

die() {
  echo "team-postgres: $*" >&2
  exit 1
}

usage() {
  sed -n '4,8p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

cmd="${1:-}"
[[ $cmd == start || $cmd == stop || $cmd == url ]] || usage
shift
dir=".shipshape/postgres"
port="${SHIPSHAPE_PG_PORT:-}"
while (($#)); do
  case "$1" in
    --port)
      [[ $# -ge 2 ]] || usage
      port="$2"
      shift 2
      ;;
    --port=*)
      port="${1#--port=}"
      shift
      ;;
    -*) usage ;;
    *)
      dir="$1"
      shift
      ;;
  esac
done
if [[ -n $port ]] && ! [[ $port =~ ^[0-9]+$ && $port -ge 1 && $port -le 65535 ]]; then
  die "--port must be a TCP port (1-65535), not '$port'"
fi

bindir=""
if command -v pg_config >/dev/null && [[ -x "$(pg_config --bindir)/initdb" ]]; then
  bindir="$(pg_config --bindir)"
else
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [[ -x $d/initdb ]]; then
      bindir=$d
      break
    fi
  done
fi
[[ -n $bindir ]] || die "no PostgreSQL server installed (initdb not found): apt-get install postgresql"

mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
data="$dir/data"
superuser="shipshape"
database="shipshape"

owner=""
if [[ $(id -u) -eq 0 ]]; then
  command -v runuser >/dev/null || die "PostgreSQL refuses root, and runuser (util-linux) is missing"
  if id postgres >/dev/null 2>&1; then owner=postgres; else owner=nobody; fi
fi

# Runs a PostgreSQL program as the server's owner.
as_owner() {
  if [[ -n $owner ]]; then
    runuser -u "$owner" -- "$@"
  else
    "$@"
  fi
}

running() {
  [[ -f $data/postmaster.pid ]] && as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1
}

urlencode() {
  local s="$1" out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c="${s:i:1}"
    case "$c" in
      [a-zA-Z0-9.~_-]) out+="$c" ;;
      *) out+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  printf '%s' "$out"
}

# The socket's name carries the server's port: a server started with --port is reached on the
# socket through that port too.
print_url() {
  if [[ -n $port ]]; then
    echo "postgresql://$superuser:$(cat "$dir/password")@127.0.0.1:$port/$database"
    return
  fi
  local socket_port=""
  if [[ -f $data/postmaster.pid ]]; then
    socket_port=$(sed -n 4p "$data/postmaster.pid")
  fi
  if [[ -n $socket_port && $socket_port != 5432 ]]; then
    echo "postgresql://$superuser@$(urlencode "$dir"):$socket_port/$database"
  else
    echo "postgresql://$superuser@$(urlencode "$dir")/$database"
  fi
}

case "$cmd" in
  url)
    [[ -f $data/PG_VERSION ]] || die "no server in $dir yet: run '$0 start $dir' first"
    running || echo "team-postgres: the server in $dir is not running ('$0 start $dir')" >&2
    print_url
    ;;
  stop)
    if ! running; then
      echo "team-postgres: the server in $dir is not running" >&2
      exit 0
    fi
    as_owner "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
    echo "team-postgres: stopped the server in $dir" >&2
    ;;
  start)
    if [[ -n $owner ]]; then
      chown "$owner" "$dir"
      runuser -u "$owner" -- test -w "$dir" ||
        die "the server runs as '$owner' (PostgreSQL refuses root), who cannot write $dir: pick a directory it can reach (e.g. under /var/lib or /srv) or run as another user"
    fi
    chmod 700 "$dir"
    if [[ ! -f $data/PG_VERSION ]]; then
      if [[ ! -f $dir/password ]]; then
        (umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$dir/password")
        [[ -z $owner ]] || chown "$owner" "$dir/password"
      fi
      as_owner "$bindir/initdb" -D "$data" -U "$superuser" --pwfile="$dir/password" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
        die "initdb failed: see $dir/initdb.log"
    fi
    if ! running; then
      listen="''"
      [[ -z $port ]] || listen="127.0.0.1"
      options="-k $dir -c listen_addresses=$listen -c unix_socket_permissions=0700"
      [[ -z $port ]] || options+=" -p $port"
      as_owner "$bindir/pg_ctl" -D "$data" -o "$options" -l "$dir/server.log" -w -t 60 start \
        >/dev/null || die "the server did not start: see $dir/server.log"
    fi
    pgport=$(sed -n 4p "$data/postmaster.pid")
    if ! as_owner "$bindir/psql" -h "$dir" -p "$pgport" -U "$superuser" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1; then
      as_owner "$bindir/createdb" -h "$dir" -p "$pgport" -U "$superuser" "$database" ||
        die "creating the database '$database' failed"
    fi
    print_url
    ;;
esac
