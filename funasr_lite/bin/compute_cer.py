"""Character/word error rate of a hypothesis Kaldi text against a reference.

Usage: python -m funasr_lite.bin.compute_cer [options] REF HYP [OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from funasr_lite.errors import InputError
from funasr_lite.scoring import MODES, TAG_KINDS, NormalizeOptions, format_report, score_files, summary_dict
from funasr_lite.scoring.fileio import write_atomic
from funasr_lite.scoring.normalize import DEFAULT_TAG_KINDS

PROG = "compute_cer"
EPILOG = """\
Tokens: each CJK (East-Asian wide) character is a token; a run of Latin letters,
digits and apostrophes is one token (an English word); --char splits everything
into characters. Output: WeNet compute-wer.py blocks per utterance (utt:/WER:/lab:/rec:),
then "Overall -> x.xx % N= C= S= D= I=", Kaldi "%WER x.xx [ E / N, I ins, D del, S sub ]",
"%SER ..." and "Scored N sentences, M not present in hyp ...". Rates are "inf" when
the references have no tokens but the hypotheses do.
Exit status: 0 ok, 1 unreadable/invalid input (missing file, non-UTF-8, duplicate key,
missing hypothesis in strict mode), 2 usage error. See docs/scoring.md.
e.g.: python -m funasr_lite.bin.compute_cer data/test/text exp/x/decode_test/text exp/x/decode_test/cer --json exp/x/decode_test/cer.json
"""


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Show defaults (except None) and keep the epilog's line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None:
            return action.help or ""
        return super()._get_help_string(action)


def _tag_kinds(value: str) -> tuple[str, ...]:
    """Parse ``--remove-tags``: comma-separated kinds, or ``none``."""
    if value.strip().lower() == "none":
        return ()
    kinds = tuple(k.strip().lower() for k in value.split(",") if k.strip())
    bad = [k for k in kinds if k not in TAG_KINDS]
    if bad or not kinds:
        raise argparse.ArgumentTypeError(
            f"invalid tag kind(s) {value!r}; use 'none' or a comma list of {','.join(TAG_KINDS)}"
        )
    return kinds


def get_parser() -> argparse.ArgumentParser:
    """The command-line parser (every option shows its default in --help)."""
    p = argparse.ArgumentParser(
        prog=PROG, description=__doc__.splitlines()[0], epilog=EPILOG, formatter_class=_Formatter
    )
    p.add_argument("ref", help="reference Kaldi text file (<utt> <transcript>)")
    p.add_argument("hyp", help="hypothesis Kaldi text file")
    p.add_argument("out", nargs="?", default=None, help="report file, written atomically (stdout if omitted or '-')")
    p.add_argument(
        "--mode",
        choices=MODES,
        default="all",
        help="reference utterances without hypothesis: all = score as empty (all deletions), "
        "present = skip them (Kaldi [PARTIAL]), strict = error (exit 1)",
    )
    p.add_argument(
        "--char", action="store_true", default=False, help="split every token into characters (Latin words too)"
    )
    p.add_argument(
        "--fold-width",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="fold full-width ASCII forms (ＡＢＣ！，？ U+FF01..FF5E) and U+3000 to ASCII; CJK untouched",
    )
    p.add_argument("--lowercase", action=argparse.BooleanOptionalAction, default=True, help="lowercase Latin letters")
    p.add_argument(
        "--remove-tags",
        type=_tag_kinds,
        default=",".join(DEFAULT_TAG_KINDS),
        metavar="KINDS",
        help="drop bracketed tags of these kinds: comma list of angle <unk>, square [noise], "
        "round (laugh), curly {breath}; or 'none'",
    )
    p.add_argument(
        "--strip-punct",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="turn Unicode punctuation (CJK and ASCII) and ` ^ | ~ into spaces; keeps apostrophes inside words",
    )
    p.add_argument(
        "--strip-spaces",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="delete all whitespace before tokenising (glues Latin words together)",
    )
    p.add_argument(
        "--per-utt",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write the per-utterance utt:/WER:/lab:/rec: blocks",
    )
    p.add_argument(
        "--padding-symbol", choices=("space", "underline"), default="space", help="fill for aligned lab:/rec: columns"
    )
    p.add_argument(
        "--json",
        metavar="PATH",
        default=None,
        help="also write a JSON summary {cer, n, c, s, d, i, ...} to PATH ('-' for stdout)",
    )
    return p


def run(args: argparse.Namespace) -> dict:
    """Score, write the report (and JSON), return the summary."""
    opts = NormalizeOptions(
        fold_width=args.fold_width,
        lowercase=args.lowercase,
        remove_tags=args.remove_tags,
        strip_punct=args.strip_punct,
        strip_spaces=args.strip_spaces,
    )
    report = score_files(args.ref, args.hyp, opts=opts, char=args.char, mode=args.mode)
    text = format_report(report, per_utt=args.per_utt, padding="_" if args.padding_symbol == "underline" else " ")
    summary = summary_dict(report)
    summary.update(
        ref=args.ref,
        hyp=args.hyp,
        char=args.char,
        normalize={
            "fold_width": opts.fold_width,
            "lowercase": opts.lowercase,
            "remove_tags": list(opts.remove_tags),
            "strip_punct": opts.strip_punct,
            "strip_spaces": opts.strip_spaces,
        },
    )
    _emit(args.out, text)
    if args.json:
        _emit(args.json, json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    return summary


def _emit(path: str | None, text: str) -> None:
    """Write to ``path`` atomically, or to stdout for None / '-'."""
    if path is None or path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        write_atomic(path, text)
    except OSError as err:
        raise InputError(path, f"cannot write ({err.strerror or err})") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (argparse exits 2 itself on usage errors)."""
    args = get_parser().parse_args(argv)
    try:
        run(args)
    except InputError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
