# Sourced (". tools/gpu_machine_env.sh") from the repository root by the scripts that run on a lent
# GPU machine (no apt, no internet): installs the carried wheels (.whl, from
# tools/prepare_gpu_wheels.sh or tools/gpu_machine/prepare.sh) into /tmp/site and
# unpacks the carried espeak-ng .debs (.espeak) into /tmp/esp, each once per machine, then
# exports PYTHONPATH, LD_LIBRARY_PATH (with the libpcaudio stub), ESPEAK_DATA_PATH and PATH.
# Sets R to the repository root. Returns 1 if the wheels do not install.
R=$(pwd)
if [ ! -f /tmp/site/soundfile.py ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "gpu_machine_env: the wheels in $R/.whl did not install" >&2; return 1; }
fi
export PYTHONPATH=/tmp/site:$R PYTHONUNBUFFERED=1
E=/tmp/esp
if [ ! -x $E/usr/bin/espeak-ng ]; then mkdir -p $E; for f in .espeak/*.deb; do dpkg -x "$f" $E; done; fi
export LD_LIBRARY_PATH=$E/usr/lib/x86_64-linux-gnu:$R/.espeak/stub${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export ESPEAK_DATA_PATH=$E/usr/lib/x86_64-linux-gnu PATH=$E/usr/bin:$PATH
