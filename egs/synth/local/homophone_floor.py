"""The homophone floor of the synthetic corpus: the least CER any recogniser can reach on it.

    python egs/synth/local/homophone_floor.py [--top_n 30000] [--top_chars 3500] [--json out.json] [--show 10]
    python egs/synth/local/homophone_floor.py --cer_detail egs/synth/asr/exp/x/decode_test/cer.txt

Builds the word list of ``espeak_corpus.jieba_words`` (the corpus's words and sampling
weights), reads each word's pronunciation with ``espeak-ng -x`` (the voice that speaks the
corpus), groups homophones and prints the expected character error of the best possible
decision per group (see ``homophone_groups`` for why this is a lower bound, and its
caveats): one line with the floor and its split into 1-character and >=2-character words, then
the ``--show`` groups that lose the most. ``--json`` also writes the report (atomically).
``--cer_detail`` instead reads a ``compute_cer`` detail file and prints how many of its
substitutions replace a character by a homophone (same espeak-ng key), or by the same syllable
in another tone: how much of a model's error is choosing among words that sound alike.
Exit status: 0 ok, 1 error (espeak-ng or jieba missing or failing, unwritable --json), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

from espeak_corpus import jieba_words
from homophone_groups import FloorReport, espeak_keys, homophone_floor, homophone_share, substitution_pairs

from funasr_lite.errors import one_line
from funasr_lite.fileio import write_text_atomic

PROG = "homophone_floor"
log = logging.getLogger(PROG)


def format_report(report: FloorReport, show: int) -> str:
    """The printed report: one summary line, then up to ``show`` groups that lose the most."""
    lines = [
        (
            f"homophone floor: {report.floor_pct:.2f}% CER | 1-char words {report.floor_1char_pct:.2f}% "
            f"({report.share_1char_pct:.1f}% of the characters), >=2-char words {report.floor_multi_pct:.2f}% | "
            f"{report.n_words} words, {report.n_groups} pronunciations, {report.n_ambiguous} ambiguous"
        )
    ]
    if show and report.top_groups:
        lines.append(
            f"top {min(show, len(report.top_groups))} ambiguous groups (share of the floor's "
            f"{report.floor_pct:.2f}%, best decision <- words with probability within the group):"
        )
    for g in report.top_groups[:show]:
        total = sum(g.weights)
        shown = " ".join(f"{w}:{x / total:.0%}" for w, x in zip(g.words[:8], g.weights[:8]))
        more = f" +{len(g.words) - 8} more" if len(g.words) > 8 else ""
        lines.append(f"  {g.loss_pct:5.3f}%  {g.decision} <- {shown}{more}  [{g.key}]")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--top_n",
        type=int,
        default=30000,
        help="number of most frequent jieba words the corpus draws from (default: %(default)s)",
    )
    p.add_argument(
        "--top_chars",
        type=int,
        default=3500,
        help="only words of the N most frequent characters, as synth_corpus (default: %(default)s)",
    )
    p.add_argument("--voice", default="cmn", help="espeak-ng voice for the pronunciations (default: %(default)s)")
    p.add_argument("--json", metavar="PATH", default=None, help="also write the report as JSON to PATH (atomically)")
    p.add_argument(
        "--show", type=int, default=10, help="print the N ambiguous groups that lose the most (default: %(default)s)"
    )
    p.add_argument(
        "--cer_detail",
        metavar="PATH",
        default=None,
        help="instead of the floor: the share of homophone substitutions in a compute_cer detail file",
    )
    args = p.parse_args(argv)
    if args.top_n < 1 or args.top_chars < 1 or args.show < 0:
        p.error("need --top_n >= 1, --top_chars >= 1 and --show >= 0")
    if args.json and not os.path.isdir(os.path.dirname(os.path.abspath(args.json))):
        print(f"{PROG}: error: {args.json}: its folder does not exist", file=sys.stderr)
        return 1
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.cer_detail:
        return _substitutions(args.cer_detail, args.voice)
    try:
        words, weights = jieba_words(top_n=args.top_n, top_chars=args.top_chars)
        if not words:
            raise ValueError(f"no jieba words with --top_n {args.top_n} --top_chars {args.top_chars}")
        start = time.monotonic()
        keys = espeak_keys(words, voice=args.voice)
        log.info("espeak-ng pronunciations of %d words in %.1f s", len(words), time.monotonic() - start)
        report = homophone_floor(words, weights, keys, top=args.show)
        sys.stdout.write(format_report(report, args.show))
        sys.stdout.flush()
        if args.json:
            summary = {"top_n": args.top_n, "top_chars": args.top_chars, "voice": args.voice, **report.to_dict()}
            try:
                write_text_atomic(args.json, json.dumps(summary, ensure_ascii=False, indent=1) + "\n")
            except OSError as e:
                raise RuntimeError(f"{args.json}: cannot write ({e.strerror or e})") from None
    except (RuntimeError, ValueError) as e:
        print(f"{PROG}: error: {one_line(e)}", file=sys.stderr)
        return 1
    return 0


def _substitutions(path: str, voice: str) -> int:
    """Print the homophone share of the substitutions in the compute_cer detail file ``path``."""
    try:
        with open(path, encoding="utf-8") as f:
            pairs, used = substitution_pairs(f.read())
        chars = sorted({c for pair in pairs for c in pair})
        keys = dict(zip(chars, espeak_keys(chars, voice=voice))) if chars else {}
    except OSError as e:
        print(f"{PROG}: error: {path}: cannot read ({e.strerror or e})", file=sys.stderr)
        return 1
    except (RuntimeError, ValueError) as e:
        print(f"{PROG}: error: {one_line(e)}", file=sys.stderr)
        return 1
    same, same_syllable = homophone_share(pairs, keys)
    print(
        f"{path}: {len(pairs)} substitutions in {used} utterances without insertions or deletions: "
        f"{same:.1f}% by a homophone (same espeak-ng key), {same_syllable:.1f}% by the same syllable in any tone"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
