"""Export trained Paraformer weights as a drop-in FunASR 1.x model folder.

The folder has the layout of the official ModelScope Paraformer folders
(``iic/speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-pytorch``), the files FunASR's
``download_from_ms`` (``funasr/download/download_model_from_hub.py``) reads:

- ``model.pt``: the bare state dict (FunASR parameter names, float tensors as float32, contiguous,
  no optimiser state, no ``module.`` prefix);
- ``config.yaml``: the FunASR 1.x sections of the training config (``model``, ``*_conf``, ``frontend``,
  ``specaug``, ``tokenizer``, ``normalize`` and the training blocks ``train_conf``, ``optim``,
  ``scheduler``, ``dataset`` ...). As in the official folders, file paths are *not* in it:
  ``frontend_conf.cmvn_file`` and ``tokenizer_conf.token_list``/``seg_dict_file`` are removed, and
  FunASR / funasr_lite find the files through ``configuration.json``. ``frontend_conf.dither`` is
  written as ``0.0`` (training dither lives in ``dataset_conf``; without the key FunASR's
  ``WavFrontend`` dithers at 1.0 and decodes the folder differently from funasr_lite). Other
  top-level keys of a training config (data lists, output paths ...) are dropped;
- ``configuration.json``: ``framework``/``task``/``model``/``pipeline``/``model_name_in_hub`` and
  ``file_path_metas`` (what FunASR's ``download_from_ms`` merges into the config);
- ``am.mvn`` (copied), ``tokens.json`` (the token list as a JSON array), ``seg_dict`` (only when given).

The folder is written under a temporary sibling name, checked, and renamed into place; an
existing ``out_dir`` is replaced only once the new folder is complete. At the end of training,
:func:`export_best` exports the average of the best checkpoints.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import Tensor

from funasr_lite.errors import ModelError
from funasr_lite.fileio import _umask, write_text_atomic
from funasr_lite.modelio import open_model_dir
from funasr_lite.modelio.checkpoint import format_mismatch, state_dict_mismatches
from funasr_lite.modelio.tokens import check_token_list
from funasr_lite.models.paraformer.build import ASR_CLASSES
from funasr_lite.train.core.checkpoint import CheckpointManager, average_checkpoints, fsync_dir, save_atomic

log = logging.getLogger(__name__)

CONFIG_SECTIONS = (  # in the order of the official config.yaml
    "model",
    "model_conf",
    "encoder",
    "encoder_conf",
    "decoder",
    "decoder_conf",
    "predictor",
    "predictor_conf",
    "frontend",
    "frontend_conf",
    "specaug",
    "specaug_conf",
    "train_conf",
    "optim",
    "optim_conf",
    "scheduler",
    "scheduler_conf",
    "dataset",
    "dataset_conf",
    "tokenizer",
    "tokenizer_conf",
    "ctc_conf",
    "normalize",
    "normalize_conf",
)


def export_config(config: dict[str, Any]) -> dict[str, Any]:
    """The ``config.yaml`` of the folder: FunASR sections only, without file paths."""
    dropped = sorted(k for k in config if k not in CONFIG_SECTIONS)
    if dropped:
        log.info("export: not copying training-only config keys %s", dropped)
    out = {k: config[k] for k in CONFIG_SECTIONS if k in config}
    if out.get("model") not in ASR_CLASSES:
        raise ModelError("config", f"model {out.get('model')!r} is not one of {', '.join(ASR_CLASSES)}")
    frontend_conf = dict(out.get("frontend_conf") or {})
    frontend_conf.pop("cmvn_file", None)
    if frontend_conf.get("dither", 0.0) != 0.0:
        log.info("export: frontend_conf.dither %r -> 0.0 (inference features)", frontend_conf["dither"])
    # FunASR's WavFrontend dithers at 1.0 when the key is absent: the folder decodes in FunASR as here
    frontend_conf["dither"] = 0.0
    out["frontend_conf"] = frontend_conf
    out.setdefault("frontend", "WavFrontend")
    tok_conf = {
        k: v
        for k, v in (out.get("tokenizer_conf") or {}).items()
        if k not in ("token_list", "seg_dict_file", "seg_dict")
    }
    tok_conf.setdefault("unk_symbol", "<unk>")
    out["tokenizer"] = out.get("tokenizer") or "CharTokenizer"
    out["tokenizer_conf"] = tok_conf
    return out


def configuration_json(with_seg_dict: bool) -> dict[str, Any]:
    """``configuration.json`` as the ModelScope 1.x ASR folders have it."""
    tok: dict[str, str] = {"token_list": "tokens.json"}
    if with_seg_dict:
        tok["seg_dict_file"] = "seg_dict"
    return {
        "framework": "pytorch",
        "task": "auto-speech-recognition",
        "model": {"type": "funasr"},
        "pipeline": {"type": "funasr-pipeline"},
        "model_name_in_hub": {"ms": "", "hf": ""},
        "file_path_metas": {
            "init_param": "model.pt",
            "config": "config.yaml",
            "tokenizer_conf": tok,
            "frontend_conf": {"cmvn_file": "am.mvn"},
        },
    }


def clean_state_dict(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """CPU tensors, floats as float32, contiguous and compact (no shared oversized storage); ``module.`` stripped."""
    if state_dict and all(k.startswith("module.") for k in state_dict):
        state_dict = {k[len("module.") :]: v for k, v in state_dict.items()}
    out = {}
    for k, v in state_dict.items():
        if not isinstance(v, Tensor):
            raise ModelError("state_dict", f"entry {k!r} is not a tensor ({type(v).__name__})")
        v = v.detach().to("cpu", torch.float32) if v.is_floating_point() else v.detach().cpu()
        v = v.contiguous()
        if v.untyped_storage().nbytes() != v.numel() * v.element_size():
            v = v.clone()
        out[k] = v
    return out


def _check_weights(config: dict[str, Any], state: dict[str, Tensor], n_tokens: int) -> None:
    """Build the model on the meta device and compare names and shapes with ``state``."""
    cls = ASR_CLASSES[config["model"]]
    with torch.device("meta"):
        model = cls.from_config(config, n_tokens)
    expected = {k: v.shape for k, v in model.state_dict().items()}
    missing, unexpected, wrong = state_dict_mismatches(expected, state)
    if missing or unexpected or wrong:
        what = f"{cls.__name__} built from the config"
        raise ModelError("state_dict", format_mismatch(missing, unexpected, wrong, what))


def _copy_fsync(src: Path, dst: Path) -> None:
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        shutil.copyfileobj(fin, fout)
        fout.flush()
        os.fsync(fout.fileno())


def export_model_dir(
    state_dict: dict[str, Tensor],
    config: dict[str, Any],
    token_list: list[str],
    cmvn_file: str | Path,
    out_dir: str | Path,
    seg_dict_file: str | Path | None = None,
) -> Path:
    """Write a drop-in FunASR 1.x Paraformer folder at ``out_dir`` (see the module docstring); returns it.

    Raises ``ModelError`` when the weights do not match the model the config describes (names,
    shapes, ``len(token_list)``), for an invalid token list or a non-ASR ``model:``.
    """
    out = Path(out_dir).absolute()
    if out.exists() and not out.is_dir():
        raise ModelError(out, "exists and is not a folder")
    cmvn_file = Path(cmvn_file)
    if not cmvn_file.is_file():
        raise ModelError(cmvn_file, "CMVN file not found")
    tokens = check_token_list([str(t) for t in token_list], "token_list")
    cfg = export_config(config)
    state = clean_state_dict(state_dict)
    _check_weights(cfg, state, len(tokens))

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        save_atomic(state, tmp / "model.pt")
        write_text_atomic(tmp / "config.yaml", yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False))
        write_text_atomic(tmp / "tokens.json", json.dumps(tokens, ensure_ascii=False, indent=2) + "\n")
        meta = configuration_json(seg_dict_file is not None)
        write_text_atomic(tmp / "configuration.json", json.dumps(meta, indent=2) + "\n")
        _copy_fsync(cmvn_file, tmp / "am.mvn")
        if seg_dict_file is not None:
            _copy_fsync(Path(seg_dict_file), tmp / "seg_dict")
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
        md = open_model_dir(tmp)  # config, tokens, CMVN and class resolve as a reader will see them
        if md.model_class != cfg["model"] or md.token_list != tokens:
            n = len(md.token_list or [])
            raise ModelError(tmp, f"exported folder reads back as {md.model_class} with {n} tokens")
        fsync_dir(tmp)
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _swap_into_place(new: Path, out: Path) -> None:
    """Rename ``new`` to ``out``; an existing ``out`` is moved aside first and removed afterwards."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        os.rmdir(old)
        os.rename(out, old)
    try:
        os.rename(new, out)
    except BaseException:
        if old is not None:
            os.rename(old, out)
        raise
    fsync_dir(out.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def export_best(
    conf: dict[str, Any], token_list: list[str], cmvn_file: str | Path, manager: CheckpointManager, out: Path
) -> dict[str, Any]:
    """Average the ``avg_nbest_model`` best checkpoints of the last ``avg_tail_fraction`` of the steps
    (the newest one when none is ranked), export ``out/model_dir`` and record the choice in
    ``out/model_dir_info.json``; returns that record."""
    tc = conf["train_conf"]
    latest = manager.latest()
    if latest is None:
        raise ValueError(f"{out / 'checkpoints'}: no checkpoint to export")
    last_step = max((e.get("step") or 0) for e in manager.entries())
    # checkpoints from early in the schedule (half-trained) would drag the average down
    min_step = math.ceil((1.0 - float(tc["avg_tail_fraction"])) * last_step)
    best = manager.best(int(tc["avg_nbest_model"]), min_step) or [latest]
    avg = average_checkpoints(best, key="model")
    model_dir = export_model_dir(avg, conf, token_list, cmvn_file, out / "model_dir")
    used = {"averaged": [p.name for p in best], "model_dir": str(model_dir)}
    write_text_atomic(out / "model_dir_info.json", json.dumps(used, indent=1) + "\n")
    log.info("exported %s (average of %s)", model_dir, ", ".join(used["averaged"]))
    return used
