#!/usr/bin/env bash
# README command 2: installs what is missing, then format check, clippy and the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
STORYFLOW_SETUP_TESTS=1 source scripts/setup.sh
# A one-off build gains nothing from incremental caches, which only take disk.
export CARGO_INCREMENTAL=0
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
