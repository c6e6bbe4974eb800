"""Dev CER (and loss, accuracy) against training time, from a trainer's ``metrics.jsonl``.

    python -m funasr_lite.bin.training_curve exp/paraformer_synth_gpu/metrics.jsonl [--every_s 60]

Prints a Markdown table: training wall time (the trainer's ``elapsed_s``, summed over resumed
runs; feature preloading is not included), optimiser step, dev loss, accuracy and greedy CER.
"""

from __future__ import annotations

import argparse
import sys

from funasr_lite.train.asr.metrics import read_metrics


def curve_table(rows: list[dict], every_s: float = 0.0) -> str:
    """Markdown table of dev rows, at most one per ``every_s`` seconds (the last row always)."""
    out = ["| time (min) | step | dev loss | dev acc | dev CER (%) |", "|---|---|---|---|---|"]
    last_t = -1e18
    for i, r in enumerate(rows):
        if every_s and r["elapsed_s"] - last_t < every_s and i != len(rows) - 1:
            continue
        last_t = r["elapsed_s"]
        cer = f"{r['cer']:.2f}" if "cer" in r else "-"
        out.append(f"| {r['elapsed_s'] / 60:.1f} | {r['step']} | {r['loss']:.3f} | {r['acc']:.3f} | {cer} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("metrics", help="metrics.jsonl written by python -m funasr_lite.bin.train")
    p.add_argument("--every_s", type=float, default=0.0, help="thin the table to one row per this many seconds")
    args = p.parse_args(argv)
    try:
        rows = read_metrics(args.metrics, "dev")
    except OSError as e:
        print(f"training_curve: {args.metrics}: {e.strerror}", file=sys.stderr)
        return 1
    if not rows:
        print(f"training_curve: {args.metrics}: no dev rows (was --dev_data given?)", file=sys.stderr)
        return 1
    print(curve_table(rows, args.every_s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
