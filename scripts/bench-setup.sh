#!/usr/bin/env bash
# Installs what `storyflow bench` needs beyond scripts/setup.sh: the real photographs of its
# `photos` project, from the Debian package mate-backgrounds (GPL-2+; the photos' authors are
# listed in /usr/share/doc/mate-backgrounds/copyright). Idempotent; uses sudo when not root.
set -euo pipefail

if ! dpkg-query -W -f='${Status}' mate-backgrounds 2>/dev/null | grep -q "install ok installed"; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "bench-setup: installing mate-backgrounds" >&2
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends mate-backgrounds
fi
