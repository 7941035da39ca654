#!/usr/bin/env bash
# The demo half of README command 1, given the `storyflow` binary to run: imports
# fixtures/demo/ once into the data folder (default ./data, relative to the repository),
# prints the two curl lines that render it and poll its status, and serves the API.
# The test suite runs this same script (apps/server/tests/integration/readme.rs).
set -euo pipefail
BIN="$(realpath "${1:?usage: scripts/demo.sh PATH_TO_STORYFLOW_BINARY}")"
cd "$(dirname "$0")/.."
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
