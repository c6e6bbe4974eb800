#!/usr/bin/env bash
# spk2utt_to_utt2spk.sh: "<spk> <utt1> <utt2> ..." lines -> "<utt> <spk>" lines.
#
# Usage: utils/spk2utt_to_utt2spk.sh [spk2utt ...] > utt2spk   (no file, or "-": stdin)
# Output sorted by utterance id under LC_ALL=C. Exits 1 on a speaker line without
# utterances or an utterance listed twice.
set -euo pipefail
export LC_ALL=C
case "${1:-}" in --help|-h) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;; esac
awk '
  NF == 0 { next }
  NF < 2 { printf "spk2utt_to_utt2spk.sh: ERROR: %s line %d: speaker %s has no utterances\n", FILENAME, FNR, $1 > "/dev/stderr"; bad = 1; exit 1 }
  { for (k = 2; k <= NF; k++) {
      if ($k in seen) { printf "spk2utt_to_utt2spk.sh: ERROR: %s line %d: utterance %s listed twice\n", FILENAME, FNR, $k > "/dev/stderr"; bad = 1; exit 1 }
      seen[$k] = $1 } }
  END { if (!bad) for (u in seen) print u " " seen[u] }' "$@" | sort -k1,1
