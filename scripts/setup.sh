#!/usr/bin/env bash
# Sets up a fresh Debian 12 / Ubuntu machine for pastiche: a software Vulkan driver (so WebGPU runs
# without a GPU), Debian's Chromium for the browser tests, and the npm dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -eq 0 ]; then
  bash scripts/install-system-deps.sh
elif command -v sudo >/dev/null; then
  sudo bash scripts/install-system-deps.sh
else
  echo "setup: need root (or sudo) to install the Vulkan driver and Chromium; see README" >&2
  exit 1
fi
npm ci --no-audit --no-fund
