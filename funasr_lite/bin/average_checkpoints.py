"""Average the N best training checkpoints (by the metric in ``checkpoints.json``) into one state dict.

    python -m funasr_lite.bin.average_checkpoints --ckpt_dir exp/x/checkpoints --num 5 --out exp/x/avg5.pt

The checkpoints are ranked by :class:`~funasr_lite.train.core.checkpoint.CheckpointManager`;
the metric is the one recorded in the index (override with ``--metric``/``--mode``). Float
tensors of ``ckpt[--key]`` are averaged, integer tensors are taken from the last checkpoint
(FunASR sums them; Paraformer has none). ``--out`` gets ``{"model": averaged state dict,
"averaged": [file names]}``, written atomically; ``funasr_lite.bin.export_model --checkpoint``
reads it. Fewer than ``--num`` ranked checkpoints: all of them are averaged, with a warning.
"""

from __future__ import annotations

import argparse
import logging
import sys

from funasr_lite.train.core.checkpoint import CheckpointManager, average_checkpoints, save_atomic

log = logging.getLogger("average_checkpoints")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt_dir", required=True, help="folder with checkpoints.json and <tag>.pt")
    p.add_argument("--num", type=int, default=10, help="how many of the best checkpoints to average")
    p.add_argument("--out", required=True, help="output .pt file")
    p.add_argument("--key", default="model", help="entry of each checkpoint holding the model state dict")
    p.add_argument("--metric", default=None, help="ranking metric (default: the one in checkpoints.json)")
    p.add_argument("--mode", choices=("max", "min"), default=None, help="default: max for acc*, min otherwise")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.num < 1:
        p.error("--num must be >= 1")
    entries = CheckpointManager(args.ckpt_dir).entries()
    metric = args.metric or next((e.get("metric") for e in reversed(entries) if e.get("metric")), "acc")
    best = CheckpointManager(args.ckpt_dir, metric=metric, mode=args.mode).best(args.num)
    if not best:
        log.error("%s: no checkpoint with a %s value in checkpoints.json", args.ckpt_dir, metric)
        return 1
    if len(best) < args.num:
        log.warning("only %d checkpoint(s) ranked by %s; averaging all of them", len(best), metric)
    log.info("averaging by %s: %s", metric, ", ".join(b.name for b in best))
    state = average_checkpoints(best, key=args.key)
    save_atomic({"model": state, "averaged": [b.name for b in best]}, args.out)
    log.info("wrote %s (%d tensors)", args.out, len(state))
    return 0


if __name__ == "__main__":
    sys.exit(main())
