#!/usr/bin/env bash
# egs/synth/asr: the built-in recipe that works anywhere. A Mandarin corpus is generated with
# espeak-ng, so no download is needed; a Paraformer is trained on it, decodes the held-out
# voices and sentences, and is scored.
#
#   bash run.sh                                   # --size cpu: 3,500 training steps, ~10.5 min on 2 idle cores
#   bash run.sh --size gpu --nj 16                # a larger corpus and model, trained on one GPU
#   bash run.sh --size gpu --ngpu 4 --stage 3     # training on 4 GPUs (torchrun), then decode + score
#   bash run.sh --stage 3 --train-extra "--train_conf.max_epoch 5"   # any YAML key of the config
#
# Stages
#   0  generate data/{train,dev,test} (espeak-ng voices; dev/test voices and sentences held out),
#      validate them (Kaldi rules + a Python check that decodes every file)
#   1  fbank features dumped to dump/<set>/feats.scp (kaldiio ark,scp over --nj jobs via utils/run.pl)
#      and global CMVN with the toolkit's fbank -> exp/cmvn/{am.mvn,cmvn.json}
#   2  token list data/lang/tokens.{json,txt} (FunASR layout) from train; dev/test checked against it
#   3  train a Paraformer (conf/paraformer_synth_<size>.yaml) -> exp/<exp_name>/, whose model_dir/
#      (averaged best checkpoints) is a drop-in FunASR model folder
#   4  decode dev and test with exp/<exp_name>/model_dir over --nj jobs -> decode_<set>/1best_recog/text
#   5  CER of dev and test -> decode_<set>/cer.{txt,json}, and exp/<exp_name>/RESULTS.md
#      (commands, model checksum, CER with S/D/I counts, hardware)
set -euo pipefail
cmdline=$(printf '%q ' bash "$0" "$@"); cmdline=${cmdline% }   # for RESULTS.md, before the cd
cd "$(dirname "$0")"
. ./path.sh

# Begin configuration section.
stage=0
stop_stage=5
size=cpu            # cpu: minutes on 2 cores; gpu: a corpus and model sized for a real GPU
nj=2                # parallel jobs (synthesis, features, decoding)
ngpu=1              # --size gpu: GPUs for training; more than 1 runs torchrun --nproc_per_node ngpu
num_train=          # corpus options; empty: the --size preset below
num_dev=
num_test=
top_chars=          # sentences use only the N most frequent characters of jieba's dictionary
min_chars=          # sentence length in characters
max_chars=
train_voices=       # training voice variants: base (30) or wide (71); empty: the --size preset
check_audio=true    # stage 0 decodes every file (rates, channels, durations); false skips it
seed=777            # corpus and training seed (recorded in data/synth_meta.json and the exp config)
train_config=       # empty: conf/paraformer_synth_<size>.yaml
train_threads=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)   # torch CPU threads of training (all cores; path.sh sets 1 for parallel jobs)
train_extra=        # extra trainer options, e.g. "--train_conf.max_epoch 5 --dataset_conf.batch_size 2000"
exp_name=           # empty: paraformer_synth_<size>
data=data
exp=exp
dump=dump
frontend_conf=conf/frontend.yaml
decode_config=conf/decode.yaml   # bin/inference options (key: value)
# End configuration section.
help_message="Usage: $0 [--stage N] [--stop-stage N] [--size cpu|gpu] [--nj N] [--ngpu N] [--seed N]
          [--exp-name NAME] [--train-config YAML] [--train-extra \"--key value ...\"] [--data DIR] [--dump DIR] [--exp DIR]"
. utils/parse_options.sh

# --size presets: num_train num_dev num_test top_chars min_chars max_chars train_voices
#   cpu: short sentences over a small character set, so a small model learns them on 2 cores
#   gpu: 80,000 sentences spoken by 71 training voice variants (93 h), so that 15 minutes of
#        training see each sentence a few times, not forty (see RESULTS.md, runs 3 and 4)
cpu_corpus=(3000 200 200 400 2 6 base)
gpu_corpus=(80000 1000 1000 3500 4 14 wide)
case $size in
  cpu) preset=("${cpu_corpus[@]}"); device=cpu ;;
  gpu) preset=("${gpu_corpus[@]}"); device=cuda ;;
  *) echo "$0: --size must be cpu or gpu, got '$size'" >&2; exit 1 ;;
esac
num_train=${num_train:-${preset[0]}}; num_dev=${num_dev:-${preset[1]}}; num_test=${num_test:-${preset[2]}}
top_chars=${top_chars:-${preset[3]}}; min_chars=${min_chars:-${preset[4]}}; max_chars=${max_chars:-${preset[5]}}
train_voices=${train_voices:-${preset[6]}}
train_config=${train_config:-conf/paraformer_synth_$size.yaml}
dir=$exp/${exp_name:-paraformer_synth_$size}
test_sets="dev test"
audio_check=; [ "$check_audio" = true ] && audio_check=--audio
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
  echo "stage 0: generate the synthetic corpus ($size: $num_train/$num_dev/$num_test utterances of" \
    "$min_chars-$max_chars characters from the $top_chars most frequent)"
  python -m funasr_lite.bin.synth_corpus --out_dir $data --wav_dir $data/wavs \
    --num_train $num_train --num_dev $num_dev --num_test $num_test --seed $seed --nj $nj \
    --top_chars $top_chars --min_chars $min_chars --max_chars $max_chars --train_voices $train_voices
fi

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  echo "stage 0: validate data directories"
  for x in train dev test; do
    utils/validate_data_dir.sh $data/$x
    python -m funasr_lite.bin.check_data --data_dir $data/$x $audio_check
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
  for x in dev test; do  # held-out sentences may use characters train never saw: reported, scored as errors
    python -m funasr_lite.bin.check_data --data_dir $data/$x --token_list $data/lang/tokens.json \
      || echo "$0: note: $data/$x has characters outside the token list (listed above)"
  done
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  where=$device; [ "$device" = cuda ] && where="$ngpu GPU(s)"
  echo "stage 3: train a Paraformer with $train_config on $where -> $dir"
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
  python -m funasr_lite.bin.write_results --exp_dir $dir --sets "$(echo $test_sets | tr ' ' ,)" --command "$cmdline" \
    --title "egs/synth/asr results ($size)"
fi
echo "$0: done (stages $stage-$stop_stage) [elapsed=${SECONDS}s]"
