#!/usr/bin/env bash
# egs/TEMPLATE/asr/asr.sh: the stages every Paraformer recipe shares (ESPnet's egs2/TEMPLATE/asr1
# shape). A recipe links it as ./asr.sh and calls it from its run.sh with its corpus options; it
# runs in the recipe folder, whose local/data.sh prepares the corpus and conf/ holds the configs.
#
# Two modes:
#   from scratch (default)    CMVN and a token list from the training set, then train
#   --init_model DIR          finetune a model folder: its tokens.json, am.mvn, frontend and
#                             architecture are kept; stage 4 decodes it too, for a before/after table
#
# Stages
#   0  $data_sh --data DIR --nj N $local_data_opts -> data/<set>/{wav.scp,text,utt2spk,spk2utt};
#      every set validated (Kaldi rules, and check_data, which decodes every file with --check_audio)
#   1  fbank of the training and validation sets -> dump/<set>/feats.scp over --nj jobs ($train_cmd);
#      from scratch also global CMVN -> exp/cmvn/{am.mvn,cmvn.json}. --dump_feats false skips it
#      (the trainer then computes fbank itself)
#   2  from scratch: the token list data/lang/tokens.{json,txt} from the training set; then every set
#      is checked against the token list in use (characters outside it are reported, scored as errors)
#   3  train (torchrun for --ngpu > 1) -> exp/<exp_name>/, whose model_dir/ is a FunASR model folder
#   4  decode --test_sets with model_dir (decode_<set>/), and with --init_model (decode_orig_<set>/)
#      over --nj jobs ($decode_cmd, $cuda_cmd on a GPU), options from --decode_config
#   5  CER -> decode*_<set>/cer.{txt,json}; exp/<exp_name>/RESULTS.md (commands, model checksum,
#      CER with S/D/I, hardware)
# Reruns resume: a killed training continues from its last checkpoint, a killed decode from its last
# finished job; a decode made with an older model is redone.
set -euo pipefail
. ./path.sh
. ./cmd.sh

# Begin configuration section.
stage=0
stop_stage=5
nj=2                  # parallel jobs (data preparation, features, decoding)
device=cpu            # training and decoding: cpu | cuda
ngpu=1                # training GPUs; more than 1 runs torchrun --nproc_per_node ngpu
seed=777              # training seed (recorded in the experiment's config.yaml)
data=data
dump=dump
exp=exp
data_sh=local/data.sh # corpus preparation, called with --data DIR --nj N $local_data_opts
local_data_opts=      # the corpus's own options
train_set=train
valid_set=dev         # checkpoint selection; empty: none
test_sets="dev test"
check_audio=true      # stage 0 decodes every file (rates, channels, durations); false skips it
frontend_conf=conf/frontend.yaml   # fbank settings from scratch (with --init_model: the model's)
dump_feats=true       # false: no stage 1 dumps, the trainer computes fbank (not with CMVN from scratch)
init_model=           # a model folder to finetune (model.pt, config.yaml, tokens.json, am.mvn)
freeze_param=         # with --init_model: comma list of parameter prefixes kept fixed, e.g. encoder
train_config=         # the trainer's YAML (required)
train_extra=          # extra trainer options, e.g. "--train_conf.max_epoch 5" (any YAML key)
train_threads=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)   # torch CPU threads of training (all cores; path.sh sets 1 for jobs)
exp_name=             # empty: the train config's file name without .yaml
decode_config=conf/decode.yaml     # python -m funasr_lite.bin.inference --config (key: value)
results_title=        # RESULTS.md heading; empty: the experiment folder
run_cmd=              # the command line RESULTS.md records (run.sh passes its own); empty: this one
# End configuration section.
cmdline=$(printf '%q ' bash "$0" "$@"); cmdline=${cmdline% }
. utils/parse_options.sh

die() { echo "$(basename "$0"): error: $*" >&2; exit 1; }
init_model_py=$(dirname "$(readlink -f "$0")")/init_model.py   # beside this script in egs/TEMPLATE/asr
[ -n "$train_config" ] || die "--train_config is required"
run_cmd=${run_cmd:-$cmdline}
dir=$exp/${exp_name:-$(basename "$train_config" .yaml)}
dump_sets=$train_set${valid_set:+ $valid_set}
all_sets=$(printf '%s\n' $train_set $valid_set $test_sets | awk '!seen[$0]++' | tr '\n' ' ')
job_cmd=$decode_cmd; [ "$device" = cuda ] && job_cmd=$cuda_cmd
token_list=$data/lang/tokens.json
cmvn_opts="--cmvn_file $exp/cmvn/am.mvn"
if [ -n "$init_model" ]; then  # every stage after data preparation reads the model: fail early
  [ "$stop_stage" -lt 1 ] || python $init_model_py check "$init_model"
  [ "$stop_stage" -lt 1 ] || token_list=$(python $init_model_py token_list "$init_model")
  frontend_conf=$dump/frontend.yaml cmvn_opts=
elif [ "$dump_feats" = false ]; then
  die "--dump_feats false needs --init_model (from scratch, CMVN is computed from the dumped features)"
fi

# run_logged FILE CMD...: record CMD in FILE (RESULTS.md lists it), run it, append its run time
run_logged() {
  local rec=$1 t0=$SECONDS; shift
  mkdir -p "$(dirname "$rec")"
  { echo "# run.sh: $run_cmd"; echo "# started: $(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "# cwd: $PWD"; printf '%q ' "$@"; echo; } > "$rec"
  "$@"
  echo "# elapsed_s: $((SECONDS - t0))" >> "$rec"
}

# decode MODEL OUT SET: decode $data/SET with MODEL into OUT (kept when newer than the model)
decode() {
  local model=$1 out=$2 x=$3
  [ -d "$out" ] && [ "$model/model.pt" -nt "$out/decode.cmd" ] && rm -r "$out"
  run_logged "$out/decode.cmd" python -m funasr_lite.bin.inference --model "$model" \
    --wav_scp $data/$x/wav.scp --output_dir "$out" --nj $nj --cmd "$job_cmd" --device $device --config $decode_config
}

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  echo "stage 0: corpus preparation ($data_sh), then validation of $all_sets"
  # shellcheck disable=SC2086  # $local_data_opts is a word list
  $data_sh --data $data --nj $nj $local_data_opts
  audio_check=; [ "$check_audio" = true ] && audio_check=--audio
  for x in $all_sets; do
    utils/validate_data_dir.sh $data/$x
    python -m funasr_lite.bin.check_data --data_dir $data/$x $audio_check
  done
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ] && [ "$dump_feats" = true ]; then
  [ -n "$init_model" ] && python $init_model_py frontend_conf "$init_model" $frontend_conf
  echo "stage 1: fbank of $dump_sets over $nj jobs ($frontend_conf)${cmvn_opts:+, and global CMVN over $data/$train_set}"
  for x in $dump_sets; do
    $train_cmd JOB=1:$nj $dump/$x/log/dump.JOB.log \
      python -m funasr_lite.bin.dump_fbank --wav_scp $data/$x/wav.scp --out_dir $dump/$x \
        --frontend_conf $frontend_conf --nj $nj --job JOB
    python -m funasr_lite.bin.dump_fbank --wav_scp $data/$x/wav.scp --out_dir $dump/$x \
      --frontend_conf $frontend_conf --nj $nj   # merges the jobs' scp files
  done
  [ -z "$init_model" ] && python -m funasr_lite.bin.compute_cmvn --feats_scp $dump/$train_set/feats.scp \
    --frontend_conf $frontend_conf --out_dir $exp/cmvn   # from the dumped fbank (= the audio's)
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  check_sets=$all_sets
  if [ -z "$init_model" ]; then
    python -m funasr_lite.bin.make_tokens --text $data/$train_set/text --out_dir $data/lang
    check_sets=$(printf '%s\n' $valid_set $test_sets | awk '!seen[$0]++' | tr '\n' ' ')
  fi
  echo "stage 2: check $check_sets against the token list $token_list"
  for x in $check_sets; do
    python -m funasr_lite.bin.check_data --data_dir $data/$x --token_list "$token_list" \
      || echo "$0: note: $data/$x has characters outside the token list (listed above)"
  done
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  where=$device; [ "$device" = cuda ] && where="$ngpu GPU(s)"
  echo "stage 3: train with $train_config on $where -> $dir${init_model:+ (from $init_model)}"
  [ -n "$init_model" ] && [ -f $dir/model_dir/model.pt ] && [ "$init_model/model.pt" -nt $dir/model_dir/model.pt ] \
    && die "$dir was finetuned from an older $init_model/model.pt (rm -r $dir to finetune again)"
  train="python -m funasr_lite.bin.train"
  [ "$device" = cuda ] && [ "$ngpu" -gt 1 ] && train="torchrun --standalone --nproc_per_node $ngpu -m funasr_lite.bin.train"
  opts="--train_data $data/$train_set"
  [ -n "$valid_set" ] && opts="$opts --dev_data $data/$valid_set"
  [ "$dump_feats" = true ] && opts="$opts --train_feats $dump/$train_set/feats.scp"
  [ "$dump_feats" = true ] && [ -n "$valid_set" ] && opts="$opts --dev_feats $dump/$valid_set/feats.scp"
  if [ -n "$init_model" ]; then
    opts="$opts --init_param $init_model${freeze_param:+ --freeze_param $freeze_param}"
  else
    opts="$opts --token_list $token_list $cmvn_opts"
  fi
  # shellcheck disable=SC2086  # $train, $opts and $train_extra are word lists
  run_logged $dir/train.cmd $train --config $train_config $opts --output_dir $dir \
    --device $device --seed $seed --num_threads $train_threads $train_extra
  [ -f $dir/model_dir/model.pt ] || die "training wrote no $dir/model_dir/model.pt"
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  echo "stage 4: decode $test_sets with $dir/model_dir${init_model:+ and $init_model} over $nj jobs"
  for x in $test_sets; do
    [ -n "$init_model" ] && decode "$init_model" $dir/decode_orig_$x $x
    decode $dir/model_dir $dir/decode_$x $x
  done
fi

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  echo "stage 5: score $test_sets -> $dir/decode*_<set>/cer.txt and $dir/RESULTS.md"
  decodes=decode; [ -n "$init_model" ] && decodes="decode_orig decode"
  for x in $test_sets; do
    for d in $decodes; do
      run_logged $dir/${d}_$x/score.cmd python -m funasr_lite.bin.compute_cer \
        $data/$x/text $dir/${d}_$x/1best_recog/text $dir/${d}_$x/cer.txt --json $dir/${d}_$x/cer.json
    done
  done
  table=; [ -n "$init_model" ] && table="--decode original $init_model decode_orig --decode finetuned $dir/model_dir decode"
  # shellcheck disable=SC2086  # $table is a word list
  python -m funasr_lite.bin.write_results --exp_dir $dir --sets "$(echo $test_sets | tr ' ' ,)" $table \
    --command "$run_cmd" --title "${results_title:-$dir results}"
fi
echo "$0: done (stages $stage-$stop_stage) [elapsed=${SECONDS}s]"
