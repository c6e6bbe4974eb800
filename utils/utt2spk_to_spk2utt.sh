#!/usr/bin/env bash
# utt2spk_to_spk2utt.sh: "<utt> <spk>" lines -> "<spk> <utt1> <utt2> ..." lines.
#
# Usage: utils/utt2spk_to_spk2utt.sh [utt2spk ...] > spk2utt   (no file, or "-": stdin)
# Speakers are sorted under LC_ALL=C; each speaker's utterances keep their input order
# (sorted when utt2spk is). Exits 1 on a line without exactly 2 fields or a repeated
# utterance id.
set -euo pipefail
export LC_ALL=C
case "${1:-}" in --help|-h) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;; esac
awk '
  NF == 0 { next }
  NF != 2 { printf "utt2spk_to_spk2utt.sh: ERROR: %s line %d: expected \"<utt> <spk>\", got %d fields\n", FILENAME, FNR, NF > "/dev/stderr"; bad = 1; exit 1 }
  ($1 in seen) { printf "utt2spk_to_spk2utt.sh: ERROR: %s line %d: utterance %s repeated\n", FILENAME, FNR, $1 > "/dev/stderr"; bad = 1; exit 1 }
  { seen[$1] = 1; if ($2 in utts) utts[$2] = utts[$2] " " $1; else utts[$2] = $1 }
  END { if (!bad) for (s in utts) print s " " utts[s] }' "$@" | sort -k1,1
