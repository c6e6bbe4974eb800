#!/usr/bin/env bash
# Install what funasr_lite needs on a fresh machine; safe to run again (skips what is there).
#   bash tools/install.sh           # package + runtime and recipe deps + sox/espeak-ng/ffmpeg
#   bash tools/install.sh --test    # also the test extras
# torch: this project pins the CPU wheel torch==2.13.0. On a machine that already has a
# torch (e.g. a CUDA build), that one is kept.
set -euo pipefail
extras="[recipes]"
[ "${1:-}" = "--test" ] && extras="[recipes,test]"
cd "$(dirname "$0")/.."

log() { echo "[install] $*" >&2; }

if ! python3 -c "import torch" 2>/dev/null; then
  log "installing torch==2.13.0 (CPU wheel)"
  python3 -m pip install -q torch==2.13.0
fi
log "installing funasr_lite${extras} (editable)"
python3 -m pip install -q -e ".${extras}"

need=()
command -v sox >/dev/null || need+=(sox)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v ffmpeg >/dev/null || need+=(ffmpeg)
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    log "installing ${need[*]} with apt-get"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    log "WARNING: ${need[*]} not found and apt-get is not usable here; install them yourself"
  fi
fi
log "done"
