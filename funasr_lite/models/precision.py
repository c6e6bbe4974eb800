"""Inference precision: ``--dtype {fp32,bf16,fp16}`` and ``--quantize int8`` for the heavy parts of a model.

Only the modules passed in change (for Paraformer: encoder and decoder). The CIF predictor stays
in float32, because its alphas decide how many tokens fire and where (FunASR also runs it outside
autocast). ``int8`` is PyTorch's dynamic quantisation of ``nn.Linear`` layers (weights int8,
activations quantised per batch), a CPU feature; bf16/fp16 cast the weights.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import torch
from torch import nn

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
QUANTIZE = (None, "int8")


def parse_dtype(name: str) -> torch.dtype:
    """``fp32``/``bf16``/``fp16`` (also ``float32``/``bfloat16``/``float16``) -> torch dtype."""
    aliases = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16", "half": "fp16"}
    key = aliases.get(name, name)
    if key not in DTYPES:
        raise ValueError(f"unknown dtype {name!r} (choose from {', '.join(DTYPES)})")
    return DTYPES[key]


def set_precision(modules: Iterable[nn.Module], dtype: str = "fp32", quantize: str | None = None,
                  device: str | torch.device = "cpu") -> None:
    """Cast ``modules`` to ``dtype`` or quantise their Linear layers to int8, in place."""
    if quantize not in QUANTIZE:
        raise ValueError(f"unknown quantize {quantize!r} (choose from int8)")
    target = parse_dtype(dtype)
    modules = list(modules)
    if quantize == "int8":
        if torch.device(device).type != "cpu":
            raise ValueError("--quantize int8 is a CPU feature (dynamic quantisation); use --dtype bf16 on a GPU")
        if target != torch.float32:
            raise ValueError("--quantize int8 runs with --dtype fp32 activations")
        with warnings.catch_warnings():  # torch.ao.quantization announces its move to torchao
            warnings.simplefilter("ignore")
            for module in modules:
                torch.ao.quantization.quantize_dynamic(module, {nn.Linear}, dtype=torch.qint8, inplace=True)
        return
    for module in modules:
        module.to(target)


def module_dtype(module: nn.Module) -> torch.dtype:
    """The floating dtype of ``module``'s first floating parameter (float32 when it has none)."""
    for p in module.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32
