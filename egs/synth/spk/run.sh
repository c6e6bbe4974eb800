#!/usr/bin/env bash
# egs/synth/spk: train CAM++ speaker embeddings on synthetic espeak-ng voices and measure the
# diarization error rate on held-out synthetic meetings. No download needed.
#
#   bash run.sh                          # --size cpu: tiny CAM++, minutes on 2 cores (CI)
#   bash run.sh --size gpu --stage 0 --stop-stage 1     # data, on a machine with espeak-ng
#   bash run.sh --size gpu --stage 2 --stop-stage 2     # training, on the GPU machine (rerun to resume)
#   bash run.sh --size gpu --stage 3 --stop-stage 4     # diarize + DER -> <diar dir>/RESULTS.md
#
# Stages
#   0  training utterances: voice variant x pitch x speed speakers -> $data/spk_train (FLAC)
#   1  held-out meetings (2-4 speakers of voices never trained on, no overlap) + reference RTTM
#   2  train CAM++ with an AAM-softmax head -> $exp/campplus_$size/model (FunASR model folder)
#   3  diarize the meetings: VAD -> 1.5 s chunks -> CAM++ -> clustering -> RTTM
#   4  DER (collar 0.25 s, md-eval rules) -> $exp/campplus_$size/diar_meetings<tag>_<vad>vad[...]/{der.txt,RESULTS.md}
set -euo pipefail
cd "$(dirname "$0")"
. ./path.sh

# Begin configuration section.
stage=0
stop_stage=4
size=cpu              # cpu | gpu: sizes and training options from conf/$size.conf
nj=2                  # parallel espeak-ng processes
seed=777              # training-data and training seed
meeting_seed=2024     # meeting seed
meet_tag=             # meetings dir suffix, e.g. "_dev" with another --meeting-seed for a tuning set
merge_thr=0.78        # clustering: centroid-cosine merge threshold (FunASR's 0.78)
data=data
exp=exp
vad=fsmn              # fsmn: FSMN-VAD from $vad_model | oracle: speech regions of the reference RTTM
vad_model=$FUNASR_LITE_ROOT/tools/fsmn_vad
oracle_num_spk=false  # true: give the clustering the true speaker count
num_variants=         # the options below default to conf/$size.conf
pitches=
utts_per_spk=
num_meetings=
meeting_min_dur=
meeting_max_dur=
train_opts=
diar_device=
# End configuration section.
help_message="Usage: $0 [--stage N] [--stop-stage N] [--size cpu|gpu] [--vad fsmn|oracle] [--oracle-num-spk true|false] [--nj N] [--data DIR] [--exp DIR]"
. utils/parse_options.sh

case $size in
  cpu|gpu) . conf/$size.conf ;;
  *) echo "$0: --size must be cpu or gpu, got '$size'" >&2; exit 1 ;;
esac
dir=$exp/campplus_$size
meetings=$data/meetings_${size}${meet_tag}
diar=$dir/diar_meetings${meet_tag}_${vad}vad
$oracle_num_spk && diar=${diar}_oraclespk
[ "$merge_thr" = 0.78 ] || diar=${diar}_thr$merge_thr

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (run.sh) $*"; }

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  log "stage 0: training speakers ($num_variants variants x pitches $pitches, $utts_per_spk utts each)"
  python ../local/synth_spk_data.py --out_dir $data/spk_train_$size --audio_dir $data/spk_train_$size/audio \
    --num_variants $num_variants --pitches $pitches --utts_per_spk $utts_per_spk --seed $seed --nj $nj
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "stage 1: $num_meetings held-out meetings of ${meeting_min_dur}-${meeting_max_dur} s"
  python ../local/make_meetings.py --out_dir $meetings --audio_dir $meetings/audio \
    --num_meetings $num_meetings --min_speakers 2 --max_speakers 4 \
    --min_dur $meeting_min_dur --max_dur $meeting_max_dur --seed $meeting_seed --nj $nj
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  log "stage 2: train CAM++ ($size) -> $dir"
  # shellcheck disable=SC2086
  python -m funasr_lite.bin.train_spk --data $data/spk_train_$size --out $dir --seed $seed $train_opts
  if [ ! -f $dir/model/campplus_cn_common.bin ]; then
    log "training stopped before the last epoch (time budget); rerun stage 2 to resume"
    exit 0
  fi
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  log "stage 3: diarize $meetings with $dir/model (vad=$vad, oracle_num_spk=$oracle_num_spk)"
  if [ "$vad" = fsmn ]; then
    [ -f "$vad_model/model.pt" ] || { echo "$0: no FSMN-VAD at $vad_model (tools/fetch_fsmn_vad.sh), or use --vad oracle" >&2; exit 1; }
    vad_opt="--vad_model $vad_model"
  else
    vad_opt="--oracle_vad $meetings/ref.rttm"
  fi
  spk_opt=
  $oracle_num_spk && spk_opt="--num_speakers_file $meetings/reco2num_spk"
  # shellcheck disable=SC2086
  python -m funasr_lite.bin.diarize --wav_scp $meetings/wav.scp --spk_model $dir/model \
    --out_dir $diar $vad_opt $spk_opt --merge_thr $merge_thr --device $diar_device
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  log "stage 4: DER -> $diar/der.txt"
  cmd="python -m funasr_lite.bin.compute_der --collar 0.25 $meetings/ref.rttm $diar/hyp.rttm $diar/der.txt --json $diar/der.json"
  $cmd
  cat $diar/der.txt
  python local/der_results.py --diar_dir $diar --model_dir $dir/model --meetings_dir $meetings \
    --title "egs/synth/spk results ($size)" --scoring "$cmd" \
    --recipe "bash run.sh --size $size --vad $vad --oracle-num-spk $oracle_num_spk --merge-thr $merge_thr --meeting-seed $meeting_seed --meet-tag '$meet_tag'"
fi
log "Successfully finished. [elapsed=${SECONDS}s]"
