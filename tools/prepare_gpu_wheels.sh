#!/usr/bin/env bash
# Fill the git-excluded .whl/ with the cp312 manylinux wheels that the GPU machine (Python 3.12,
# torch/torchaudio/numpy/scipy/scikit-learn/sentencepiece/PyYAML/tqdm/requests already installed,
# no internet) lacks for `from funasr import AutoModel` and bench/funasr_run.py's four pipelines
# (BiCif/Paraformer ASR, + FSMN-VAD, + CT-Transformer punctuation, + CAM++ speakers).
#
# Usage:  bash tools/prepare_gpu_wheels.sh            (idempotent: downloads only what is missing,
#                                                     keeps one version per package, prints the size)
#         PYVER=3.11 WHL_DIR=/tmp/whl311 bash tools/prepare_gpu_wheels.sh   (same set for a local cp311 test)
# On the GPU machine (carry .whl):
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
#   PYTHONPATH=/tmp/site python3 bench/funasr_run.py ...
#
# Why each one (read off funasr 1.4.16's imports on these paths; funasr/__init__.py imports every
# submodule and records failures, so a missing package only shows when a model is not registered):
#   funasr                  the reference itself (pure Python)
#   omegaconf + antlr4      auto_model.py / download_model_from_hub.py (`from omegaconf import ...`);
#                           omegaconf 2.3 needs antlr4-python3-runtime 4.9.x, which PyPI has only as
#                           an sdist: it is built here into a pure-Python wheel
#   librosa + lazy_loader   utils/load_utils.py and models/campplus/utils.py `import librosa` at import
#                           time; librosa's __init__ only needs lazy_loader (librosa.resample, the one
#                           call, runs only without torchaudio), so numba/llvmlite/audioread/msgpack/
#                           pooch/soxr-for-librosa are NOT needed
#   rapidfuzz               metrics/common.py (imported by paraformer/model.py and bicif_paraformer)
#   six                     metrics/common.py and transformer/scorers/ctc_prefix_score.py
#   kaldiio                 utils/load_utils.py
#   jieba                   ct_transformer (word split of the punctuation input); sdist only on
#                           PyPI, built here like antlr4
#   soundfile + cffi + pycparser   audio reading (FunASR falls back to soundfile when torchaudio.load fails)
#   soxr, configargparse    funasr_lite's own needs on that machine (kept from before)
#   pytest (+ pluggy, iniconfig, packaging), hypothesis (+ sortedcontainers, attrs),
#   kaldi-native-fbank      the test suite's CUDA-only tests on that machine
# Not needed on these paths: hydra-core (only auto_frontend), jaconv/jamo (other tokenizers),
# torch_complex/pytorch_wpe (multi-channel frontends), umap-learn/hdbscan (CAM++ clustering of
# >= 2048 chunks without a speaker count: ~25 min of speech in one file), modelscope, transformers.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
WHL_DIR="${WHL_DIR:-$REPO/.whl}"
PYVER="${PYVER:-3.12}"
PY="${PYTHON:-python3}"
mkdir -p "$WHL_DIR"

# name==version, one per package
WHEELS=(
  funasr==1.4.16
  omegaconf==2.3.1
  librosa==0.11.0
  lazy_loader==0.6
  rapidfuzz==3.14.6
  six==1.17.0
  kaldiio==2.18.1
  soundfile==0.14.0
  cffi==2.0.0
  pycparser==2.22
  soxr==1.1.0
  configargparse==1.7.1
  pytest==9.2.0
  pluggy==1.7.0
  iniconfig==2.3.1
  packaging==26.4
  hypothesis==6.170.29
  sortedcontainers==2.4.0
  attrs==26.1.0
  kaldi-native-fbank==1.23.0
)
# pure Python, only an sdist on PyPI: built locally into a py3-none-any wheel
SDIST_WHEELS=(antlr4-python3-runtime==4.9.3 jieba==0.42.1)

PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux2014_x86_64 --platform manylinux1_x86_64)

norm() { echo "$1" | tr 'A-Z' 'a-z' | sed 's/[-_.]\+/_/g'; }

# have NAME VERSION -> 0 if a wheel of exactly that version is in WHL_DIR (for this Python, if binary);
# wheels of other versions of NAME are deleted
have() {
  local want_name want_ver f base fname fver tag found=1
  want_name="$(norm "$1")"; want_ver="$2"
  shopt -s nullglob
  for f in "$WHL_DIR"/*.whl; do
    base="$(basename "$f" .whl)"
    fname="$(norm "${base%%-*}")"
    [ "$fname" = "$want_name" ] || continue
    fver="$(echo "$base" | cut -d- -f2)"
    tag="$(echo "$base" | rev | cut -d- -f1-3 | rev)"   # python-abi-platform
    if [ "$fver" != "$want_ver" ]; then
      echo "   removing other version $(basename "$f")"; rm -f "$f"; continue
    fi
    case "$tag" in
      py2.py3-*|py3-*|cp${PYVER/./}-*) found=0 ;;
      *) echo "   removing wheel for another Python $(basename "$f")"; rm -f "$f" ;;
    esac
  done
  shopt -u nullglob
  return $found
}

for spec in "${WHEELS[@]}"; do
  name="${spec%%==*}"; ver="${spec##*==}"
  if have "$name" "$ver"; then continue; fi
  echo ">> downloading $spec (cp${PYVER/./})"
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version "$PYVER" --implementation cp \
      "${PLATFORMS[@]}" -d "$WHL_DIR" "$spec" 2>&1 | grep -v "is ignored: it is neither" || true
  have "$name" "$ver" || { echo "failed to get $spec" >&2; exit 1; }
done

for spec in "${SDIST_WHEELS[@]}"; do
  name="${spec%%==*}"; ver="${spec##*==}"
  if have "$name" "$ver"; then continue; fi
  echo ">> building $spec from its sdist (pure Python)"
  "$PY" -m pip wheel -q --no-deps -w "$WHL_DIR" "$spec" 2>&1 | grep -v "is ignored: it is neither" || true
  have "$name" "$ver" || { echo "failed to build $spec" >&2; exit 1; }
done

echo ">> $WHL_DIR:"
ls -l "$WHL_DIR"/*.whl | awk '{printf "%10d  %s\n", $5, $NF}' | sed "s#$WHL_DIR/##"
total=$(cat "$WHL_DIR"/*.whl | wc -c)
echo ">> total: $total bytes ($(awk "BEGIN{printf \"%.1f\", $total/1048576}") MiB) in $(ls "$WHL_DIR"/*.whl | wc -l) wheels"
if [ "$total" -gt $((60 * 1048576)) ]; then
  echo "!! over 60 MiB: carry limit is 64 MiB for everything" >&2
  exit 1
fi
