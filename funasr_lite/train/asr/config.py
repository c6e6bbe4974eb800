"""Training configuration: FunASR 1.x ``config.yaml`` layout, defaults, overrides and validation.

A training config is a FunASR config (``model``, ``encoder_conf``, ... as in an official model
folder) plus the training sections below. The command line overrides any key with a dotted
option (``--train_conf.max_epoch 5``, ``--encoder_conf.num_blocks 6``); values are parsed as
YAML. Unknown keys and values of the wrong type are errors that name the key, so a typo fails
before training starts. The model sections are checked by building the model.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from funasr_lite.errors import ModelError
from funasr_lite.models.paraformer.template import SPECAUG_LFR_CONF
from funasr_lite.yamlio import read_yaml

# Training sections with their defaults: every key a user may set, and its type.
TRAIN_DEFAULTS: dict[str, dict[str, Any]] = {
    "train_conf": {
        "max_epoch": 10,
        "max_steps": 0,  # stop after this many optimiser steps (0: no limit)
        "max_minutes": 0.0,  # stop cleanly (checkpoint written) after this wall time (0: none)
        "accum_grad": 1,
        "grad_clip": 5.0,
        "keep_nbest_models": 10,
        "avg_nbest_model": 10,
        "avg_keep_nbest_models_type": "acc",  # acc | loss (dev)
        "avg_tail_fraction": 0.5,  # average only checkpoints from the last this much of the steps
        "log_interval": 50,
        "validate_interval": 0,  # optimiser steps between dev evaluations (0: each epoch only)
        "save_checkpoint_interval": 0,  # optimiser steps between mid-epoch checkpoints (0: each epoch only)
        "dtype": "fp32",  # fp32 | bf16 | fp16 (autocast on CUDA; fp16 with a grad scaler)
        "seed": 777,
        "dev_cer": True,  # greedy-decode dev at each evaluation and log its CER
        "freeze_param": [],  # parameter-name prefixes to freeze (e.g. [encoder])
        "use_tensorboard": True,
    },
    "dataset_conf": {
        "batch_type": "length",  # the only type: padded 10 ms fbank frames per batch
        "batch_size": 20000,  # frame budget (batch_bins): max_len * n_items <= batch_size
        "max_batch_size": 0,  # cap on items per batch (0: none)
        "max_token_length": 3000,  # drop utterances with more fbank frames (30 s)
        "shuffle": True,
        "bucket_size": 0,  # 0: the sampler's default
        "num_workers": 2,
        "preload": "auto",  # auto (device on CUDA) | none | device: fbank cached on the training device
        "dither": 1.0,  # FunASR trains with dither 1.0 (wav input only)
    },
    "optim": "adam",
    "optim_conf": {"lr": 0.0005},
    "scheduler": "warmuplr",
    "scheduler_conf": {"warmup_steps": 30000},
    "specaug": "SpecAugLFR",
    "specaug_conf": copy.deepcopy(SPECAUG_LFR_CONF),
}
FREE_SECTIONS = {"optim_conf", "scheduler_conf", "specaug_conf"}  # checked by their builders
MODEL_KEYS = {
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
    "tokenizer",
    "tokenizer_conf",
    "normalize",
    "normalize_conf",
    "ctc_conf",
    "input_size",
    "cmvn_file",
    "token_list",
    "init_param",
    "version",
}


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``over``, recursively for dicts (lists and scalars replace)."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["--a.b", "3", "--c=x"]`` -> ``{"a": {"b": 3}, "c": "x"}`` (values parsed as YAML)."""
    out: dict[str, Any] = {}
    i = 0
    while i < len(items):
        item = items[i]
        if not item.startswith("--") or len(item) <= 2:
            raise ModelError("command line", f"unexpected argument {item!r} (overrides look like --section.key value)")
        if "=" in item:
            key, raw = item[2:].split("=", 1)
            i += 1
        else:
            if i + 1 >= len(items):
                raise ModelError("command line", f"{item} needs a value")
            key, raw = item[2:], items[i + 1]
            i += 2
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ModelError("command line", f"--{key}: {part} is set twice")
        node[parts[-1]] = value
    return out


def _type_ok(default: Any, value: Any) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, list):
        return isinstance(value, (list, str))
    if isinstance(default, str):
        return isinstance(value, str)
    return True


def validate(conf: dict[str, Any]) -> None:
    """Unknown top-level keys, unknown training keys and wrongly typed values raise ``ModelError``."""
    for key in conf:
        if key not in TRAIN_DEFAULTS and key not in MODEL_KEYS:
            raise ModelError("config", f"unknown key {key!r}")
    for section, defaults in TRAIN_DEFAULTS.items():
        if not isinstance(defaults, dict) or section in FREE_SECTIONS:
            continue
        for key, value in (conf.get(section) or {}).items():
            if key not in defaults:
                raise ModelError("config", f"unknown key {section}.{key} (known: {', '.join(sorted(defaults))})")
            if not _type_ok(defaults[key], value):
                raise ModelError("config", f"{section}.{key}={value!r}: expected {type(defaults[key]).__name__}")
    tc, dc = conf["train_conf"], conf["dataset_conf"]
    if tc["dtype"] not in ("fp32", "bf16", "fp16"):
        raise ModelError("config", f"train_conf.dtype={tc['dtype']!r}: expected fp32, bf16 or fp16")
    if not 0.0 < float(tc["avg_tail_fraction"]) <= 1.0:
        raise ModelError("config", f"train_conf.avg_tail_fraction={tc['avg_tail_fraction']!r}: expected 0 < f <= 1")
    if tc["avg_keep_nbest_models_type"] not in ("acc", "loss"):
        raise ModelError("config", "train_conf.avg_keep_nbest_models_type must be acc or loss")
    if dc["batch_type"] != "length":
        raise ModelError("config", f"dataset_conf.batch_type={dc['batch_type']!r}: only 'length' (frame budget)")
    if dc["preload"] not in ("auto", "none", "device"):
        raise ModelError("config", f"dataset_conf.preload={dc['preload']!r}: expected auto, none or device")
    for key in ("max_epoch", "accum_grad", "batch_size"):
        value = tc.get(key, dc.get(key))
        if value < 1:
            raise ModelError("config", f"{key} must be >= 1, got {value}")


def resolve_config(
    config_path: str | Path | None,
    overrides: list[str] | dict[str, Any] | None = None,
    base: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Defaults <- ``base`` (an init model's config.yaml) <- the YAML file <- the overrides; validated."""
    conf = copy.deepcopy(TRAIN_DEFAULTS)
    if base:
        # an init model's folder gives the model; its training sections (FunASR's trainer) are not ours
        conf = deep_merge(conf, {k: v for k, v in base.items() if k in MODEL_KEYS | {"specaug", "specaug_conf"}})
    if config_path is not None:
        conf = deep_merge(conf, read_yaml(config_path))
    if overrides:
        conf = deep_merge(conf, parse_overrides(overrides) if isinstance(overrides, list) else overrides)
    if isinstance(conf["train_conf"].get("freeze_param"), str):
        conf["train_conf"]["freeze_param"] = [p for p in conf["train_conf"]["freeze_param"].split(",") if p]
    validate(conf)
    return conf


def save_config(conf: dict[str, Any], path: str | Path) -> None:
    """Write the resolved config as YAML, atomically."""
    from funasr_lite.fileio import write_text_atomic  # noqa: PLC0415

    write_text_atomic(Path(path), yaml.safe_dump(conf, allow_unicode=True, sort_keys=False))
