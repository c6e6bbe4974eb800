#!/usr/bin/env bash
# egs/aishell/paraformer-large-finetune: finetune a downloaded Paraformer-large model folder on
# AISHELL-1 and compare it with the original on the test set: the shared template's stages
# (asr.sh -> egs/TEMPLATE/asr/asr.sh) in its --init_model mode. Nothing is downloaded: pass
# --init-model (a local copy of speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-pytorch,
# e.g. from `modelscope download --model iic/speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-pytorch
# --local_dir models/paraformer-large`) and --data-root (the folder holding data_aishell/).
# The model's token list, am.mvn, frontend and architecture are kept; only the weights change.
#
#   bash run.sh --data-root /corpora/aishell --init-model /models/paraformer-large
#   bash run.sh ... --ngpu 2 --nj 16                             # torchrun on 2 GPUs
#   bash run.sh ... --stage 3 --train-extra "--train_conf.max_epoch 10" --freeze-param encoder
set -euo pipefail
cmdline=$(printf '%q ' bash "$0" "$@"); cmdline=${cmdline% }   # for RESULTS.md, before the cd
start_dir=$PWD
cd "$(dirname "$0")"
. ./path.sh

# Begin configuration section (the corpus's options; every other option is asr.sh's).
data_root=            # the folder holding data_aishell/ (or data_aishell itself); needed by stage 0
init_model=           # the downloaded Paraformer-large model folder (config.yaml, model.pt, am.mvn, tokens.json)
# End configuration section.
parse_options_pass_unknown=true
. utils/parse_options.sh
abspath() { case $1 in /*|"") echo "$1" ;; *) echo "$start_dir/$1" ;; esac; }   # relative to where run.sh was called
[ -n "$init_model" ] || { echo "$0: --init-model is required: a downloaded Paraformer model folder (this recipe never downloads)" >&2; exit 1; }

./asr.sh --run_cmd "$cmdline" --results_title "egs/aishell/paraformer-large-finetune results" \
  --data_sh ../local/data.sh --local_data_opts "${data_root:+--data_root $(abspath "$data_root")}" \
  --init_model "$(abspath "$init_model")" --train_config conf/paraformer_large_finetune.yaml \
  --exp_name paraformer_large_finetune --device cuda --nj 8 --test_sets test \
  "${passthrough_opts[@]}"
