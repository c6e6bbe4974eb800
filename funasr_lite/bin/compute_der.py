"""Diarization error rate of a hypothesis RTTM against a reference RTTM (md-eval rules).

Usage: python -m funasr_lite.bin.compute_der [options] REF_RTTM HYP_RTTM [OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from funasr_lite.diar.der import COLLAR, FRAME, format_report, score_all
from funasr_lite.diar.rttm import read_rttm
from funasr_lite.errors import InputError
from funasr_lite.fileio import write_text_atomic

EPILOG = """\
DER = (missed + false alarm + confusion) / reference speech. A collar of --collar seconds on each
side of every reference boundary is not scored (md-eval -c; pyannote's collar is twice this);
overlap is scored; speakers are mapped one-to-one by the Hungarian algorithm; 10 ms frames.
A reference recording without hypothesis is scored as all missed. See docs/diarization.md.
Exit status: 0 ok, 1 unreadable/invalid input, 2 usage error.
e.g.: python -m funasr_lite.bin.compute_der data/meetings/ref.rttm exp/diar/hyp.rttm exp/diar/der.txt --json exp/diar/der.json
"""


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="compute_der",
        description=__doc__.splitlines()[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("ref", help="reference RTTM")
    p.add_argument("hyp", help="hypothesis RTTM")
    p.add_argument("out", nargs="?", default=None, help="report file, written atomically (stdout if omitted or '-')")
    p.add_argument(
        "--collar",
        type=float,
        default=COLLAR,
        help="seconds not scored on each side of reference boundaries (default %(default)s)",
    )
    p.add_argument("--frame", type=float, default=FRAME, help="scoring frame in seconds (default %(default)s)")
    p.add_argument("--json", default=None, help="also write per-recording and overall numbers as JSON here")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    if args.collar < 0 or args.frame <= 0:
        print("compute_der: need --collar >= 0 and --frame > 0", file=sys.stderr)
        return 2
    try:
        ref = read_rttm(args.ref)
        hyp = read_rttm(args.hyp)
        if not ref:
            raise InputError(args.ref, "no SPEAKER lines in the reference")
        per, total, missing, extra = score_all(ref, hyp, args.collar, args.frame)
    except (InputError, ValueError) as e:
        print(f"compute_der: {e}", file=sys.stderr)
        return 1
    report = format_report(per, total, args.collar, missing, extra)
    if args.out in (None, "-"):
        sys.stdout.write(report)
    else:
        write_text_atomic(args.out, report)
        sys.stderr.write(report.splitlines()[-1 - bool(missing) - bool(extra)] + "\n")
    if args.json:
        data = {
            "collar": args.collar,
            "frame": args.frame,
            "overall": total.as_dict(),
            "recordings": {k: v.as_dict() for k, v in per.items()},
            "missing_hypothesis": missing,
            "hypothesis_only": extra,
        }
        write_text_atomic(args.json, json.dumps(data, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
