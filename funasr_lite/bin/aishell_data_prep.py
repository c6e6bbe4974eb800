"""AISHELL-1 -> Kaldi data dirs ``<out_dir>/{train,dev,test}`` (``local/aishell_data_prep.sh``).

    python -m funasr_lite.bin.aishell_data_prep --data_root /corpora/aishell --out_dir data

Writes sorted ``wav.scp``, ``text`` (character text, spaces removed), ``utt2spk``, ``spk2utt``.
Wav files without a transcript are skipped and counted. Exit 1 with a one-line error if the
layout is wrong.
"""
from __future__ import annotations

import argparse
import sys

from funasr_lite.data.aishell import SETS, prepare_aishell
from funasr_lite.errors import InputError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_root", required=True, help="folder holding data_aishell/ (or data_aishell itself)")
    p.add_argument("--out_dir", default="data")
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    args = p.parse_args(argv)
    try:
        summaries = prepare_aishell(args.data_root, args.out_dir, tuple(args.sets))
    except InputError as e:
        print(f"aishell_data_prep: error: {e}", file=sys.stderr)
        return 1
    for s in summaries:
        print(f"{args.out_dir}/{s.name}: {s.utts} utterances, {s.speakers} speakers, "
              f"{s.no_transcript} wav files without transcript skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
