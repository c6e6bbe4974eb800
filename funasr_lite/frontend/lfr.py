"""Low frame rate (LFR) stacking, FunASR's ``apply_lfr`` as one index gather.

FunASR's rule: left-pad ``(lfr_m - 1) // 2`` copies of frame 0; output frame ``i`` concatenates the
padded frames ``[i * lfr_n, i * lfr_n + lfr_m)``, oldest first; a window running past the end is
filled with copies of the last frame; there are ``ceil(T / lfr_n)`` outputs. In original frame
numbers, output ``i`` slot ``k`` is frame ``clamp(i * lfr_n + k - (lfr_m - 1) // 2, 0, T - 1)``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def lfr_lengths(lengths: Tensor, lfr_n: int) -> Tensor:
    """Output frame counts, ``ceil(T / lfr_n)``."""
    return torch.div(lengths + lfr_n - 1, lfr_n, rounding_mode="floor")


def _check(lfr_m: int, lfr_n: int) -> None:
    if lfr_m < 1 or lfr_n < 1:
        raise ValueError(f"lfr_m and lfr_n must be >= 1, got lfr_m={lfr_m}, lfr_n={lfr_n}")


def apply_lfr(feats: Tensor, lfr_m: int, lfr_n: int) -> Tensor:
    """Stack ``(T, D)`` frames into ``(ceil(T / lfr_n), D * lfr_m)``; ``T == 0`` gives 0 frames."""
    if feats.dim() != 2:
        raise ValueError(f"feats must be (T, D), got shape {tuple(feats.shape)}")
    out, _ = apply_lfr_batch(feats.unsqueeze(0), None, lfr_m, lfr_n)
    return out[0]


def apply_lfr_batch(feats: Tensor, lengths: Tensor | None, lfr_m: int, lfr_n: int) -> tuple[Tensor, Tensor]:
    """Batched LFR of ``(B, T, D)`` frames with ``(B,)`` valid lengths (``None``: all ``T``).

    Each item pads with its own first and last valid frames, so padding frames never leak.
    Returns ``(B, T_lfr_max, D * lfr_m)`` zero beyond each item's outputs, and the output lengths.
    """
    _check(lfr_m, lfr_n)
    if feats.dim() != 3:
        raise ValueError(f"feats must be (B, T, D), got shape {tuple(feats.shape)}")
    batch, total, dim = feats.shape
    device = feats.device
    if lengths is None:
        lengths = torch.full((batch,), total, dtype=torch.long, device=device)
    lengths = torch.as_tensor(lengths, device=device).long()
    if batch and (int(lengths.min()) < 0 or int(lengths.max()) > total):
        raise ValueError(f"lengths must lie in [0, {total}], got {lengths.tolist()}")
    out_lengths = lfr_lengths(lengths, lfr_n)
    n_out = int(out_lengths.max()) if batch else 0
    if n_out == 0:
        return feats.new_zeros((batch, 0, dim * lfr_m)), out_lengths

    slots = torch.arange(n_out, device=device).unsqueeze(1) * lfr_n + torch.arange(lfr_m, device=device)
    src = (slots - (lfr_m - 1) // 2).unsqueeze(0)  # (1, n_out, lfr_m)
    last = (lengths - 1).clamp(min=0).view(-1, 1, 1)
    src = torch.minimum(src.clamp(min=0), last)  # (B, n_out, lfr_m)
    index = src.reshape(batch, -1, 1).expand(-1, -1, dim)
    out = feats.gather(1, index).reshape(batch, n_out, lfr_m * dim)
    valid = torch.arange(n_out, device=device).unsqueeze(0) < out_lengths.unsqueeze(1)
    return out.masked_fill(~valid.unsqueeze(-1), 0.0), out_lengths
