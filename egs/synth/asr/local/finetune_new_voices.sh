#!/usr/bin/env bash
# Finetuning demo: the recipe's model (run.sh -> exp/<base>/model_dir) meets espeak-ng voices it
# never heard, is finetuned on them (funasr_lite.bin.train --init_param), and the CER on held-out
# sentences of those voices is compared before and after. Run from egs/synth/asr after run.sh:
#
#   bash run.sh --stage 0 --stop-stage 5               # the base model: exp/paraformer_synth_cpu/model_dir
#   bash local/finetune_new_voices.sh                  # ~6 min on 2 CPU cores (--max-minutes 3 of training)
#   bash local/finetune_new_voices.sh --other-sets test   # also score the corpus's test set (forgetting)
#
# Stages
#   0  data/{ft_train,ft_dev,ft_test}: FINETUNE_VARIANTS x FINETUNE_PITCHES of funasr_lite/data/synth.py
#      (espeak-ng voices in no list of the corpus), the same voices in every set, distinct sentences
#      none of which is in data/{train,dev,test}, made only of characters of the base model's
#      tokens.json (validated: Kaldi rules, check_data against that token list)
#   1  decode ft_test (and --other-sets) with the base model -> exp/<ft>/decode_base_<set>, CER before
#   2  finetune: conf/paraformer_large_finetune.yaml + --init_param exp/<base>/model_dir (keeps its
#      tokens.json and am.mvn) with CPU-sized overrides -> exp/<ft>/model_dir
#   3  decode ft_test (and --other-sets) with the finetuned model -> exp/<ft>/decode_ft_<set>, CER after
#   4  exp/<ft>/RESULTS.md (before/after table, write_results --decode x2) and the %CER lines
#
# Reruns resume: wavs and decodes already made are kept, a killed finetuning continues from its last
# checkpoint, and a finished one is not redone (rm -r exp/<ft> to finetune again with other options).
set -euo pipefail
cmdline=$(printf '%q ' bash "$0" "$@"); cmdline=${cmdline% }   # for RESULTS.md, before the cd
cd "$(dirname "$0")/.."
. ./path.sh

# Begin configuration section.
stage=0
stop_stage=4
base=paraformer_synth_cpu   # the base experiment: $exp/$base/model_dir
base_dir=                   # empty: $exp/$base/model_dir
ft_name=                    # empty: ${base}_ft_new_voices
data=data
exp=exp
nj=2
device=cpu
seed=777
num_ft_train=1500           # new-voice utterances: finetuning, checkpoint selection (0: none), test
num_ft_dev=40
num_ft_test=100
variants=                   # comma list of espeak-ng cmn variants; empty: FINETUNE_VARIANTS
pitches=                    # comma list; empty: FINETUNE_PITCHES
top_chars=                  # empty: the base corpus's ($data/synth_meta.json), else 400 / 2 / 6
min_chars=
max_chars=
check_audio=true            # stage 0 decodes every file
other_sets=                 # corpus sets (e.g. "test") also scored before and after
ft_config=$FUNASR_LITE_ROOT/conf/paraformer_large_finetune.yaml
max_minutes=3               # finetuning wall time
max_epoch=100               # an upper bound: --max-minutes ends the run
lr=0.0005                   # a small model from a trained start (the base trained at 0.002)
warmup_steps=100
batch_size=6000             # frame budget per batch (the CPU recipe's)
train_threads=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)   # all cores (path.sh sets OMP_NUM_THREADS=1, which nproc obeys)
train_extra=                # more trainer overrides, e.g. "--train_conf.keep_nbest_models 3"
decode_config=conf/decode.yaml
# End configuration section.
help_message="Usage: $0 [--stage N] [--stop-stage N] [--base EXP_NAME | --base-dir MODEL_DIR] [--ft-name NAME]
          [--num-ft-train N] [--num-ft-dev N] [--num-ft-test N] [--variants a,b] [--pitches 45,55]
          [--max-minutes M] [--lr LR] [--other-sets \"test\"] [--train-extra \"--key value ...\"] [--data DIR] [--exp DIR]"
. utils/parse_options.sh

prog=$(basename "$0")
die() { echo "$prog: error: $*" >&2; exit 1; }
base_dir=${base_dir:-$exp/$base/model_dir}
dir=$exp/${ft_name:-${base}_ft_new_voices}
for f in model.pt config.yaml tokens.json am.mvn; do
  [ -f "$base_dir/$f" ] || die "base model folder $base_dir has no $f (train it first: bash run.sh --stage 0 --stop-stage 5)"
done
[ -f "$ft_config" ] || die "no finetuning config $ft_config"
score_sets="ft_test $other_sets"
for x in $other_sets; do [ -f $data/$x/wav.scp ] || die "--other-sets: no $data/$x/wav.scp"; done
audio_check=; [ "$check_audio" = true ] && audio_check=--audio
decode_cmd=utils/run.pl
[ "$device" = cuda ] && decode_cmd="utils/run.pl --gpu 1"

# corpus text options: those of the base corpus unless given
read -r meta_top meta_min meta_max < <(python -c '
import json, sys
try:
    m = json.load(open(sys.argv[1]))
    print(m["top_chars"], m["min_chars"], m["max_chars"])
except (OSError, ValueError, KeyError):
    print(400, 2, 6)' $data/synth_meta.json)
top_chars=${top_chars:-$meta_top}; min_chars=${min_chars:-$meta_min}; max_chars=${max_chars:-$meta_max}

# run_logged FILE CMD...: record CMD in FILE (RESULTS.md lists it), run it, append its run time
run_logged() {
  local rec=$1 t0=$SECONDS; shift
  mkdir -p "$(dirname "$rec")"
  { echo "# run.sh: $cmdline"; echo "# started: $(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "# cwd: $PWD"; printf '%q ' "$@"; echo; } > "$rec"
  "$@"
  echo "# elapsed_s: $((SECONDS - t0))" >> "$rec"
}

# decode_score MODEL_DIR TAG: decode and score $score_sets into $dir/<TAG>_<set>
decode_score() {
  local model=$1 tag=$2 x
  for x in $score_sets; do
    # a killed decode resumes; one made with an older model is redone
    [ -d $dir/${tag}_$x ] && [ $model/model.pt -nt $dir/${tag}_$x/decode.cmd ] && rm -r $dir/${tag}_$x
    run_logged $dir/${tag}_$x/decode.cmd python -m funasr_lite.bin.inference --model $model \
      --wav_scp $data/$x/wav.scp --output_dir $dir/${tag}_$x --nj $nj --cmd "$decode_cmd" \
      --device $device --config $decode_config
    run_logged $dir/${tag}_$x/score.cmd python -m funasr_lite.bin.compute_cer \
      $data/$x/text $dir/${tag}_$x/1best_recog/text $dir/${tag}_$x/cer.txt --json $dir/${tag}_$x/cer.json
    python -c 'import json, sys; m = json.load(open(sys.argv[1] + "/cer.json"))
print("{}: %CER {:.2f} [ {} / {}, {} ins, {} del, {} sub ] {}".format(
    sys.argv[2], m["cer"], m["errors"], m["n"], m["i"], m["d"], m["s"], sys.argv[1]))' \
      $dir/${tag}_$x "$tag $x"
  done
}

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  echo "stage 0: new-voice sets ft_train/ft_dev/ft_test ($num_ft_train/$num_ft_dev/$num_ft_test utterances of" \
    "$min_chars-$max_chars characters, only characters of $base_dir/tokens.json)"
  sets="ft_train:$num_ft_train,ft_test:$num_ft_test"
  [ "$num_ft_dev" -gt 0 ] && sets="ft_train:$num_ft_train,ft_dev:$num_ft_dev,ft_test:$num_ft_test"
  excl=()
  for x in train dev test; do [ -f $data/$x/text ] && excl+=(--exclude_text $data/$x/text); done
  python -m funasr_lite.bin.synth_voice_set --out_dir $data --wav_dir $data/wavs --sets $sets \
    ${variants:+--variants $variants} ${pitches:+--pitches $pitches} --spk_prefix ft \
    --token_list $base_dir/tokens.json "${excl[@]}" --top_chars $top_chars --min_chars $min_chars \
    --max_chars $max_chars --seed $seed --nj $nj --meta $data/ft_synth_meta.json
  for x in ${sets//,/ }; do
    x=${x%%:*}
    utils/validate_data_dir.sh $data/$x
    python -m funasr_lite.bin.check_data --data_dir $data/$x --token_list $base_dir/tokens.json $audio_check
  done
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  echo "stage 1: decode $score_sets with the base model $base_dir (CER before finetuning)"
  decode_score $base_dir decode_base
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ] && [ -f $dir/model_dir/model.pt ]; then
  # a finished finetuning is kept (a killed one, without model_dir/, resumes from its checkpoints)
  [ $base_dir/model.pt -nt $dir/model_dir/model.pt ] && die "$dir was finetuned from an older $base_dir/model.pt (rm -r $dir to finetune again)"
  echo "stage 2: $dir/model_dir exists, not finetuning again (rm -r $dir to redo)"
elif [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  echo "stage 2: finetune $base_dir on $data/ft_train ($max_minutes min, lr $lr, $device) -> $dir"
  dev_opts=; [ -f $data/ft_dev/wav.scp ] && [ "$num_ft_dev" -gt 0 ] && dev_opts="--dev_data $data/ft_dev"
  # CPU sizing of conf/paraformer_large_finetune.yaml (written for Paraformer-large on GPUs):
  # fbank cached in memory once (no workers, so no dither: the base model trained without it),
  # fp32, a short warm-up, evaluation and checkpoint each epoch, the time budget ends training.
  cpu_opts=; [ "$device" = cpu ] && cpu_opts="--dataset_conf.preload device --dataset_conf.num_workers 0 --dataset_conf.dither 0.0 --train_conf.dtype fp32"
  # shellcheck disable=SC2086  # word lists
  run_logged $dir/train.cmd python -m funasr_lite.bin.train --config $ft_config \
    --init_param $base_dir --train_data $data/ft_train $dev_opts --output_dir $dir \
    --device $device --seed $seed --num_threads $train_threads \
    --optim_conf.lr $lr --scheduler_conf.warmup_steps $warmup_steps --dataset_conf.batch_size $batch_size \
    --train_conf.max_minutes $max_minutes --train_conf.max_epoch $max_epoch \
    --train_conf.validate_interval 0 --train_conf.log_interval 20 $cpu_opts $train_extra
  [ -f $dir/model_dir/model.pt ] || die "training wrote no $dir/model_dir/model.pt"
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  echo "stage 3: decode $score_sets with the finetuned model $dir/model_dir (CER after finetuning)"
  [ -f $dir/model_dir/model.pt ] || die "no finetuned model $dir/model_dir/model.pt (run stage 2)"
  decode_score $dir/model_dir decode_ft
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  echo "stage 4: $dir/RESULTS.md"
  python -m funasr_lite.bin.write_results --exp_dir $dir --sets "$(echo $score_sets | tr ' ' ,)" \
    --decode base $base_dir decode_base --decode finetuned $dir/model_dir decode_ft \
    --command "$cmdline" --title "egs/synth/asr: finetuning $base_dir on new espeak-ng voices"
fi
echo "$prog: done (stages $stage-$stop_stage) [elapsed=${SECONDS}s]"
