#!/usr/bin/env bash
# AISHELL-1 corpus preparation (asr.sh stage 0 of both egs/aishell recipes):
# data/{train,dev,test}/{wav.scp,text,utt2spk,spk2utt}, text = the transcript's words joined.
#   local/data.sh --data data --data_root /corpora/aishell   (the folder holding data_aishell/)
set -euo pipefail
data=data
nj=1        # unused: the preparation only reads file lists
data_root=
. utils/parse_options.sh
[ -n "$data_root" ] || { echo "$0: --data-root is required (the folder holding data_aishell/)" >&2; exit 1; }
echo "$0: AISHELL-1 data preparation from $data_root"
python ../local/aishell_data_prep.py --data_root "$data_root" --out_dir $data
