"""Export a training run as a drop-in FunASR 1.x Paraformer folder.

    python -m funasr_lite.bin.export_model --exp_dir exp/x [--checkpoint avg5.pt] [--out_dir exp/x/model_dir]

Assumptions (the layout the ASR trainer writes):

- ``<exp_dir>/config.yaml`` is the resolved training config: the FunASR 1.x model sections
  (``model``, ``encoder_conf``, ...), ``tokenizer_conf.token_list`` = the token list file
  (``tokens.json`` or one token a line), ``frontend_conf.cmvn_file`` = the ``am.mvn`` used in
  training, and optionally ``tokenizer_conf.seg_dict_file``. Relative paths are taken from the
  current folder (where the recipe runs), else from ``exp_dir``.
- ``--checkpoint``: a file holding a state dict, bare or under ``model``/``state_dict``/
  ``model_state_dict`` (a training checkpoint or the output of ``average_checkpoints``); a
  relative path that does not exist is looked up in ``exp_dir``. Default: the newest checkpoint
  of ``<exp_dir>/checkpoints`` (``checkpoints.json``).

The folder (default ``<exp_dir>/model_dir``) then loads with ``funasr_lite.AutoModel`` and
with FunASR's ``AutoModel(model=<folder>)``; see :mod:`funasr_lite.train.asr.export`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from funasr_lite.errors import ModelError
from funasr_lite.modelio import load_checkpoint, read_token_list
from funasr_lite.train.asr.export import export_model_dir
from funasr_lite.train.core.checkpoint import CheckpointManager
from funasr_lite.yamlio import read_yaml

log = logging.getLogger("export_model")


def _resolve(value: object, exp_dir: Path, what: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ModelError(exp_dir / "config.yaml", f"{what} is not set")
    path = Path(value)
    if not path.is_absolute() and not path.exists() and (exp_dir / path).exists():
        path = exp_dir / path
    if not path.is_file():
        raise ModelError(path, f"{what} not found")
    return path


def export_exp(exp_dir: str | Path, checkpoint: str | Path | None = None, out_dir: str | Path | None = None) -> Path:
    """Export ``exp_dir`` (see the module docstring); returns the folder written."""
    exp = Path(exp_dir)
    config = read_yaml(exp / "config.yaml")
    if not config:
        raise ModelError(exp / "config.yaml", "config is empty")
    tok_conf = config.get("tokenizer_conf") or {}
    tokens = read_token_list(_resolve(tok_conf.get("token_list"), exp, "tokenizer_conf.token_list"))
    cmvn = _resolve((config.get("frontend_conf") or {}).get("cmvn_file"), exp, "frontend_conf.cmvn_file")
    seg = tok_conf.get("seg_dict_file")
    seg_path = _resolve(seg, exp, "tokenizer_conf.seg_dict_file") if seg else None
    if checkpoint is None:
        ckpt = CheckpointManager(exp / "checkpoints").latest()
        if ckpt is None:
            raise ModelError(exp / "checkpoints", "no checkpoint found (checkpoints.json)")
    else:
        ckpt = Path(checkpoint)
        if not ckpt.is_absolute() and not ckpt.exists():
            ckpt = exp / ckpt
    log.info("exporting %s with %s", ckpt, exp / "config.yaml")
    state = load_checkpoint(ckpt)
    return export_model_dir(state, config, tokens, cmvn, out_dir or exp / "model_dir", seg_dict_file=seg_path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp_dir", required=True, help="the training output folder (config.yaml, checkpoints/)")
    p.add_argument("--checkpoint", default=None, help="default: newest of <exp_dir>/checkpoints")
    p.add_argument("--out_dir", default=None, help="default: <exp_dir>/model_dir")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        out = export_exp(args.exp_dir, args.checkpoint, args.out_dir)
    except ModelError as e:
        log.error("%s", e)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
