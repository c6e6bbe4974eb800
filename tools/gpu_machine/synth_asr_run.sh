#!/usr/bin/env bash
# The GPU recipe (run.sh --size gpu) on a lent GPU machine without apt or internet, in device calls
# of at most 10 minutes each. Prepare the carried files first on a CPU machine:
#   bash tools/gpu_machine/prepare.sh   (espeak-ng .debs, libpcaudio stub, wheels)
# then, from the repository root on the GPU machine (carry .espeak and .whl):
#   bash tools/gpu_machine/synth_asr_run.sh start     # wheels, espeak-ng; stages 0-2 then 3 in the background
#   bash tools/gpu_machine/synth_asr_run.sh wait 540  # follow data stages and training (dev CER curve) for up to N s
#   bash tools/gpu_machine/synth_asr_run.sh finish    # stages 4-5 (decode dev/test, CER, RESULTS.md)
# Training runs detached (setsid) so it outlives one call; each call prints where it stands.
# Extra run.sh options go in RUN_OPTS (e.g. RUN_OPTS="--ngpu 2").
set -uo pipefail
phase=${1:-start}
R=$(pwd)
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
. tools/gpu_machine_env.sh || exit 1
cd egs/synth/asr
dir=exp/${EXP_NAME:-paraformer_synth_gpu}
status() {
  nvidia-smi --query-gpu=name,memory.used,utilization.gpu --format=csv,noheader
  grep -h '"dev"' $dir/metrics.jsonl 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print("dev step %6d %8.1fs loss %.3f acc %.4f cer %.2f" % (r["step"], r["elapsed_s"], r["loss"], r["acc"], r.get("cer", -1)))'
  tail -n 3 $dir/train.log 2>/dev/null
}
case $phase in
  start)
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    # data stages 0-2 then stage 3, detached: together they outlast one call
    setsid nohup bash -c "t0=\$SECONDS; bash run.sh --size gpu --stage 0 --stop-stage 2 --nj 16 --check-audio false ${RUN_OPTS:-} > /tmp/data.log 2>&1 \
      && echo \"data stages 0-2: \$((SECONDS - t0)) s; \$(wc -l < data/train/wav.scp) train utts\" >> /tmp/data.log \
      && bash run.sh --size gpu --stage 3 --stop-stage 3 ${RUN_OPTS:-} > /tmp/train.out 2>&1" > /dev/null 2>&1 < /dev/null &
    sleep "${2:-120}"; tail -3 /tmp/data.log; status ;;
  wait)
    end=$((SECONDS + ${2:-540}))
    sleep 5  # stage 3 starts a moment after the data stages end
    while [ $SECONDS -lt $end ] && pgrep -f "run.sh --size gpu|funasr_lite.bin.train" > /dev/null; do sleep 10; done
    tail -3 /tmp/data.log; status; tail -c 1500 /tmp/train.out 2>/dev/null ;;
  finish)
    bash run.sh --size gpu --stage 4 --stop-stage 5 --nj 8 ${RUN_OPTS:-} > $OUT/eval.log 2>&1; tail -20 $OUT/eval.log
    status ;;
esac
for f in /tmp/data.log $dir/metrics.jsonl $dir/train.log $dir/config.yaml $dir/RESULTS.md $dir/model_dir_info.json; do
  [ -f "$f" ] && cp "$f" "$OUT/" ; done
exit 0
