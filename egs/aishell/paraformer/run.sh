#!/usr/bin/env bash
# egs/aishell/paraformer: train a Paraformer from scratch on AISHELL-1 (openslr 33), decode and
# score dev and test. The corpus is not downloaded: pass the folder that holds data_aishell/
# (data_aishell/wav/{train,dev,test}/S0002/BAC009S0002W0122.wav and
# data_aishell/transcript/aishell_transcript_v0.8.txt; the wav/*.tar.gz files unpacked).
#
#   bash run.sh --data-root /corpora/aishell                     # stages 0-5, training on 1 GPU
#   bash run.sh --data-root /corpora/aishell --ngpu 4 --nj 32    # torchrun on 4 GPUs
#   bash run.sh --stage 3 --train-extra "--train_conf.max_epoch 10"   # any YAML key of the config
#
# Stages
#   0  data/{train,dev,test}/{wav.scp,text,utt2spk,spk2utt} (text: the transcript's words joined,
#      spaces removed), validated (Kaldi rules + a Python check that decodes every file)
#   1  fbank features dump/<set>/feats.scp over --nj jobs (utils/run.pl) and global CMVN over
#      train -> exp/cmvn/{am.mvn,cmvn.json}
#   2  character token list data/lang/tokens.{json,txt} from train; dev/test checked against it
#   3  train with --train-config (default conf/paraformer_large.yaml) -> exp/<exp_name>/, whose
#      model_dir/ (averaged best checkpoints) is a drop-in FunASR model folder
#   4  decode dev and test with exp/<exp_name>/model_dir over --nj jobs
#   5  CER of dev and test -> decode_<set>/cer.{txt,json} and exp/<exp_name>/RESULTS.md
set -euo pipefail
cmdline=$(printf '%q ' bash "$0" "$@"); cmdline=${cmdline% }   # for RESULTS.md, before the cd
start_dir=$PWD
cd "$(dirname "$0")"
. ./path.sh

# Begin configuration section.
stage=0
stop_stage=5
data_root=            # the folder holding data_aishell/ (or data_aishell itself); needed by stage 0
nj=8                  # parallel jobs (features, decoding)
device=cuda           # training and decoding device: cuda | cpu
ngpu=1                # training GPUs; more than 1 runs torchrun --nproc_per_node ngpu
seed=777
train_config=conf/paraformer_large.yaml
train_threads=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)   # torch CPU threads of training (all cores; path.sh sets 1 for parallel jobs)
train_extra=          # extra trainer options, e.g. "--train_conf.max_epoch 10 --dataset_conf.batch_size 8000"
exp_name=             # empty: the config's name, e.g. paraformer_large
test_sets="dev test"
data=data
exp=exp
dump=dump
frontend_conf=conf/frontend.yaml
decode_config=conf/decode.yaml   # bin/inference options (key: value)
# End configuration section.
help_message="Usage: $0 --data-root DIR [--stage N] [--stop-stage N] [--nj N] [--device cuda|cpu] [--ngpu N]
          [--train-config YAML] [--train-extra \"--key value ...\"] [--exp-name NAME] [--test-sets \"dev test\"]"
. utils/parse_options.sh

case $data_root in /*|"") ;; *) data_root=$start_dir/$data_root ;; esac   # relative to where run.sh was called
dir=$exp/${exp_name:-$(basename "$train_config" .yaml)}
decode_cmd=utils/run.pl
[ "$device" = cuda ] && decode_cmd="utils/run.pl --gpu 1"

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

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  echo "stage 1: fbank features over $nj jobs, and global CMVN over $data/train"
  for x in train dev test; do
    utils/run.pl JOB=1:$nj $dump/$x/log/dump.JOB.log \
      python -m funasr_lite.bin.dump_fbank --wav_scp $data/$x/wav.scp --out_dir $dump/$x \
        --frontend_conf $frontend_conf --nj $nj --job JOB
    python -m funasr_lite.bin.dump_fbank --wav_scp $data/$x/wav.scp --out_dir $dump/$x \
      --frontend_conf $frontend_conf --nj $nj   # merges the jobs' scp files
  done
  python -m funasr_lite.bin.compute_cmvn --feats_scp $dump/train/feats.scp \
    --frontend_conf $frontend_conf --out_dir $exp/cmvn   # from the dumped fbank (= the audio's)
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  echo "stage 2: token list from $data/train/text"
  python -m funasr_lite.bin.make_tokens --text $data/train/text --out_dir $data/lang
  for x in dev test; do  # characters train never saw are reported; they are scored as errors
    python -m funasr_lite.bin.check_data --data_dir $data/$x --token_list $data/lang/tokens.json \
      || echo "$0: note: $data/$x has characters outside the token list (listed above)"
  done
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  where=$device; [ "$device" = cuda ] && where="$ngpu GPU(s)"
  echo "stage 3: train with $train_config on $where -> $dir"
  train="python -m funasr_lite.bin.train"
  [ "$device" = cuda ] && [ "$ngpu" -gt 1 ] && train="torchrun --standalone --nproc_per_node $ngpu -m funasr_lite.bin.train"
  # shellcheck disable=SC2086  # $train and $train_extra are word lists
  run_logged $dir/train.cmd $train --config $train_config \
    --train_data $data/train --dev_data $data/dev --train_feats $dump/train/feats.scp --dev_feats $dump/dev/feats.scp \
    --token_list $data/lang/tokens.json --cmvn_file $exp/cmvn/am.mvn --output_dir $dir \
    --device $device --seed $seed --num_threads $train_threads $train_extra
  [ -f $dir/model_dir/model.pt ] || { echo "$0: training wrote no $dir/model_dir/model.pt" >&2; exit 1; }
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  echo "stage 4: decode $test_sets with $dir/model_dir over $nj jobs"
  decode_opts=$(python -c 'import sys, yaml; print(" ".join(f"--{k} {v}" for k, v in (yaml.safe_load(open(sys.argv[1])) or {}).items()))' $decode_config)
  # shellcheck disable=SC2086  # $decode_opts is a word list
  for x in $test_sets; do
    # a killed decode resumes; one made with an older model is redone
    [ -d $dir/decode_$x ] && [ $dir/model_dir/model.pt -nt $dir/decode_$x/decode.cmd ] && rm -r $dir/decode_$x
    run_logged $dir/decode_$x/decode.cmd python -m funasr_lite.bin.inference --model $dir/model_dir \
      --wav_scp $data/$x/wav.scp --output_dir $dir/decode_$x --nj $nj --cmd "$decode_cmd" \
      --device $device $decode_opts
  done
fi

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  echo "stage 5: score $test_sets -> $dir/decode_<set>/cer.txt and $dir/RESULTS.md"
  for x in $test_sets; do
    run_logged $dir/decode_$x/score.cmd python -m funasr_lite.bin.compute_cer \
      $data/$x/text $dir/decode_$x/1best_recog/text $dir/decode_$x/cer.txt --json $dir/decode_$x/cer.json
  done
  python -m funasr_lite.bin.write_results --exp_dir $dir --sets "$(echo $test_sets | tr ' ' ,)" \
    --command "$cmdline" --title "egs/aishell/paraformer results ($(basename "$train_config"))"
fi
echo "$0: done (stages $stage-$stop_stage) [elapsed=${SECONDS}s]"
