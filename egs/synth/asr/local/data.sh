#!/usr/bin/env bash
# Corpus preparation of egs/synth/asr (asr.sh stage 0): data/{train,dev,test} spoken by espeak-ng
# voices, dev/test voices and sentences held out from train. Options other than --data and --nj
# go to ../local/synth_corpus.py (--num_train, --top_chars, --seed, ...; see its --help).
set -euo pipefail
data=data
nj=2
parse_options_pass_unknown=true
. utils/parse_options.sh
python ../local/synth_corpus.py --out_dir $data --wav_dir $data/wavs --nj $nj "${passthrough_opts[@]}"
