"""Train or finetune a Paraformer (FunASR's loss), one process or many through torchrun.

    python -m funasr_lite.bin.train --config conf/paraformer_synth_cpu.yaml \\
        --train_data data/train --dev_data data/dev --token_list data/lang/tokens.json \\
        --cmvn_file exp/cmvn/am.mvn --output_dir exp/paraformer [--train_feats dump/train/feats.scp] \\
        [--init_param MODEL_DIR] [--freeze_param encoder] [--device cuda] [--train_conf.max_epoch 5 ...]
    torchrun --nproc_per_node 2 -m funasr_lite.bin.train ...   # DDP, same arguments

Any config key can be overridden with a dotted option (``--section.key value``, YAML-parsed);
unknown keys are errors. The resolved config goes to ``<output_dir>/config.yaml``; a rerun of the
same command resumes from the newest complete checkpoint. ``--init_param`` takes a FunASR model
folder: its model sections, token list and ``am.mvn`` are used, and its weights are the start.
Writes ``checkpoints/``, ``metrics.jsonl``, ``tensorboard/``, ``train.log`` and ``model_dir/``
(a drop-in model folder of the averaged best checkpoints). Exit code 1 on a bad config or data.
"""

from __future__ import annotations

import os

# Before torch loads OpenMP: waiting threads sleep instead of spinning, so training on a machine
# shared with other busy programs does not starve its own threads (docs/training.md). Same results.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import configargparse
import torch

from funasr_lite.errors import InputError, ModelError, one_line
from funasr_lite.modelio import open_model_dir
from funasr_lite.modelio.tokens import read_token_list
from funasr_lite.train.asr.config import resolve_config, save_config
from funasr_lite.train.core.distributed import cleanup, setup_distributed, setup_logging

if TYPE_CHECKING:
    from funasr_lite.train.asr.trainer import TrainInputs

log = logging.getLogger("train")


def build_parser() -> configargparse.ArgumentParser:
    p = configargparse.ArgumentParser(
        description=__doc__,
        formatter_class=configargparse.RawDescriptionHelpFormatter,
        auto_env_var_prefix="FUNASR_LITE_TRAIN_",
    )
    p.add_argument("--config", help="training config YAML (FunASR 1.x layout + train_conf/dataset_conf)")
    p.add_argument("--train_data", required=True, help="Kaldi data dir with wav.scp and text")
    p.add_argument("--dev_data", help="dev data dir (loss/acc/CER per evaluation, N-best selection)")
    p.add_argument("--train_feats", help="feats.scp dumped by stage 1 (else features are computed from wav)")
    p.add_argument("--dev_feats", help="feats.scp of --dev_data (dumped fbank); without it fbank is computed")
    p.add_argument("--token_list", help="tokens.json/tokens.txt (from --init_param when finetuning)")
    p.add_argument("--cmvn_file", help="am.mvn (from --init_param when finetuning)")
    p.add_argument(
        "--output_dir", required=True, help="experiment folder: config.yaml, train.log, checkpoints/, model_dir/"
    )
    p.add_argument("--init_param", help="FunASR model folder to finetune from")
    p.add_argument("--freeze_param", help="comma list of parameter prefixes to freeze, e.g. encoder")
    p.add_argument(
        "--device",
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="cpu or cuda (default: cuda if available)",
    )
    p.add_argument("--seed", type=int, help="overrides train_conf.seed")
    p.add_argument("--num_threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    return p


def prepare(args: configargparse.Namespace, overrides: list[str]) -> tuple[dict, TrainInputs]:
    """Resolve config, token list, CMVN and init weights; raise ``ModelError``/``InputError`` on problems."""
    from funasr_lite.train.asr.trainer import TrainInputs  # noqa: PLC0415

    base, init_state, tokens, cmvn = None, None, None, args.cmvn_file
    if args.init_param:
        md = open_model_dir(args.init_param)
        if md.model_class not in ("Paraformer", "BiCifParaformer"):
            raise ModelError(md.path, f"is a {md.model_class} model, not a Paraformer")
        base, init_state, tokens = md.config, md.state_dict(), list(md.token_list or [])
        if args.token_list and read_token_list(args.token_list) != tokens:
            raise ModelError(
                args.token_list, f"differs from the token list of {md.path} (finetuning keeps the model's)"
            )
        if cmvn and Path(cmvn).read_bytes() != Path(md.cmvn_file).read_bytes():
            raise ModelError(cmvn, f"differs from {md.cmvn_file} (finetuning keeps the model's CMVN)")
        cmvn = str(md.cmvn_file)
    else:
        if not args.token_list or not args.cmvn_file:
            raise ModelError("command line", "--token_list and --cmvn_file are required (or --init_param)")
        tokens = read_token_list(args.token_list)
    if not cmvn or not Path(cmvn).is_file():
        raise ModelError(cmvn or "cmvn_file", "CMVN file does not exist")
    extra = list(overrides)
    if args.freeze_param:
        extra += ["--train_conf.freeze_param", args.freeze_param]
    if args.seed is not None:
        extra += ["--train_conf.seed", str(args.seed)]
    conf = resolve_config(args.config, extra, base)
    conf.setdefault("frontend_conf", {})["cmvn_file"] = str(Path(cmvn).resolve())
    token_path = args.token_list or str(Path(args.output_dir) / "tokens.json")
    conf.setdefault("tokenizer_conf", {})["token_list"] = str(Path(token_path).resolve())
    if args.init_param:
        conf["init_param"] = str(Path(args.init_param).resolve())
    from funasr_lite.train.asr.model import build_model, freeze  # noqa: PLC0415

    # model sections and freeze_param checked before any data is read
    freeze(build_model(conf, len(tokens)), list(conf["train_conf"]["freeze_param"]))
    inputs = TrainInputs(
        args.train_data, args.dev_data, tokens, cmvn, args.output_dir, args.train_feats, args.dev_feats, init_state
    )
    return conf, inputs


def main(argv: list[str] | None = None) -> int:
    args, overrides = build_parser().parse_known_args(argv)
    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    try:
        info = setup_distributed(args.device)
    except RuntimeError as e:
        print(f"train: {e}", file=sys.stderr)
        return 1
    out = Path(args.output_dir)
    setup_logging(out, info)
    try:
        conf, inputs = prepare(args, overrides)
        if info.is_main:
            out.mkdir(parents=True, exist_ok=True)
            if not args.token_list:
                (out / "tokens.json").write_text(
                    json.dumps(inputs.token_list, ensure_ascii=False) + "\n", encoding="utf-8"
                )
            save_config(conf, out / "config.yaml")
            log.info("config: %s", out / "config.yaml")
        from funasr_lite.train.asr.trainer import train  # noqa: PLC0415

        summary = train(conf, inputs, info)
    except (ModelError, InputError, ValueError, OSError) as e:  # OSError: e.g. disk full writing a checkpoint
        msg = f"{e.filename}: {e.strerror}" if isinstance(e, OSError) and e.filename and e.strerror else one_line(e)
        log.error("train: %s", one_line(msg))
        cleanup(info)
        return 1
    if info.is_main:
        log.info("done: %s", json.dumps(summary))
    cleanup(info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
