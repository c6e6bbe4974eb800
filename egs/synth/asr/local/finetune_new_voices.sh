#!/usr/bin/env bash
# Finetuning demo: the recipe's model (run.sh -> exp/<base>/model_dir) meets espeak-ng voices it
# never heard, is finetuned on them, and the CER on held-out sentences of those voices is compared
# before and after. The shared template's stages (asr.sh --init_model) with this corpus's data:
# local/data_new_voices.sh makes data/{ft_train,ft_dev,ft_test}, FINETUNE_VARIANTS x
# FINETUNE_PITCHES of ../local/espeak_corpus.py (voices in no list of the corpus), distinct sentences
# none of which is in data/{train,dev,test}, made only of characters of the base model's tokens.json.
# Run from anywhere after run.sh:
#
#   bash run.sh --stage 0 --stop-stage 5               # the base model: exp/paraformer_synth_cpu/model_dir
#   bash local/finetune_new_voices.sh                  # 1,000 finetuning steps on the 2 CPU cores
#   bash local/finetune_new_voices.sh --other-sets test   # also score the corpus's test set (forgetting)
#
# Results: exp/<base>_ft_new_voices/RESULTS.md, a before/after table (decode_orig_<set> = the base
# model, decode_<set> = the finetuned one). Reruns resume (asr.sh).
set -euo pipefail
cmdline=$(printf '%q ' bash "$0" "$@"); cmdline=${cmdline% }   # for RESULTS.md, before the cd
cd "$(dirname "$0")/.."
. ./path.sh

# Begin configuration section (this demo's options; every other option is asr.sh's).
base=paraformer_synth_cpu   # the base experiment: $exp/$base/model_dir
base_dir=                   # empty: $exp/$base/model_dir
ft_name=                    # empty: ${base}_ft_new_voices
data=data
exp=exp
seed=777
num_ft_train=1500           # new-voice utterances: finetuning, checkpoint selection (0: none), test
num_ft_dev=40
num_ft_test=100
variants=                   # comma list of espeak-ng cmn variants; empty: FINETUNE_VARIANTS
pitches=                    # comma list; empty: FINETUNE_PITCHES
other_sets=                 # corpus sets (e.g. "test") also scored before and after
max_steps=1000              # finetuning optimiser steps (the budget: same steps, same model on any machine)
lr=0.0005                   # a small model from a trained start (the base trained at 0.002)
warmup_steps=100
batch_size=6000             # frame budget per batch (the CPU recipe's)
train_extra=                # more trainer overrides, e.g. "--train_conf.keep_nbest_models 3"
# End configuration section.
parse_options_pass_unknown=true
. utils/parse_options.sh

prog=$(basename "$0")
die() { echo "$prog: error: $*" >&2; exit 1; }
base_dir=${base_dir:-$exp/$base/model_dir}
for f in model.pt config.yaml tokens.json am.mvn; do
  [ -f "$base_dir/$f" ] || die "base model folder $base_dir has no $f (train it first: bash run.sh --stage 0 --stop-stage 5)"
done
for x in $other_sets; do [ -f $data/$x/wav.scp ] || die "--other-sets: no $data/$x/wav.scp"; done
valid_set=; [ "$num_ft_dev" -gt 0 ] && valid_set=ft_dev
# conf/paraformer_large_finetune.yaml (written for Paraformer-large on GPUs) sized for the CPU:
# fbank cached in memory once (no workers, so no dither: the base model trained without it), fp32,
# a short warm-up, a step budget, evaluation and checkpoint each epoch.
sizing="--optim_conf.lr $lr --scheduler_conf.warmup_steps $warmup_steps --dataset_conf.batch_size $batch_size
  --train_conf.max_steps $max_steps --train_conf.max_epoch 100000 --train_conf.validate_interval 0
  --train_conf.log_interval 20 --dataset_conf.preload device --dataset_conf.num_workers 0
  --dataset_conf.dither 0.0 --train_conf.dtype fp32"

./asr.sh --run_cmd "$cmdline" --results_title "egs/synth/asr: finetuning $base_dir on new espeak-ng voices" \
  --data $data --exp $exp --seed $seed --init_model $base_dir --exp_name ${ft_name:-${base}_ft_new_voices} \
  --data_sh local/data_new_voices.sh --local_data_opts "--token_list $base_dir/tokens.json --seed $seed
    --num_ft_train $num_ft_train --num_ft_dev $num_ft_dev --num_ft_test $num_ft_test
    ${variants:+--variants $variants} ${pitches:+--pitches $pitches}" \
  --train_set ft_train --valid_set "$valid_set" --test_sets "ft_test $other_sets" --dump_feats false \
  --train_config $FUNASR_LITE_ROOT/conf/paraformer_large_finetune.yaml --train_extra "$sizing $train_extra" \
  "${passthrough_opts[@]}"
