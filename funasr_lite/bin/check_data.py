"""Check a Kaldi data dir: audio files, keys, transcripts, token coverage (and decodability).

    python -m funasr_lite.bin.check_data --data_dir data/train [--token_list data/lang/tokens.json] [--audio]

Prints one line per problem (``data/train/text:12: utt X: empty transcript``) and exits 1 if
there is any; with ``--audio`` every file is decoded and sample rates, channel counts and
durations are summarised. With a ``segments`` file the utterances are its segment ids and
``wav.scp`` lists recordings (Kaldi's layout); ``text`` and ``utt2spk`` are checked against them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from funasr_lite.data.check import check_data_dir
from funasr_lite.errors import ModelError
from funasr_lite.modelio.tokens import read_token_list


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_dir", required=True, help="the Kaldi data folder to check (wav.scp, text, ...)")
    p.add_argument("--token_list", default=None, help="tokens.json (1.x) or tokens.txt (0.x)")
    p.add_argument("--audio", action="store_true", help="decode every file and summarise the audio")
    args = p.parse_args(argv)
    if not (Path(args.data_dir) / "wav.scp").is_file():
        print(f"check_data: error: {args.data_dir}/wav.scp: file not found", file=sys.stderr)
        return 1
    try:
        tokens = read_token_list(args.token_list) if args.token_list else None
    except ModelError as e:
        print(f"check_data: error: {e}", file=sys.stderr)
        return 1
    res = check_data_dir(args.data_dir, tokens, args.audio)
    for line in res.info:
        print(f"{args.data_dir}: {line}")
    for line in res.problems:
        print(line)
    if res.problems:
        print(f"check_data: {args.data_dir}: {len(res.problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"check_data: {args.data_dir}: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
