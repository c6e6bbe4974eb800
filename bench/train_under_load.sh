#!/usr/bin/env bash
# Training speed of the CPU recipe's model with busy programs beside it, OpenMP threads spinning
# (OMP_WAIT_POLICY=ACTIVE) against sleeping (PASSIVE, what bin/train sets by default), and the
# loss each reaches (the arithmetic must not change). Needs the recipe's stages 0-2:
#   (cd egs/synth/asr && bash run.sh --stage 0 --stop-stage 2)
#   bash bench/train_under_load.sh [steps=100] [busy=2]
# DATA, DUMP, EXP: the recipe's folders (default data, dump, exp).
set -euo pipefail
cd "$(dirname "$0")/../egs/synth/asr"
. ./path.sh
steps=${1:-100}; busy=${2:-2}; data=${DATA:-data}; dump=${DUMP:-dump}; exp=${EXP:-exp}
pids=()
for _ in $(seq "$busy"); do (while :; do :; done) & pids+=($!); done
trap 'kill "${pids[@]}" 2>/dev/null' EXIT
for policy in ACTIVE PASSIVE; do
  out=$(mktemp -d)
  t0=$(date +%s.%N)
  OMP_WAIT_POLICY=$policy python -m funasr_lite.bin.train --config conf/paraformer_synth_cpu.yaml \
    --train_data "$data/train" --train_feats "$dump/train/feats.scp" --token_list "$data/lang/tokens.json" \
    --cmvn_file "$exp/cmvn/am.mvn" --output_dir "$out" --device cpu --num_threads "$(env -u OMP_NUM_THREADS nproc)" \
    --train_conf.max_steps "$steps" --train_conf.use_tensorboard false > "$out/log" 2>&1
  t1=$(date +%s.%N)
  loss=$(grep '"train"' "$out/metrics.jsonl" | tail -1 | python -c 'import json,sys; print(json.loads(sys.stdin.read())["loss"])')
  printf 'OMP_WAIT_POLICY=%-7s busy=%s steps=%s wall %.1f s (%.3f s/step incl. start-up) last logged loss %s\n' \
    "$policy" "$busy" "$steps" "$(echo "$t1 - $t0" | bc)" "$(echo "($t1 - $t0) / $steps" | bc -l)" "$loss"
  rm -rf "$out"
done
