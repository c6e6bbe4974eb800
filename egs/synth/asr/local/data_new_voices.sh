#!/usr/bin/env bash
# Corpus preparation of local/finetune_new_voices.sh (asr.sh stage 0): data/{ft_train,ft_dev,ft_test}
# spoken by espeak-ng voices the corpus never used, sentences in none of data/{train,dev,test},
# only characters of --token_list, sentence lengths and character set of the base corpus
# (data/synth_meta.json; 400 / 2-6 characters without it).
set -euo pipefail
data=data
nj=2
token_list=       # the base model's tokens.json
seed=777
num_ft_train=1500
num_ft_dev=40     # 0: no ft_dev
num_ft_test=100
variants=         # comma lists; empty: FINETUNE_VARIANTS / FINETUNE_PITCHES
pitches=
. utils/parse_options.sh

read -r top_chars min_chars max_chars < <(python -c '
import json, sys
try:
    m = json.load(open(sys.argv[1]))
    print(m["top_chars"], m["min_chars"], m["max_chars"])
except (OSError, ValueError, KeyError):
    print(400, 2, 6)' $data/synth_meta.json)
sets="ft_train:$num_ft_train,ft_test:$num_ft_test"
[ "$num_ft_dev" -gt 0 ] && sets="ft_train:$num_ft_train,ft_dev:$num_ft_dev,ft_test:$num_ft_test"
excl=()
for x in train dev test; do [ -f $data/$x/text ] && excl+=(--exclude_text $data/$x/text); done
echo "$0: new-voice sets $sets ($min_chars-$max_chars characters, only characters of $token_list)"
python ../local/synth_voice_set.py --out_dir $data --wav_dir $data/wavs --sets $sets \
  ${variants:+--variants $variants} ${pitches:+--pitches $pitches} --spk_prefix ft \
  --token_list $token_list "${excl[@]}" --top_chars $top_chars --min_chars $min_chars \
  --max_chars $max_chars --seed $seed --nj $nj --meta $data/ft_synth_meta.json
