#!/usr/bin/env bash
# Installs a software Vulkan driver (lavapipe, Mesa 25 from bookworm-backports) so WebGPU runs without a GPU,
# and Debian's Chromium for the browser tests. Idempotent; needs root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if [ ! -f /etc/apt/sources.list.d/bookworm-backports.sources ]; then
  cat > /etc/apt/sources.list.d/bookworm-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
apt-get update -qq
apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers >/dev/null
apt-get install -y -qq libvulkan1 chromium >/dev/null
ls /usr/share/vulkan/icd.d/
