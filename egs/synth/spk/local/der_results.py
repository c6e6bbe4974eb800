#!/usr/bin/env python3
"""Stage 4 of egs/synth/spk: ``<diar dir>/RESULTS.md`` from the DER report and what made it.

    python local/der_results.py --diar_dir D --model_dir M --meetings_dir MEET --recipe "bash run.sh ..." \
        --scoring "python -m funasr_lite.bin.compute_der ..." --title "egs/synth/spk results (cpu)"

Reads ``D/der.txt``, ``M/train_info.json`` (the checkpoint exported) and ``MEET/meetings.json``
(count and minutes), and writes RESULTS.md atomically.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from funasr_lite.fileio import write_text_atomic


def git_head(repo: Path) -> str:
    """The checkout's short commit id, or ``unknown`` outside git."""
    proc = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else "unknown"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--diar_dir", required=True, help="the diarization folder holding der.txt")
    p.add_argument("--model_dir", required=True, help="the CAM++ model folder (train_info.json)")
    p.add_argument("--meetings_dir", required=True, help="the meetings folder (meetings.json)")
    p.add_argument("--recipe", required=True, help="the run.sh command line to record")
    p.add_argument("--scoring", required=True, help="the DER command line to record")
    p.add_argument("--title", required=True, help="the first heading")
    args = p.parse_args(argv)
    diar, model, meetings = Path(args.diar_dir), Path(args.model_dir), Path(args.meetings_dir)
    der = (diar / "der.txt").read_text(encoding="utf-8").rstrip("\n")
    checkpoint = json.loads((model / "train_info.json").read_text())["checkpoint"]
    meta = json.loads((meetings / "meetings.json").read_text())
    repo = Path(__file__).resolve().parents[3]
    lines = [
        f"# {args.title}",
        "",
        f"- recipe: `{args.recipe}` (git {git_head(repo)})",
        f"- model: `{model}` from checkpoint `{checkpoint}`",
        f"- scoring: `{args.scoring}`",
        f"- meetings: {meta['num_meetings']} meetings, {meta['total_minutes']} min",
        "",
        "```",
        der,
        "```",
        "",
    ]
    write_text_atomic(diar / "RESULTS.md", "\n".join(lines))
    print(f"der_results: wrote {diar / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
