#!/usr/bin/env bash
# Issue 7's side-by-side benchmark on a lent GPU machine (no apt, no internet), in one command.
# Prepare the carried files first, on a machine with pip and apt:
#   bash tools/prepare_gpu_wheels.sh                       (.whl: funasr 1.4.16 and the few packages it needs)
#   bash tools/gpu_machine/prepare.sh                      (.espeak: espeak-ng .debs and the libpcaudio stub)
#   bash tools/fetch_fsmn_vad.sh tools/fsmn_vad            (the real FSMN-VAD checkpoint)
# then, from the repository root on the GPU machine (carry .whl, .espeak, tools/fsmn_vad):
#   bash bench/gpu_machine_bench.sh [files] [minutes] [variant ...]
# Builds the long-form set (bench/long_form.py) and the random-weight full-size folders
# (bench/make_random_models.py) on the machine, then runs bench/pipeline_speed.py: FunASR and
# funasr_lite, one after the other, on the same audio and weights. Results go to $OUT
# (summary.json, the console log, and runs.tar.gz with every run's JSON and log). Environment:
# BENCH_CONFIGS (pipeline_speed --configs), FUNASR_BATCHES, LONG_HOURS (also measure one recording
# of that many hours through the inference CLI on the GPU: host and GPU memory over time).
set -uo pipefail
files=${1:-6}; minutes=${2:-3}; shift $(( $# > 2 ? 2 : $# ))
R=$(pwd); OUT=${OUT:-/tmp/out}; W=${BENCH_WORK:-/tmp/bench}; mkdir -p "$OUT" "$W"
. tools/gpu_machine_env.sh || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
nproc
t0=$SECONDS
[ -f $W/data/wav.scp ] || python3 bench/long_form.py --out $W/data --files "$files" --minutes "$minutes" \
  --nj "$(nproc)" --segments $W/data/segments > $W/data.log 2>&1 || { tail -20 $W/data.log; exit 1; }
[ -d $W/models/campplus ] || python3 bench/make_random_models.py --out $W/models --no-sample > $W/models.log 2>&1 \
  || { tail -20 $W/models.log; exit 1; }
echo "data and models: $((SECONDS - t0)) s"; tail -3 $W/models.log
if [ $# -eq 0 ]; then
  set -- "fp32=--num_workers 0" "bf16=--dtype bf16 --num_workers 0"   # no workers was faster on the GPU (docs/performance.md)
fi
vargs=(); for v in "$@"; do vargs+=(--variant "$v"); done
python3 bench/pipeline_speed.py --models $W/models --data $W/data --vad_model tools/fsmn_vad --device cuda \
  --funasr_python python3 --funasr_extra "--ncpu $(nproc)" --funasr_batches "${FUNASR_BATCHES:-1,64}" \
  --out $W/runs ${BENCH_CONFIGS:+--configs $BENCH_CONFIGS} \
  "${vargs[@]}" 2>&1 | tee $OUT/console.log
cp $W/runs/summary.json $OUT/ 2>/dev/null
# where the time goes: the last variant once more under the profilers, VAD+ASR+punctuation and ASR alone
last=${!#}
python3 bench/lite_run.py --wav_scp $W/data/wav.scp --model $W/models/paraformer_large_bicif \
  --vad_model tools/fsmn_vad --punc_model $W/models/ct_punc_zh --device cuda \
  ${last#*=} --profile $OUT/profile_gpu_pipeline.txt > $W/profile.log 2>&1 || tail -20 $W/profile.log
python3 bench/lite_run.py --wav_scp $W/data/segments/wav.scp --model $W/models/paraformer_large_bicif --mode segments \
  --device cuda ${last#*=} --profile $OUT/profile_gpu_segments.txt >> $W/profile.log 2>&1 || tail -20 $W/profile.log
# LONG_HOURS=3: host and GPU memory of one recording that long through the inference CLI on the GPU
if [ -n "${LONG_HOURS:-}" ]; then
  python3 bench/long_audio_memory.py --hours "$LONG_HOURS" --model $W/models/paraformer_large_bicif \
    --punc_model $W/models/ct_punc_zh --work $W/long --every 5 --extra "--device cuda" \
    --json $OUT/long_audio_gpu.json 2>&1 | tee -a $OUT/console.log
fi
tar -C $W -czf $OUT/runs.tar.gz runs data.log models.log 2>/dev/null
exit 0
