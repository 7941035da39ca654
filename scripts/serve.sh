#!/usr/bin/env bash
# README command 1: installs what is missing, builds, then runs scripts/demo.sh: imports the
# demo project once and serves the API on 127.0.0.1:8000 with the embedded SQLite database
# under ./data/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release --locked -p storyflow-server
exec bash scripts/demo.sh "${CARGO_TARGET_DIR:-target}/release/storyflow"
