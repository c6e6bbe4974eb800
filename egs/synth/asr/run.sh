#!/usr/bin/env bash
# egs/synth/asr: the recipe that works anywhere. A Mandarin corpus is generated with espeak-ng
# (no download), a Paraformer is trained on it, decodes the held-out voices and sentences, and is
# scored. The stages are the shared template's (asr.sh -> egs/TEMPLATE/asr/asr.sh; bash asr.sh --help).
#
#   bash run.sh                                   # --size cpu: 3,500 training steps, ~10.5 min on 2 idle cores
#   bash run.sh --size gpu --nj 16                # a larger corpus and model, trained on one GPU
#   bash run.sh --size gpu --ngpu 4 --stage 3     # training on 4 GPUs (torchrun), then decode + score
#   bash run.sh --stage 3 --train-extra "--train_conf.max_epoch 5"   # any YAML key of the config
#   bash local/finetune_new_voices.sh             # then: finetune the model on voices it never heard
set -euo pipefail
cmdline=$(printf '%q ' bash "$0" "$@"); cmdline=${cmdline% }   # for RESULTS.md, before the cd
cd "$(dirname "$0")"
. ./path.sh

# Begin configuration section (the corpus's options; every other option is asr.sh's).
size=cpu            # cpu: minutes on 2 cores; gpu: a corpus and model sized for a real GPU
num_train=          # corpus sizes; empty: the --size preset below
num_dev=
num_test=
top_chars=          # sentences use only the N most frequent characters of jieba's dictionary
min_chars=          # sentence length in characters
max_chars=
train_voices=       # training voice variants: base (30) or wide (71); empty: the --size preset
seed=777            # corpus and training seed (recorded in data/synth_meta.json and the exp config)
# End configuration section.
parse_options_pass_unknown=true
. utils/parse_options.sh

# --size presets: num_train num_dev num_test top_chars min_chars max_chars train_voices
#   cpu: short sentences over a small character set, so a small model learns them on 2 cores
#   gpu: 80,000 sentences spoken by 71 training voice variants (93 h), so that 15 minutes of
#        training see each sentence a few times, not forty (see RESULTS.md, runs 3 and 4)
case $size in
  cpu) preset=(3000 200 200 400 2 6 base); device=cpu ;;
  gpu) preset=(80000 1000 1000 3500 4 14 wide); device=cuda ;;
  *) echo "$0: --size must be cpu or gpu, got '$size'" >&2; exit 1 ;;
esac
corpus="--num_train ${num_train:-${preset[0]}} --num_dev ${num_dev:-${preset[1]}} --num_test ${num_test:-${preset[2]}}
  --top_chars ${top_chars:-${preset[3]}} --min_chars ${min_chars:-${preset[4]}} --max_chars ${max_chars:-${preset[5]}}
  --train_voices ${train_voices:-${preset[6]}} --seed $seed"

./asr.sh --run_cmd "$cmdline" --results_title "egs/synth/asr results ($size)" \
  --device $device --seed $seed --local_data_opts "$corpus" \
  --train_config conf/paraformer_synth_$size.yaml --exp_name paraformer_synth_$size \
  "${passthrough_opts[@]}"
