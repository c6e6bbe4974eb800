#!/usr/bin/env bash
# One device call: espeak-ng from carried .debs -> full --size gpu data -> CAM++ training -> DER sweep
# (egs/synth/spk). Prepared by tools/gpu_machine/prepare.sh, which copies this script to
# .espeak/device_run.sh; run from the repository root: BUDGET=570 EPOCHS=80 bash .espeak/device_run.sh
set -uo pipefail
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
R=$PWD; L=$OUT/log.txt; exec > >(tee -a $L) 2>&1
BUDGET=${BUDGET:-570}   # seconds for the whole script
. tools/gpu_machine_env.sh || exit 1
espeak-ng --version; espeak-ng -v cmn -w /tmp/x.wav 你好 && ls -la /tmp/x.wav || exit 1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
cd egs/synth/spk
echo "[$(el)s] stage 0"
timeout 260 bash run.sh --size gpu --stage 0 --stop-stage 0 --nj 16 || { echo "stage 0 failed"; exit 1; }
echo "[$(el)s] stage 0 done: $(wc -l < data/spk_train_gpu/wav.scp) utts, $(wc -l < data/spk_train_gpu/spk2utt) spk, $(du -sh data/spk_train_gpu | cut -f1)"
# meetings (CPU) while training (GPU)
( bash run.sh --size gpu --stage 1 --stop-stage 1 --num-meetings 6 --nj 5 > $OUT/meet.log 2>&1
  md5sum data/meetings_gpu/ref.rttm >> $OUT/meet.log ) & P1=$!
( bash run.sh --size gpu --stage 1 --stop-stage 1 --num-meetings 6 --nj 5 --meeting-seed 77 --meet-tag _dev > /tmp/meetdev.log 2>&1
  md5sum data/meetings_gpu_dev/ref.rttm >> /tmp/meetdev.log ) & P2=$!
S=$(el); TRAIN_S=$(( BUDGET - S - 150 ))
SPE=25; EPOCHS=${EPOCHS:-$(( TRAIN_S * 100 / 27 / SPE ))}   # ~0.27 s/step all-in
MAXMIN=$(python3 -c "print(round(($TRAIN_S+60)/60,2))")
echo "[$(el)s] stage 2: $EPOCHS epochs x $SPE steps, max_minutes $MAXMIN"
timeout $(( TRAIN_S + 90 )) bash run.sh --size gpu --stage 2 --stop-stage 2 \
  --train-opts "--device cuda --amp --epochs $EPOCHS --steps_per_epoch $SPE --batch_size 128 --lr 2e-3 --max_minutes $MAXMIN --no_progress"
echo "[$(el)s] stage 2 done"; wait $P1 $P2; cat /tmp/meetdev.log >> $OUT/meet.log; echo "[$(el)s] meetings done"
D=exp/campplus_gpu
cp $D/train_log.jsonl $D/train_config.json $OUT/ 2>/dev/null
[ -f $D/model/campplus_cn_common.bin ] || { echo "no model exported"; ls $D $D/checkpoints; exit 1; }
cp $D/model/train_info.json $OUT/; sha256sum $D/model/campplus_cn_common.bin
tar -C $D -cf - model | split -b 15m - $OUT/model.tar.
export OMP_NUM_THREADS=2
for thr in 0.78 0.6 0.55 0.5 0.45 0.4 0.35 0.3; do
  for tag in "" _dev; do
    ms=2024; [ "$tag" = _dev ] && ms=77
    timeout $(( BUDGET - $(el) )) bash run.sh --size gpu --stage 3 --stop-stage 4 --vad fsmn --merge-thr $thr --meeting-seed $ms --meet-tag "$tag" > /tmp/diar${tag}_$thr.log 2>&1 & PIDS="${PIDS:-} $!"
  done
done
timeout $(( BUDGET - $(el) )) bash run.sh --size gpu --stage 3 --stop-stage 4 --vad fsmn --oracle-num-spk true > /tmp/diar_oraclespk.log 2>&1 & PIDS="$PIDS $!"
wait $PIDS; echo "[$(el)s] diarization done"
for f in $(ls -d $D/diar_meetings*/ | sort); do echo "=== $f"; cat $f/RESULTS.md 2>/dev/null || cat $f/der.txt 2>/dev/null || echo MISSING; done > $OUT/der_all.txt
for f in /tmp/diar*.log; do echo "=== $f"; tail -5 $f; done >> $OUT/der_all.txt
echo "[$(el)s] all done"
