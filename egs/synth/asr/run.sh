#!/usr/bin/env bash
# egs/synth/asr: the built-in recipe that works anywhere. A Mandarin corpus is generated with
# espeak-ng, so no download is needed.
#
#   bash run.sh --stage 0 --stop-stage 2
#
# Stages
#   0  generate data/{train,dev,test} (espeak-ng voices; dev/test voices and sentences held out),
#      validate them (Kaldi rules + a Python check that decodes every file)
#   1  fbank features dumped to dump/<set>/feats.scp (kaldiio ark,scp over --nj jobs via utils/run.pl)
#      and global CMVN with the toolkit's fbank -> exp/cmvn/{am.mvn,cmvn.json}
#   2  token list data/lang/tokens.{json,txt} (FunASR layout) from train; dev/test checked against it
#   3-5 train, decode, score: not implemented yet (the training-recipes issue); this script
#      says so and stops rather than present output from an untrained model.
set -euo pipefail
cd "$(dirname "$0")"
. ./path.sh

# Begin configuration section.
stage=0
stop_stage=2
size=cpu            # cpu: minutes on 2 cores; gpu: a corpus sized for a real GPU
nj=2                # parallel jobs
num_train=          # override the --size corpus sizes (empty: use the size's)
num_dev=
num_test=
seed=777            # corpus seed (recorded in data/synth_meta.json)
data=data
exp=exp
dump=dump
frontend_conf=conf/frontend.yaml
# End configuration section.
help_message="Usage: $0 [--stage N] [--stop-stage N] [--size cpu|gpu] [--nj N] [--seed N] [--data DIR] [--dump DIR] [--exp DIR]"
. utils/parse_options.sh

case $size in
  cpu) sizes=(400 40 40) ;;
  gpu) sizes=(40000 1000 1000) ;;
  *) echo "$0: --size must be cpu or gpu, got '$size'" >&2; exit 1 ;;
esac
num_train=${num_train:-${sizes[0]}}; num_dev=${num_dev:-${sizes[1]}}; num_test=${num_test:-${sizes[2]}}

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  echo "stage 0: generate the synthetic corpus ($size: $num_train/$num_dev/$num_test utterances)"
  python -m funasr_lite.bin.synth_corpus --out_dir $data --wav_dir $data/wavs \
    --num_train $num_train --num_dev $num_dev --num_test $num_test --seed $seed --nj $nj
fi

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  echo "stage 0: validate data directories"
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
  python -m funasr_lite.bin.compute_cmvn --wav_scp $data/train/wav.scp \
    --frontend_conf $frontend_conf --out_dir $exp/cmvn
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  echo "stage 2: token list from $data/train/text"
  python -m funasr_lite.bin.make_tokens --text $data/train/text --out_dir $data/lang
  for x in dev test; do  # held-out sentences may use characters train never saw: reported, scored as errors
    python -m funasr_lite.bin.check_data --data_dir $data/$x --token_list $data/lang/tokens.json \
      || echo "$0: note: $data/$x has characters outside the token list (listed above)"
  done
fi

if [ "$stop_stage" -ge 3 ]; then
  echo "stages 3-5 (train, decode, score) are not implemented yet: they arrive with the training-recipes issue."
  echo "No model has been trained, so no transcript is produced."
fi
