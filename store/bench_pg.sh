#!/bin/sh
# Store benchmarks on SQLite and on a throw-away PostgreSQL cluster (Debian
# package postgresql), started here on 127.0.0.1 and removed afterwards.
#
#   store/bench_pg.sh            # prints the markdown table
#   PGPORT=55499 store/bench_pg.sh
set -eu
cd "$(dirname "$0")/.."
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
PORT=${PGPORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 55434)}
[ -x "$PGBIN/initdb" ] || { echo "no PostgreSQL found (apt-get install postgresql); SQLite only" >&2; LINKCTL_BENCH_TABLE=1 exec go test -count=1 -run TestBenchmarkTable -v ./store/; }
DIR=$(mktemp -d /tmp/linkctl-bench-pg.XXXXXX)
RUNAS=""
if [ "$(id -u)" = 0 ]; then chown postgres "$DIR"; RUNAS="su postgres -c"; fi
run() { if [ -n "$RUNAS" ]; then $RUNAS "$*"; else sh -c "$*"; fi; }
cleanup() { run "$PGBIN/pg_ctl -D $DIR/data -m fast stop" >/dev/null 2>&1 || true; [ -n "${KEEP:-}" ] || rm -rf "$DIR"; }
trap cleanup EXIT INT TERM
run "$PGBIN/initdb -D $DIR/data -U linkctl --auth=trust -E UTF8" >/dev/null
run "$PGBIN/pg_ctl -D $DIR/data -l $DIR/pg.log -w -o '-p $PORT -k $DIR -c listen_addresses=127.0.0.1' start" >/dev/null
run "$PGBIN/createdb -h 127.0.0.1 -p $PORT -U linkctl linkctl_bench"
LINKCTL_TEST_PG_DSN="postgres://linkctl@127.0.0.1:$PORT/linkctl_bench?sslmode=disable" \
LINKCTL_BENCH_TABLE=1 go test -count=1 -run TestBenchmarkTable -v ./store/ | grep -E '^\|'
