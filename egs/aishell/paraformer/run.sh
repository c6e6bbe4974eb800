#!/usr/bin/env bash
# egs/aishell/paraformer: train a Paraformer from scratch on AISHELL-1 (openslr 33), decode and
# score dev and test. The stages are the shared template's (asr.sh -> egs/TEMPLATE/asr/asr.sh).
# The corpus is not downloaded: pass the folder that holds data_aishell/
# (data_aishell/wav/{train,dev,test}/S0002/BAC009S0002W0122.wav and
# data_aishell/transcript/aishell_transcript_v0.8.txt; the wav/*.tar.gz files unpacked).
#
#   bash run.sh --data-root /corpora/aishell                     # stages 0-5, training on 1 GPU
#   bash run.sh --data-root /corpora/aishell --ngpu 4 --nj 32    # torchrun on 4 GPUs
#   bash run.sh --stage 3 --train-extra "--train_conf.max_epoch 10"   # any YAML key of the config
set -euo pipefail
cmdline=$(printf '%q ' bash "$0" "$@"); cmdline=${cmdline% }   # for RESULTS.md, before the cd
start_dir=$PWD
cd "$(dirname "$0")"
. ./path.sh

# Begin configuration section (the corpus's options; every other option is asr.sh's).
data_root=            # the folder holding data_aishell/ (or data_aishell itself); needed by stage 0
train_config=conf/paraformer_large.yaml
# End configuration section.
parse_options_pass_unknown=true
. utils/parse_options.sh
case $data_root in /*|"") ;; *) data_root=$start_dir/$data_root ;; esac   # relative to where run.sh was called

./asr.sh --run_cmd "$cmdline" --results_title "egs/aishell/paraformer results ($(basename "$train_config"))" \
  --data_sh ../local/data.sh --local_data_opts "${data_root:+--data_root $data_root}" \
  --device cuda --nj 8 --frontend_conf conf/frontend.yaml --train_config $train_config \
  "${passthrough_opts[@]}"
