#!/usr/bin/env bash
# Create the side virtualenv tools/funasr_venv/ holding the *reference* implementation
# (FunASR 1.4.16) that is used ONLY to generate golden fixtures under tests/fixtures/.
# funasr_lite never imports funasr at run time or in CI.
#
# Usage:  bash tools/setup_funasr_venv.sh        (idempotent; re-running is cheap)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/funasr_venv"
PY="${PYTHON:-python3.11}"
FUNASR_VERSION="1.4.16"
TORCH_VERSION="2.13.0"

if [ ! -x "$VENV/bin/python" ]; then
    echo ">> creating venv $VENV with $PY"
    "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
PIP=("$VPY" -m pip --disable-pip-version-check)

# Never let any dependency move torch away from the CPU wheel on disk.
CONSTRAINTS="$VENV/constraints.txt"
printf 'torch==%s\n' "$TORCH_VERSION" > "$CONSTRAINTS"

have() { "$VPY" - "$1" "$2" <<'PYEOF'
import sys
from importlib.metadata import version, PackageNotFoundError
name, prefix = sys.argv[1], sys.argv[2]
try:
    v = version(name)
except PackageNotFoundError:
    sys.exit(1)
sys.exit(0 if v.startswith(prefix) else 1)
PYEOF
}

if ! have torch "$TORCH_VERSION"; then
    echo ">> installing torch==$TORCH_VERSION (CPU wheel)"
    "${PIP[@]}" install -c "$CONSTRAINTS" "torch==$TORCH_VERSION"
fi

if ! have torchaudio "2.11"; then
    echo ">> installing torchaudio 2.11.* without deps"
    "${PIP[@]}" install --no-deps "torchaudio==2.11.*"
fi
# torchaudio's compiled extensions are built against a different torch ABI; delete them so
# the pure-Python torchaudio.compliance.kaldi (all FunASR's frontends need) imports cleanly.
TA_DIR="$("$VPY" -c 'import importlib.util,os;s=importlib.util.find_spec("torchaudio");print(os.path.dirname(s.origin))')"
find "$TA_DIR" -name '*.so' -print -delete || true

if ! have funasr "$FUNASR_VERSION"; then
    echo ">> installing funasr==$FUNASR_VERSION"
    "${PIP[@]}" install -c "$CONSTRAINTS" "funasr==$FUNASR_VERSION" kaldi-native-fbank soxr
fi

# FunASR's own onnxruntime package: the export fixtures (make_export*.py) run it on both exports
if ! have funasr_onnx "0.4.3"; then
    echo ">> installing funasr-onnx==0.4.3, onnx, onnxruntime"
    "${PIP[@]}" install -c "$CONSTRAINTS" "funasr-onnx==0.4.3" onnx onnxruntime
fi

# torch must still be the pinned CPU wheel
have torch "$TORCH_VERSION" || { echo "torch was changed!" >&2; exit 1; }

"$VPY" - <<'PYEOF'
import torch, torchaudio, funasr
import torchaudio.compliance.kaldi as k
from funasr import AutoModel
from funasr.frontends.wav_frontend import WavFrontend
print("OK torch", torch.__version__, "torchaudio", torchaudio.__version__, "funasr", funasr.__version__)
PYEOF
