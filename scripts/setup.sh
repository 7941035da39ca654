#!/usr/bin/env bash
# Installs the system packages StoryFlow needs to build and render, only those missing.
# Idempotent; uses sudo when not root. Debian 12 (bookworm) / GStreamer 1.22.
set -euo pipefail

PACKAGES=(
  pkg-config
  gcc
  libgstreamer1.0-dev
  libgstreamer-plugins-base1.0-dev
  gstreamer1.0-plugins-base   # appsrc, audioconvert, audioresample, videoconvert
  gstreamer1.0-plugins-good   # mp4mux, qtdemux, wavparse, flac
  gstreamer1.0-plugins-bad    # h264parse, opus parsing
  gstreamer1.0-plugins-ugly   # x264enc
  gstreamer1.0-libav          # avenc_aac, avdec_* (MP3, AAC, H.264 decoding)
  fonts-dejavu-core           # subtitle font
  curl                        # the README's curl lines (and the test that runs them)
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "setup: cargo not found; install Rust 1.95 or newer with rustup (https://rustup.rs)" >&2
    exit 1
  fi
fi
if command -v rustup >/dev/null 2>&1; then
  for component in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" \
      || rustup component add "$component"
  done
fi
