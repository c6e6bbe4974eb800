#!/usr/bin/env bash
# Prepare, on this (CPU) machine, what tools/gpu_machine/synth_spk_run.sh (and synth_asr_run.sh,
# bench/gpu_machine_bench.sh) need on a lent GPU machine that has no apt, no internet and no
# espeak-ng: Debian's espeak-ng packages (unpacked there with dpkg -x), a stub libpcaudio.so.0
# (only `espeak-ng -w file` is used, so the audio device library is never called), and Python
# 3.12 wheels (soundfile, soxr, cffi, pycparser, kaldiio, jieba). Run from the repository root;
# .espeak/ and .whl/ are kept out of git.
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.espeak/' .git/info/exclude 2>/dev/null || echo /.espeak/ >> .git/info/exclude
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude
mkdir -p .espeak/stub .whl
(cd .espeak && apt-get download espeak-ng espeak-ng-data libespeak-ng1 libsonic0)
gcc -shared -fPIC -Wl,-soname,libpcaudio.so.0 -o .espeak/stub/libpcaudio.so.0 tools/gpu_machine/pcaudio_stub.c
cp tools/gpu_machine/synth_spk_run.sh .espeak/device_run.sh
for p in soundfile==0.14.0 soxr==1.1.0 cffi==2.0.0 pycparser==2.22 kaldiio==2.18.1; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform any -d .whl "$p"
done
python3 -m pip wheel -q --no-deps jieba==0.42.1 -w .whl/
echo "ready: carry .espeak .whl tools/fsmn_vad and run: BUDGET=570 EPOCHS=80 bash .espeak/device_run.sh"
