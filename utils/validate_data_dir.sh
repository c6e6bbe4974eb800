#!/usr/bin/env bash
# validate_data_dir.sh: check a Kaldi-format data directory (funasr_lite's own version).
#
# Usage: utils/validate_data_dir.sh [--no-text] [--no-wav] [--no-spk-sort] <data-dir>
#  e.g.: utils/validate_data_dir.sh --no-text data/test
#
# Checks (exit 1 with "validate_data_dir.sh: ERROR: <file> line <n>: <problem>"):
#   * wav.scp must exist (unless --no-wav); text must exist (unless --no-text);
#     utt2spk and spk2utt are optional but come together.
#   * every present file among wav.scp text utt2spk spk2utt segments utt2dur
#     utt2num_frames feats.scp utt2lang utt2uniq: no empty lines, no line starting with
#     whitespace, no CR (DOS) line endings, a trailing newline, at least two fields
#     (text: a key alone is allowed, an empty transcript), keys sorted under LC_ALL=C
#     with no duplicates.
#   * the utterance list is the keys of segments if present, else of wav.scp; text,
#     utt2spk and the other utterance-indexed files must have exactly that key set.
#   * segments: 4 fields "<utt> <rec> <start> <end>", numeric 0 <= start < end, and
#     every <rec> a key of wav.scp (recordings without segments only warn).
#   * utt2spk: exactly 2 fields; speakers non-decreasing in utterance order unless
#     --no-spk-sort (Kaldi's habit of prefixing utterance ids with the speaker id);
#     spk2utt must equal utils/utt2spk_to_spk2utt.sh utt2spk.
# Usage errors exit 2; invalid data exits 1; success prints one line and exits 0.
# --no-feats (Kaldi) is accepted and ignored: feats.scp is checked only when present.
set -euo pipefail
export LC_ALL=C

prog=validate_data_dir.sh
no_text=false
no_wav=false
no_spk_sort=false

usage() {
  sed -n '4,5p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

while [ "$#" -gt 0 ]; do
  case "$1" in
    --no-text) no_text=true ;;
    --no-wav) no_wav=true ;;
    --no-spk-sort) no_spk_sort=true ;;
    --no-feats) ;;
    --help|-h) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    --*) echo "$prog: invalid option $1" >&2; usage ;;
    *) break ;;
  esac
  shift
done
[ "$#" -eq 1 ] || usage
data="$1"

die() { echo "$prog: ERROR: $*" >&2; exit 1; }
warn() { echo "$prog: WARNING: $*" >&2; }
[ -d "$data" ] || die "$data: no such directory"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# check_lines FILE MIN_FIELDS [EXACT_FIELDS]: line-level format, sorted unique keys.
check_lines() {
  local file="$1" min="$2" exact="${3:-0}" msg
  [ -s "$file" ] || die "$file: file is empty"
  if [ -n "$(tail -c 1 "$file")" ]; then die "$file: no newline at end of file"; fi
  msg="$(awk -v min="$min" -v exact="$exact" '
    /\r/ { printf "line %d: carriage return (DOS line ending)\n", NR; exit }
    /^$/ { printf "line %d: empty line\n", NR; exit }
    /^[ \t]/ { printf "line %d: starts with whitespace\n", NR; exit }
    NF < min { printf "line %d: expected at least %d fields, got %d\n", NR, min, NF; exit }
    exact > 0 && NF != exact { printf "line %d: expected %d fields, got %d\n", NR, exact, NF; exit }
    NR > 1 && $1 == prev { printf "line %d: duplicate key %s\n", NR, $1; exit }
    NR > 1 && $1 < prev { printf "line %d: not sorted (LC_ALL=C): key %s after %s\n", NR, $1, prev; exit }
    { prev = $1 }' "$file")"
  [ -z "$msg" ] || die "$file $msg"
}

# same_keys FILE REF_FILE: identical first columns, else name the first offending line.
same_keys() {
  local file="$1" ref="$2" key n count
  awk '{print $1}' "$file" > "$tmp/a"
  awk '{print $1}' "$ref" > "$tmp/b"
  cmp -s "$tmp/a" "$tmp/b" && return 0
  comm -23 "$tmp/a" "$tmp/b" > "$tmp/only_a"
  comm -13 "$tmp/a" "$tmp/b" > "$tmp/only_b"
  if [ -s "$tmp/only_a" ]; then
    key="$(head -n 1 "$tmp/only_a")"; count="$(wc -l < "$tmp/only_a")"
    n="$(awk -v k="$key" '$1 == k { print NR; exit }' "$file")"
    die "$file line $n: key $key is not in $(basename "$ref") ($count such key(s))"
  fi
  key="$(head -n 1 "$tmp/only_b")"; count="$(wc -l < "$tmp/only_b")"
  n="$(awk -v k="$key" '$1 == k { print NR; exit }' "$ref")"
  die "$ref line $n: key $key is missing from $(basename "$file") ($count such key(s))"
}

# 1) presence
if [ "$no_wav" = false ] && [ ! -f "$data/wav.scp" ]; then die "$data/wav.scp: missing (use --no-wav to skip)"; fi
if [ "$no_text" = false ] && [ ! -f "$data/text" ]; then die "$data/text: missing (use --no-text to skip)"; fi
if [ -f "$data/utt2spk" ] && [ ! -f "$data/spk2utt" ]; then die "$data/spk2utt: missing (utt2spk exists; make it with utils/utt2spk_to_spk2utt.sh)"; fi
if [ -f "$data/spk2utt" ] && [ ! -f "$data/utt2spk" ]; then die "$data/utt2spk: missing (spk2utt exists; make it with utils/spk2utt_to_utt2spk.sh)"; fi

# 2) line format, sorting, unique keys
[ ! -f "$data/wav.scp" ] || check_lines "$data/wav.scp" 2
[ ! -f "$data/text" ] || [ "$no_text" = true ] || check_lines "$data/text" 1
[ ! -f "$data/utt2spk" ] || check_lines "$data/utt2spk" 2 2
[ ! -f "$data/spk2utt" ] || check_lines "$data/spk2utt" 2
[ ! -f "$data/segments" ] || check_lines "$data/segments" 4 4
for f in utt2dur utt2num_frames feats.scp utt2lang utt2uniq; do
  [ ! -f "$data/$f" ] || check_lines "$data/$f" 2
done

# 3) the utterance list
utts=""
if [ -f "$data/segments" ]; then
  utts="$data/segments"
  msg="$(awk '
    $3 !~ /^[0-9]*\.?[0-9]+$/ || $4 !~ /^[0-9]*\.?[0-9]+$/ { printf "line %d: start/end not non-negative numbers\n", NR; exit }
    $4 + 0 <= $3 + 0 { printf "line %d: end %s <= start %s\n", NR, $4, $3; exit }' "$data/segments")"
  [ -z "$msg" ] || die "$data/segments $msg"
  if [ -f "$data/wav.scp" ]; then
    awk '{print $2}' "$data/segments" | sort -u > "$tmp/recs"
    awk '{print $1}' "$data/wav.scp" > "$tmp/wavkeys"
    missing="$(comm -23 "$tmp/recs" "$tmp/wavkeys" | head -n 3 | tr '\n' ' ')"
    [ -z "$missing" ] || die "$data/segments: recording ids not in wav.scp: $missing"
    unused="$(comm -13 "$tmp/recs" "$tmp/wavkeys" | wc -l)"
    [ "$unused" -eq 0 ] || warn "$data/wav.scp: $unused recording(s) have no segments"
  fi
elif [ -f "$data/wav.scp" ]; then
  utts="$data/wav.scp"
elif [ -f "$data/utt2spk" ]; then
  utts="$data/utt2spk"
elif [ -f "$data/text" ] && [ "$no_text" = false ]; then
  utts="$data/text"
fi
[ -n "$utts" ] || die "$data: no wav.scp, segments, utt2spk or text to take the utterance list from"

# 4) cross-file consistency
if [ -f "$data/text" ] && [ "$no_text" = false ] && [ "$utts" != "$data/text" ]; then same_keys "$data/text" "$utts"; fi
if [ -f "$data/utt2spk" ] && [ "$utts" != "$data/utt2spk" ]; then same_keys "$data/utt2spk" "$utts"; fi
for f in utt2dur utt2num_frames feats.scp utt2lang utt2uniq; do
  [ ! -f "$data/$f" ] || same_keys "$data/$f" "$utts"
done
if [ -f "$data/utt2spk" ]; then
  if [ "$no_spk_sort" = false ]; then
    msg="$(awk 'NR > 1 && $2 < prev { printf "line %d: speaker %s after %s: utt2spk is not also sorted by speaker (prefix utterance ids with the speaker id, or pass --no-spk-sort)\n", NR, $2, prev; exit } { prev = $2 }' "$data/utt2spk")"
    [ -z "$msg" ] || die "$data/utt2spk $msg"
  fi
  "$(dirname "$0")/utt2spk_to_spk2utt.sh" "$data/utt2spk" > "$tmp/spk2utt"
  if ! cmp -s "$tmp/spk2utt" "$data/spk2utt"; then
    first="$(diff "$tmp/spk2utt" "$data/spk2utt" | grep -m1 '^[<>]' || true)"
    die "$data/spk2utt: inconsistent with utt2spk (first difference: ${first}); regenerate with utils/utt2spk_to_spk2utt.sh"
  fi
fi

echo "$prog: Successfully validated data-directory $data"
