#!/usr/bin/env bash
# Training throughput on 1 GPU against torchrun on N GPUs (the GPU recipe's model and batch per GPU),
# on a lent multi-GPU machine in one device call. Carry .whl and .espeak (see tools/gpu_machine/synth_asr_run.sh).
#   bash bench/ddp_throughput.sh [ngpu] [steps] [num_train]
# Each rank draws batches of the same frame budget (dataset_conf.batch_size), so N ranks process N
# times the audio of one per step: throughput ratio = N x (s/step on 1 GPU) / (s/step on N GPUs),
# measured between step 50 and the last step (warm-up and feature caching excluded).
set -uo pipefail
ngpu=${1:-2}; steps=${2:-300}; num_train=${3:-12000}
R=$(pwd); OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
. tools/gpu_machine_env.sh || exit 1
cd egs/synth/asr
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
t0=$SECONDS
bash run.sh --size gpu --stage 0 --stop-stage 2 --nj "$(nproc)" --check-audio false --num-train "$num_train" \
  > $OUT/data.log 2>&1 || { tail -30 $OUT/data.log; exit 1; }
echo "data stages 0-2: $((SECONDS - t0)) s"
extra="--train_conf.max_steps $steps --train_conf.max_minutes 60 --scheduler_conf.total_steps 3000 --train_conf.validate_interval 100000 --train_conf.max_epoch 1000"
for n in 1 "$ngpu"; do
  t0=$SECONDS
  bash run.sh --size gpu --ngpu "$n" --stage 3 --stop-stage 3 --exp-name "tp_${n}gpu" --train-extra "$extra" \
    > $OUT/train_${n}gpu.log 2>&1 || { tail -30 $OUT/train_${n}gpu.log; exit 1; }
  echo "training on $n GPU(s): $((SECONDS - t0)) s"
  cp exp/tp_${n}gpu/metrics.jsonl $OUT/metrics_${n}gpu.jsonl
done
python3 - "$ngpu" <<'EOF' | tee $OUT/throughput.txt
import json, sys
n = int(sys.argv[1])
def per_step(path):
    rows = [json.loads(l) for l in open(path) if '"train"' in l]
    a = next(r for r in rows if r["step"] >= 50)
    b = rows[-1]
    return (b["elapsed_s"] - a["elapsed_s"]) / (b["step"] - a["step"]), a["step"], b["step"]
one, a1, b1 = per_step("exp/tp_1gpu/metrics.jsonl")
many, a2, b2 = per_step(f"exp/tp_{n}gpu/metrics.jsonl")
print(f"1 GPU: {one:.4f} s/step (steps {a1}-{b1}); {n} GPUs: {many:.4f} s/step (steps {a2}-{b2})")
print(f"throughput ratio {n} GPUs / 1 GPU: {n * one / many:.2f} (ideal {n})")
EOF
exit 0
