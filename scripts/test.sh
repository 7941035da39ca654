#!/usr/bin/env bash
# README command 2: installs what is missing, then format check, clippy and the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
