"""Inference precision: ``--dtype {fp32,bf16,fp16}`` and ``--quantize int8`` for the heavy parts of a model.

Only the modules passed in change (for Paraformer: encoder and decoder). bf16/fp16 store their
weights in that dtype and the model runs under ``torch.autocast`` (:func:`autocast`): matrix
products in half precision, while LayerNorm, softmax and the residual sums stay float32 (casting
the whole stack instead loses about 1 % token agreement with fp32 on the synth test set). The
CIF predictor stays float32 outside autocast (:func:`full_precision`), because its alphas decide
how many tokens fire and where; FunASR also runs it outside autocast. ``int8`` is PyTorch's
dynamic quantisation of ``nn.Linear`` layers (weights int8, activations quantised per batch), a
CPU feature.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext

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


def set_precision(
    modules: Iterable[nn.Module], dtype: str = "fp32", quantize: str | None = None, device: str | torch.device = "cpu"
) -> None:
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
        for sub in module.modules():  # autocast runs LayerNorm in float32; CPU needs its parameters in float32
            if isinstance(sub, nn.LayerNorm):
                sub.float()


def module_dtype(module: nn.Module) -> torch.dtype:
    """The dtype of ``module``'s weights: that of its first floating parameter outside LayerNorms
    (float32 when it has none; quantised modules keep float32 LayerNorms only)."""
    for sub in module.modules():
        if isinstance(sub, nn.LayerNorm):
            continue
        for p in sub.parameters(recurse=False):
            if p.is_floating_point():
                return p.dtype
    return torch.float32


def autocast(device: str | torch.device, dtype: str) -> AbstractContextManager:
    """``torch.autocast`` for a half ``dtype`` on ``device``'s type; a no-op for fp32."""
    target = parse_dtype(dtype)
    if target == torch.float32:
        return nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=target)


def full_precision(device: str | torch.device) -> AbstractContextManager:
    """Autocast switched off (for the CIF predictor), whatever the caller enabled."""
    return torch.autocast(device_type=torch.device(device).type, enabled=False)


def model_input(x: torch.Tensor, module: nn.Module) -> torch.Tensor:
    """``x`` as ``module`` takes it: unchanged under autocast (which casts per operation), else in its dtype."""
    if torch.is_autocast_enabled(x.device.type):
        return x
    return x.to(module_dtype(module))
