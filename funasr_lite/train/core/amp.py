"""Mixed precision for every trainer: one autocast helper and the loss scaler fp16 needs."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch


def autocast(device: torch.device, dtype: str = "fp32") -> AbstractContextManager[Any]:
    """A fresh ``torch.autocast`` to ``bf16``/``fp16`` on CUDA; a no-op context on other devices and for ``fp32``."""
    if device.type != "cuda" or dtype == "fp32":
        return nullcontext()
    return torch.autocast("cuda", dtype=torch.bfloat16 if dtype == "bf16" else torch.float16)


def grad_scaler(device: torch.device, dtype: str = "fp32") -> torch.amp.GradScaler:
    """A loss scaler, enabled only for ``fp16`` on CUDA (bf16 and fp32 need none; disabled it passes through)."""
    return torch.amp.GradScaler("cuda", enabled=dtype == "fp16" and device.type == "cuda")
