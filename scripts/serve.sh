#!/usr/bin/env bash
# README command 1: installs what is missing, builds, imports the demo project once, and
# serves the API on 127.0.0.1:8000 with the embedded SQLite database under ./data/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release --locked -p storyflow-server
BIN=target/release/storyflow
DATA_DIR="${STORYFLOW_DATA_DIR:-./data}"
BIND="${STORYFLOW_BIND:-127.0.0.1:8000}"

if [ ! -f "$DATA_DIR/.demo-project" ]; then
  mkdir -p "$DATA_DIR"
  "$BIN" import fixtures/demo/manifest.json --data-dir "$DATA_DIR" > "$DATA_DIR/.demo-project.tmp"
  mv "$DATA_DIR/.demo-project.tmp" "$DATA_DIR/.demo-project"
fi
PROJECT_ID="$(cat "$DATA_DIR/.demo-project")"
cat <<MSG
Demo project: $PROJECT_ID
  Start a render:  curl -X POST http://$BIND/api/projects/$PROJECT_ID/render/
  Poll its status: curl http://$BIND/api/projects/$PROJECT_ID/status/
MSG
exec "$BIN" serve --bind "$BIND" --data-dir "$DATA_DIR"
