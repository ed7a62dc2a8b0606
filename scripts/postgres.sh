#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: `start DIR` creates and starts one in DIR on a
# free loopback port and prints its SQLAlchemy URL; `stop DIR` stops it and removes DIR.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
action=$1 dir=$2

# Debian keeps the server binaries off PATH, in /usr/lib/postgresql/<version>/bin.
# (readlink: a symlinked initdb on PATH still finds createdb and pg_ctl beside the real one.)
initdb=$(command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1 || true)
bindir=$(dirname "$(readlink -f "${initdb:-/nonexistent}")")
if [ ! -x "$bindir/initdb" ]; then
  echo "PostgreSQL server binaries not found: install the Debian package postgresql (scripts/setup.sh does when root)." >&2
  exit 1
fi

# PostgreSQL refuses to run as root: as root, run the cluster as the postgres user.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case $action in
  start)
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
      echo "Running as root, but there is no postgres user to run the server: install the Debian package postgresql." >&2
      exit 1
    fi
    mkdir -p "$dir"
    chmod 755 "$dir"
    data=$dir/data
    if [ "$(id -u)" = 0 ]; then install -d -o postgres -g postgres -m 700 "$data"; else install -d -m 700 "$data"; fi
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$bindir/initdb" -D "$data" -U mailconsole --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    # Durability is worthless for a test database that is thrown away: skip the fsyncs.
    as_owner "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start -o \
      "-p $port -k $data -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      >/dev/null || { cat "$data/server.log" >&2; exit 1; }
    "$bindir/createdb" -h 127.0.0.1 -p "$port" -U mailconsole mailconsole_test
    echo "postgresql+psycopg://mailconsole@127.0.0.1:$port/mailconsole_test"
    ;;
  stop)
    if [ -d "$dir/data" ]; then
      as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *) usage ;;
esac
