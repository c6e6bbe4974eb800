"""Character token list in FunASR's layout from a Kaldi ``text`` file.

    python -m funasr_lite.bin.make_tokens --text data/train/text --out_dir data/lang [--min_count 1]

Tokens: ``<blank>``, ``<s>``, ``</s>``, then every token seen at least ``min_count`` times in
code-point order (one per CJK character; Latin letter runs lower-cased as whole words), then
``<unk>``. Writes ``tokens.json`` (1.x, a JSON array) and ``tokens.txt`` (0.x, one a line),
each atomically.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from funasr_lite.chars import split_chars
from funasr_lite.data.kaldi_lists import PathLike, read_text
from funasr_lite.errors import InputError
from funasr_lite.fileio import write_text_atomic

HEAD = ["<blank>", "<s>", "</s>"]
UNK = "<unk>"


def build_tokens(text_path: PathLike, min_count: int = 1) -> list[str]:
    """The token list for ``text_path`` (see the module docstring)."""
    counts: Counter[str] = Counter()
    for text in read_text(text_path).values():
        counts.update(split_chars(text))
    special = set(HEAD) | {UNK}
    body = sorted(t for t, n in counts.items() if n >= min_count and t not in special)
    if not body:
        raise InputError(text_path, f"no token occurs at least {min_count} time(s)")
    return HEAD + body + [UNK]


def write_tokens(tokens: list[str], out_dir: PathLike) -> None:
    """Write ``tokens.json`` and ``tokens.txt`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "tokens.json", json.dumps(tokens, ensure_ascii=False, indent=4) + "\n")
    write_text_atomic(out / "tokens.txt", "".join(t + "\n" for t in tokens))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--text", required=True, help="Kaldi text file (utt transcript) of the training set")
    p.add_argument("--out_dir", required=True, help="writes tokens.json and tokens.txt here")
    p.add_argument("--min_count", type=int, default=1, help="drop characters seen fewer times (they map to <unk>)")
    args = p.parse_args(argv)
    if args.min_count < 1:
        p.error("--min_count must be >= 1")
    try:
        tokens = build_tokens(args.text, args.min_count)
    except InputError as e:
        print(f"make_tokens: error: {e}", file=sys.stderr)
        return 1
    write_tokens(tokens, args.out_dir)
    print(f"make_tokens: {len(tokens)} tokens -> {args.out_dir}/tokens.json, {args.out_dir}/tokens.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
