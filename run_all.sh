#!/usr/bin/env bash
# The main job: install what is needed, then run the built-in egs/synth/asr recipe end to end
# (stages 0-5) and print its CER:
#   0 generate a Mandarin corpus with espeak-ng (CPU size: 3000/200/200 utterances of 2-6
#     characters; dev/test voices and sentences held out) and validate it
#   1 fbank features + global CMVN   2 token list
#   3 train a small Paraformer (conf/paraformer_synth_cpu.yaml: 3,500 steps, about 10.5 minutes on 2 idle cores)
#   4 decode dev and test with the trained model   5 CER -> egs/synth/asr/exp/<exp>/RESULTS.md
# Options are passed on to egs/synth/asr/run.sh, e.g.
#   bash run_all.sh --size gpu --nj 16        # the GPU-sized corpus and model (needs CUDA)
#   bash run_all.sh --stage 3                 # again from training, on the data already made
set -euo pipefail
cd "$(dirname "$0")"
bash tools/install.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
bash egs/synth/asr/run.sh --stage 0 --stop-stage 5 "$@" | tee "$log"
echo
echo "== egs/synth/asr CER (details: the RESULTS.md named above) =="
grep '%CER' "$log" || echo "(no CER: stage 5 did not run)"
