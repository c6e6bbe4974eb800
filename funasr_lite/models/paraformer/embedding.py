"""FunASR's ``SinusoidalPositionEncoder`` (``funasr/models/transformer/embedding.py``)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sinusoidal_encoding(length: int, depth: int, dtype: torch.dtype, device: torch.device | None = None) -> Tensor:
    """``(1, length, depth)`` table: positions 1..length, ``[sin, cos]`` concatenated (not interleaved).

    ``inv_ts[k] = exp(-k * ln(10000) / (depth/2 - 1))`` for ``k < depth/2``. Computed in ``dtype``
    (FunASR computes it in the input's dtype).
    """
    positions = torch.arange(1, length + 1, device=device).to(dtype)
    log_inc = torch.log(torch.tensor([10000], dtype=dtype, device=device)) / (depth / 2 - 1)
    inv_timescales = torch.exp(torch.arange(math.ceil(depth / 2), device=device).to(dtype) * (-log_inc))
    scaled = positions.reshape(1, -1, 1) * inv_timescales.reshape(1, 1, -1)
    return torch.cat([torch.sin(scaled), torch.cos(scaled)], dim=2)


class SinusoidalPositionEncoder(nn.Module):
    """Adds the 1-based sin/cos table to ``(B, T, D)`` input; no parameters, no dropout.

    The table is built in at least float32 (``promote_types(dtype, float32)``) and cast to the
    input dtype, so fp16/bf16 inputs get exact positions; in fp32 this is FunASR's arithmetic.
    """

    def forward(self, x: Tensor) -> Tensor:
        _, length, depth = x.shape
        table_dtype = torch.promote_types(x.dtype, torch.float32)
        return x + sinusoidal_encoding(length, depth, table_dtype, x.device).to(x.dtype)
