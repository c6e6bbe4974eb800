#!/usr/bin/env bash
# egs/aishell/paraformer-large-finetune: finetune a downloaded Paraformer-large model folder on
# AISHELL-1 and compare it with the original on the test set. Nothing is downloaded: pass
# --init-model (a local copy of speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-pytorch,
# e.g. from `modelscope download --model iic/speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-pytorch
# --local_dir models/paraformer-large`) and --data-root (the folder holding data_aishell/).
# The model's token list, am.mvn, frontend and architecture are kept; only the weights change.
#
#   bash run.sh --data-root /corpora/aishell --init-model /models/paraformer-large
#   bash run.sh ... --ngpu 2 --nj 16                             # torchrun on 2 GPUs
#   bash run.sh ... --stage 3 --train-extra "--train_conf.max_epoch 10"
#
# Stages
#   0  data/{train,dev,test} from AISHELL-1 (as egs/aishell/paraformer), validated
#   1  fbank features dump/<set>/feats.scp with the model's frontend settings (skipped with
#      --dump-feats false: the trainer then computes them); no CMVN: the model's am.mvn is kept
#   2  the data checked against the model's token list (no new token list)
#   3  finetune (--init_param <init model>) with --train-config -> exp/<exp_name>/model_dir
#   4  decode --test-sets with the original model (decode_orig_<set>) and the finetuned one (decode_<set>)
#   5  CER of both -> exp/<exp_name>/RESULTS.md (before/after table)
set -euo pipefail
cmdline=$(printf '%q ' bash "$0" "$@"); cmdline=${cmdline% }   # for RESULTS.md, before the cd
start_dir=$PWD
cd "$(dirname "$0")"
. ./path.sh

# Begin configuration section.
stage=0
stop_stage=5
data_root=            # the folder holding data_aishell/ (or data_aishell itself); needed by stage 0
init_model=           # the downloaded Paraformer-large model folder (config.yaml, model.pt, am.mvn, tokens.json)
nj=8                  # parallel jobs (features, decoding)
device=cuda           # training and decoding device: cuda | cpu
ngpu=1                # training GPUs; more than 1 runs torchrun --nproc_per_node ngpu
seed=777
dump_feats=true       # true: stage 1 dumps fbank features for training; false: computed while training
train_config=conf/paraformer_large_finetune.yaml   # training settings only; model sections, tokens, am.mvn: --init-model's
freeze_param=         # e.g. encoder (comma list of parameter prefixes kept fixed)
train_threads=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)   # torch CPU threads of training (all cores; path.sh sets 1 for parallel jobs)
train_extra=          # extra trainer options, e.g. "--optim_conf.lr 0.0001 --train_conf.max_epoch 10"
exp_name=paraformer_large_finetune
test_sets="test"
data=data
exp=exp
dump=dump
decode_config=conf/decode.yaml   # bin/inference options (key: value)
# End configuration section.
help_message="Usage: $0 --data-root DIR --init-model MODEL_DIR [--stage N] [--stop-stage N] [--nj N]
          [--device cuda|cpu] [--ngpu N] [--dump-feats true|false] [--train-config YAML] [--freeze-param encoder]
          [--train-extra \"--key value ...\"] [--exp-name NAME] [--test-sets \"dev test\"]"
. utils/parse_options.sh

abspath() { case $1 in /*|"") echo "$1" ;; *) echo "$start_dir/$1" ;; esac; }   # relative to where run.sh was called
data_root=$(abspath "$data_root")
init_model=$(abspath "$init_model")
dir=$exp/$exp_name
decode_cmd=utils/run.pl
[ "$device" = cuda ] && decode_cmd="utils/run.pl --gpu 1"

if [ "$stop_stage" -ge 1 ]; then  # every stage after data prep needs the model: fail early and clearly
  [ -n "$init_model" ] || { echo "$0: --init-model is required: a downloaded Paraformer model folder (this recipe never downloads)" >&2; exit 1; }
  python local/init_model.py check "$init_model"
fi

# run_logged FILE CMD...: record CMD in FILE (RESULTS.md lists it), run it, append its run time
run_logged() {
  local rec=$1 t0=$SECONDS; shift
  mkdir -p "$(dirname "$rec")"
  { echo "# run.sh: $cmdline"; echo "# started: $(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "# cwd: $PWD"; printf '%q ' "$@"; echo; } > "$rec"
  "$@"
  echo "# elapsed_s: $((SECONDS - t0))" >> "$rec"
}

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  echo "stage 0: AISHELL-1 data preparation from ${data_root:-(no --data-root)}"
  [ -n "$data_root" ] || { echo "$0: --data-root is required (the folder holding data_aishell/)" >&2; exit 1; }
  python -m funasr_lite.bin.aishell_data_prep --data_root "$data_root" --out_dir $data
  for x in train dev test; do
    utils/validate_data_dir.sh $data/$x
    python -m funasr_lite.bin.check_data --data_dir $data/$x --audio
  done
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ] && [ "$dump_feats" = true ]; then
  echo "stage 1: fbank features over $nj jobs with the frontend of $init_model (its am.mvn is kept)"
  python local/init_model.py frontend_conf "$init_model" $dump/frontend.yaml
  for x in train dev; do
    utils/run.pl JOB=1:$nj $dump/$x/log/dump.JOB.log \
      python -m funasr_lite.bin.dump_fbank --wav_scp $data/$x/wav.scp --out_dir $dump/$x \
        --frontend_conf $dump/frontend.yaml --nj $nj --job JOB
    python -m funasr_lite.bin.dump_fbank --wav_scp $data/$x/wav.scp --out_dir $dump/$x \
      --frontend_conf $dump/frontend.yaml --nj $nj   # merges the jobs' scp files
  done
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  token_list=$(python local/init_model.py token_list "$init_model")
  echo "stage 2: check the data against the model's token list $token_list"
  for x in train dev test; do  # characters outside the list train as <unk> and are scored as errors
    python -m funasr_lite.bin.check_data --data_dir $data/$x --token_list "$token_list" \
      || echo "$0: note: $data/$x has characters outside the model's token list (listed above)"
  done
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  where=$device; [ "$device" = cuda ] && where="$ngpu GPU(s)"
  echo "stage 3: finetune $init_model on $where -> $dir"
  train="python -m funasr_lite.bin.train"
  [ "$device" = cuda ] && [ "$ngpu" -gt 1 ] && train="torchrun --standalone --nproc_per_node $ngpu -m funasr_lite.bin.train"
  feats_opts=
  [ "$dump_feats" = true ] && feats_opts="--train_feats $dump/train/feats.scp --dev_feats $dump/dev/feats.scp"
  [ -n "$freeze_param" ] && feats_opts="$feats_opts --freeze_param $freeze_param"
  # shellcheck disable=SC2086  # $train, $feats_opts and $train_extra are word lists
  run_logged $dir/train.cmd $train --config $train_config --init_param "$init_model" \
    --train_data $data/train --dev_data $data/dev $feats_opts --output_dir $dir \
    --device $device --seed $seed --num_threads $train_threads $train_extra
  [ -f $dir/model_dir/model.pt ] || { echo "$0: training wrote no $dir/model_dir/model.pt" >&2; exit 1; }
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  echo "stage 4: decode $test_sets with the original model and the finetuned one over $nj jobs"
  decode_opts=$(python -c 'import sys, yaml; print(" ".join(f"--{k} {v}" for k, v in (yaml.safe_load(open(sys.argv[1])) or {}).items()))' $decode_config)
  for x in $test_sets; do
    # a killed decode resumes; one made with another --init-model is redone
    [ -d $dir/decode_orig_$x ] && ! grep -qF -- "--model $(printf '%q' "$init_model") " $dir/decode_orig_$x/decode.cmd 2>/dev/null \
      && rm -r $dir/decode_orig_$x
    run_logged $dir/decode_orig_$x/decode.cmd python -m funasr_lite.bin.inference --model "$init_model" \
      --wav_scp $data/$x/wav.scp --output_dir $dir/decode_orig_$x --nj $nj --cmd "$decode_cmd" \
      --device $device $decode_opts
    # the same for the finetuned model; redone when model_dir is newer than the last decode
    [ -d $dir/decode_$x ] && [ $dir/model_dir/model.pt -nt $dir/decode_$x/decode.cmd ] && rm -r $dir/decode_$x
    run_logged $dir/decode_$x/decode.cmd python -m funasr_lite.bin.inference --model $dir/model_dir \
      --wav_scp $data/$x/wav.scp --output_dir $dir/decode_$x --nj $nj --cmd "$decode_cmd" \
      --device $device $decode_opts
  done
fi

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  echo "stage 5: score $test_sets (original and finetuned) -> $dir/RESULTS.md"
  for x in $test_sets; do
    for d in decode_orig_$x decode_$x; do
      run_logged $dir/$d/score.cmd python -m funasr_lite.bin.compute_cer \
        $data/$x/text $dir/$d/1best_recog/text $dir/$d/cer.txt --json $dir/$d/cer.json
    done
  done
  python -m funasr_lite.bin.write_results --exp_dir $dir --sets "$(echo $test_sets | tr ' ' ,)" \
    --decode original "$init_model" decode_orig --decode finetuned $dir/model_dir decode \
    --command "$cmdline" --title "egs/aishell/paraformer-large-finetune results"
fi
echo "$0: done (stages $stage-$stop_stage) [elapsed=${SECONDS}s]"
