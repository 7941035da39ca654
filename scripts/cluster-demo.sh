#!/usr/bin/env bash
# Scale-out on this machine: a throwaway PostgreSQL cluster (initdb in a temporary folder,
# trust authentication on 127.0.0.1 only), one `storyflow serve` that only queues jobs, and N
# `storyflow worker` processes sharing one data folder. Imports the demo project and prints
# what to curl. Ctrl-C stops everything and deletes the cluster and the data folder.
#
#   scripts/cluster-demo.sh [N]                      a server and N workers (default 3)
#   scripts/cluster-demo.sh --bucket [N]             the same with no shared folder: each
#                                                    process has its own, media and chunks
#                                                    are in an S3 bucket (moto's server, as
#                                                    the tests use it)
#   scripts/cluster-demo.sh --bench [N] [ARGS...]    `storyflow bench --cluster N ARGS...`
#                                                    against the cluster instead (K projects
#                                                    with N workers and with one)
#
# See docs/scale-out.md for a deployment on several machines.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=false
BUCKET=false
case "${1:-}" in
  --bench) BENCH=true; shift ;;
  --bucket) BUCKET=true; shift ;;
esac
WORKERS="${1:-3}"
[ $# -gt 0 ] && shift
case "$WORKERS" in
  '' | *[!0-9]* | 0) echo "N must be a number of workers above zero, not '$WORKERS'" >&2; exit 2 ;;
esac

# The PostgreSQL server packages and moto's S3 server (in $moto_home) come with the test setup.
STORYFLOW_SETUP_TESTS=1 source scripts/setup.sh
cargo build --release --locked -p storyflow-server
BIN="$(realpath "${CARGO_TARGET_DIR:-target}/release/storyflow")"
BIND="${STORYFLOW_BIND:-127.0.0.1:8000}"
PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
ROOT="$(mktemp -d /tmp/storyflow-cluster-XXXXXX)"
PGDATA="$ROOT/pg"
DATA_DIR="$ROOT/data"
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PORT="$(free_port)"
URL="postgres://postgres@127.0.0.1:$PORT/postgres"

# The server refuses to run as root: as root, it runs as the postgres user.
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$ROOT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$PGDATA" "$DATA_DIR"
if [ "$(id -u)" -eq 0 ]; then
  # mktemp's folder is root's alone; the postgres user must reach its cluster inside.
  chmod 711 "$ROOT"
  chown postgres:postgres "$PGDATA"
fi
as_postgres "$PGBIN/initdb" -A trust -U postgres --no-sync -E UTF8 --locale C -D "$PGDATA" >/dev/null
as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w \
  -o "-p $PORT -k $PGDATA -c listen_addresses=127.0.0.1" start >/dev/null
echo "PostgreSQL on 127.0.0.1:$PORT (cluster in $PGDATA)"

if $BENCH; then
  "$BIN" bench --cluster "$WORKERS" --database-url "$URL" "$@"
  exit
fi

export STORYFLOW_DATABASE_URL="$URL"
# data_dir NAME: the process's data folder: the shared one, or with a bucket one of its own.
data_dir() {
  if $BUCKET; then echo "$ROOT/$1"; else echo "$DATA_DIR"; fi
}
if $BUCKET; then
  S3_PORT="$(free_port)"
  "$moto_home/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$ROOT/moto.log" 2>&1 &
  pids+=($!)
  until curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/"; do sleep 0.2; done
  curl -s -f -X PUT "http://127.0.0.1:$S3_PORT/storyflow-demo" >/dev/null
  export STORYFLOW_STORE=s3://storyflow-demo/demo AWS_ENDPOINT_URL="http://127.0.0.1:$S3_PORT" \
    AWS_ALLOW_HTTP=true AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_REGION=us-east-1
  echo "S3 bucket $STORYFLOW_STORE on $AWS_ENDPOINT_URL (moto)"
fi
PROJECT_ID="$("$BIN" import fixtures/demo/manifest.json --data-dir "$(data_dir server)")"
for i in $(seq 1 "$WORKERS"); do
  "$BIN" worker --name "worker-$i" --data-dir "$(data_dir "worker-$i")" &
  pids+=($!)
done
"$BIN" serve --bind "$BIND" --data-dir "$(data_dir server)" &
pids+=($!)
cat <<MSG
Demo project: $PROJECT_ID, $WORKERS worker(s), data in $(data_dir 'server')$($BUCKET && echo " and $ROOT/worker-*")
  Start a render:     curl -X POST http://$BIND/api/projects/$PROJECT_ID/render/
  Poll its status:    curl http://$BIND/api/projects/$PROJECT_ID/status/
  Which worker has it: curl http://$BIND/api/tasks/render_$PROJECT_ID/status/
Ctrl-C stops the server, the workers and PostgreSQL.
MSG
wait
