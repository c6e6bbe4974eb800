"""Train a CAM++ speaker-embedding model with an AAM-softmax head (``egs/synth/spk`` stage 2).

    python -m funasr_lite.bin.train_spk --data data/spk_train --out exp/campplus \\
        --epochs 30 --batch_size 128 --device cuda            # the official CAM++ size
    python -m funasr_lite.bin.train_spk --data data/spk_train --out exp/campplus_tiny \\
        --epochs 3 --batch_size 16 --device cpu --tiny        # CI size

``--data`` is a Kaldi dir with ``wav.scp`` and ``utt2spk`` (see ``egs/synth/local/synth_spk_data.py``).
Rerunning with the same ``--out`` resumes from the newest checkpoint in ``<out>/checkpoints``.
The exported model folder is ``<out>/model`` (FunASR layout, ``campplus_cn_common.bin``).
Exit status: 0 ok (also when stopped by --max_minutes: rerun to continue), 1 data error, 2 usage.
"""

from __future__ import annotations

import os

# Before torch loads OpenMP: waiting threads sleep instead of spinning, so training on a machine
# shared with other busy programs does not starve its own threads (docs/training.md). Same results.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import logging
import sys

from funasr_lite.errors import InputError
from funasr_lite.models.campplus import DEFAULT_CONF
from funasr_lite.train.spk.trainer import TINY_CONF, TrainConfig, train


def get_parser() -> argparse.ArgumentParser:
    d = TrainConfig(data="", out="")
    p = argparse.ArgumentParser(
        prog="train_spk", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", required=True, help="training data dir (wav.scp, utt2spk)")
    p.add_argument("--out", required=True, help="experiment dir (checkpoints, logs, model/)")
    p.add_argument("--tiny", action="store_true", help=f"CPU-sized CAM++ {TINY_CONF} instead of the official size")
    p.add_argument(
        "--model_conf",
        default=None,
        help="JSON object overriding CAMPPlus constructor arguments, e.g. '{\"init_channels\": 64}'",
    )
    p.add_argument("--epochs", type=int, default=d.epochs, help="training epochs")
    p.add_argument("--batch_size", type=int, default=d.batch_size, help="crops per batch")
    p.add_argument("--steps_per_epoch", type=int, default=d.steps_per_epoch, help="0: about one pass over the audio")
    p.add_argument("--min_crop", type=float, default=d.min_crop, help="seconds")
    p.add_argument("--max_crop", type=float, default=d.max_crop, help="seconds")
    p.add_argument("--optimizer", choices=("adamw", "sgd"), default=d.optimizer, help="optimizer")
    p.add_argument("--lr", type=float, default=d.lr, help="peak learning rate")
    p.add_argument("--weight_decay", type=float, default=d.weight_decay, help="weight decay")
    p.add_argument(
        "--warmup_frac", type=float, default=d.warmup_frac, help="linear warm-up, as a fraction of the steps"
    )
    p.add_argument(
        "--min_lr_ratio", type=float, default=d.min_lr_ratio, help="final learning rate of the cosine, relative to --lr"
    )
    p.add_argument("--margin", type=float, default=d.margin, help="AAM margin (radians)")
    p.add_argument("--scale", type=float, default=d.scale, help="AAM scale")
    p.add_argument(
        "--margin_warmup_frac",
        type=float,
        default=d.margin_warmup_frac,
        help="AAM margin ramp, as a fraction of the steps",
    )
    p.add_argument("--grad_clip", type=float, default=d.grad_clip, help="gradient norm clip (0: none)")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of weights, crops and order (recorded)")
    p.add_argument("--device", default=d.device, help="cpu, cuda, cuda:1, ...")
    p.add_argument("--amp", action="store_true", help="bf16 autocast (CUDA only)")
    p.add_argument("--keep", type=int, default=d.keep, help="checkpoints to keep")
    p.add_argument(
        "--max_minutes", type=float, default=d.max_minutes, help="stop after the epoch that would exceed this (0: none)"
    )
    p.add_argument("--num_threads", type=int, default=d.num_threads, help="torch CPU threads (0: default)")
    p.add_argument("--no_progress", action="store_true", help="no tqdm bars")
    return p


def main(argv: list[str] | None = None) -> int:
    p = get_parser()
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    model_conf = dict(TINY_CONF if args.tiny else DEFAULT_CONF)
    if args.model_conf:
        try:
            extra = json.loads(args.model_conf)
        except json.JSONDecodeError as e:
            p.error(f"--model_conf is not JSON: {e}")
        unknown = sorted(set(extra) - set(DEFAULT_CONF))
        if not isinstance(extra, dict) or unknown:
            p.error(f"--model_conf keys must be CAMPPlus arguments ({', '.join(DEFAULT_CONF)}); unknown: {unknown}")
        model_conf.update(extra)
    if args.epochs < 1 or args.batch_size < 2 or not 0 < args.min_crop <= args.max_crop:
        p.error("need --epochs >= 1, --batch_size >= 2 and 0 < --min_crop <= --max_crop")
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            print("train_spk: --device cuda but torch sees no GPU", file=sys.stderr)
            return 2
    cfg = TrainConfig(
        data=args.data,
        out=args.out,
        model_conf=model_conf,
        epochs=args.epochs,
        batch_size=args.batch_size,
        steps_per_epoch=args.steps_per_epoch,
        min_crop=args.min_crop,
        max_crop=args.max_crop,
        optimizer=args.optimizer,
        lr=args.lr,
        weight_decay=args.weight_decay,
        warmup_frac=args.warmup_frac,
        min_lr_ratio=args.min_lr_ratio,
        margin=args.margin,
        scale=args.scale,
        margin_warmup_frac=args.margin_warmup_frac,
        grad_clip=args.grad_clip,
        seed=args.seed,
        device=args.device,
        amp=args.amp,
        keep=args.keep,
        max_minutes=args.max_minutes,
        num_threads=args.num_threads,
    )
    logging.getLogger("train_spk").info("command: %s", " ".join(sys.argv))
    try:
        summary = train(cfg, progress=not args.no_progress)
    except InputError as e:
        print(f"train_spk: {e}", file=sys.stderr)
        return 1
    if summary["history"]:
        last = summary["history"][-1]
        print(
            f"train_spk: epoch {last['epoch']} loss {last['loss']:.4f} acc {last['acc']:.4f}; "
            f"checkpoint {summary['checkpoint']}; model {summary.get('model_dir', '(not exported: rerun to finish)')}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
