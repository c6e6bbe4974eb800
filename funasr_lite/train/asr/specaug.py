"""FunASR's ``SpecAugLFR`` (``funasr/models/specaug/specaug.py``, ``mask_along_axis.py``, ``time_warp.py``).

Applied to LFR features ``(B, T, D)`` (``D = 80 * lfr_m``) after CMVN, in training only. Random draws
happen in FunASR's order: time warp (CPU ``randint``: centre, then warped point; once for the batch
when every length is equal, else once per item), frequency mask (widths ``(B, n)``, then starts
``(B, n)``), time mask (widths, then starts). With ``generator=None`` they come from torch's global
RNG (the CPU one for the time warp, the input's device for the masks), exactly as FunASR, so after
``torch.manual_seed(s)`` the output equals FunASR's. With a ``torch.Generator`` the same draws come
from it (on its device, then moved to the input's device).

Frequency masks (``lfr_rate + 1`` blocks): one width ``w`` in ``[lo, hi)`` and one start in
``[0, max(1, D // (lfr_rate + 1) - max_w))`` per mask, the band zeroed in every stacked block
(``max_w`` is the largest width drawn in the whole batch, as FunASR). Time masks ignore the
lengths (a mask may fall into padding). Masked values are replaced with 0.0.

Deviation: the input is never modified in place (FunASR masks in place when no grad is needed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

Range = int | float | Sequence


def _randint(
    low: int, high: int, size: tuple[int, ...], device: torch.device, generator: torch.Generator | None
) -> Tensor:
    """``torch.randint`` on ``device`` from the global RNG, or from ``generator`` (then moved)."""
    if generator is None:
        return torch.randint(low, high, size, device=device)
    return torch.randint(low, high, size, device=generator.device, generator=generator).to(device)


def _as_range(value: Range, name: str) -> tuple:
    """FunASR's rule: a scalar ``v`` means ``(0, v)``; otherwise exactly two values, hi > lo."""
    if isinstance(value, (int, float)):
        value = (0, value)
    value = tuple(value)
    if len(value) != 2 or not value[1] > value[0]:
        raise ValueError(f"{name} must be two values (low, high) with high > low, got {value}")
    return value


def mask_along_axis_lfr(
    spec: Tensor, dim: int, width_range: tuple, num_mask: int, lfr_rate: int, generator: torch.Generator | None
) -> Tensor:
    """FunASR's ``mask_along_axis_lfr`` (``lfr_rate == 1``: plain ``mask_along_axis``) on ``(B, T, D)``."""
    batch, device = spec.shape[0], spec.device
    if batch == 0 or num_mask == 0:
        return spec
    size = spec.shape[dim] // lfr_rate
    length = _randint(int(width_range[0]), int(width_range[1]), (batch, num_mask), device, generator)
    pos = _randint(0, max(1, size - int(length.max())), (batch, num_mask), device, generator)
    # the same band in each of the lfr_rate blocks: starts pos + size * k
    length = length.unsqueeze(2).repeat(1, lfr_rate, 1)
    pos = torch.cat([pos.unsqueeze(2) + size * k for k in range(lfr_rate)], dim=1)
    aran = torch.arange(spec.shape[dim], device=device)[None, None, :]
    mask = ((pos <= aran) & (aran < pos + length)).any(dim=1)
    mask = mask.unsqueeze(2) if dim == 1 else mask.unsqueeze(1)
    return spec.masked_fill(mask, 0.0)


def _time_warp_one(x: Tensor, window: int, mode: str, generator: torch.Generator | None) -> Tensor:
    """FunASR's ``time_warp`` on ``(B, T, D)``: one warp point for the whole tensor."""
    t = x.shape[1]
    if t - window <= window:
        return x
    center = int(_randint(window, t - window, (1,), torch.device("cpu"), generator)[0])
    warped = int(_randint(center - window, center + window, (1,), torch.device("cpu"), generator)[0]) + 1
    x4 = x[:, None]
    left = torch.nn.functional.interpolate(x4[:, :, :center], (warped, x.shape[2]), mode=mode, align_corners=False)
    right = torch.nn.functional.interpolate(x4[:, :, center:], (t - warped, x.shape[2]), mode=mode, align_corners=False)
    return torch.cat([left, right], dim=2)[:, 0]


def time_warp(x: Tensor, lengths: Tensor, window: int, mode: str, generator: torch.Generator | None) -> Tensor:
    """FunASR's ``TimeWarp.forward``: one warp for equal lengths, else per item (output ``max(lengths)`` long)."""
    lens = [int(n) for n in lengths]
    if all(n == lens[0] for n in lens):
        return _time_warp_one(x, window, mode, generator)
    ys = [_time_warp_one(x[i : i + 1, :n], window, mode, generator)[0] for i, n in enumerate(lens)]
    out = x.new_zeros((len(ys), max(lens), x.shape[2]))
    for i, y in enumerate(ys):
        out[i, : y.shape[0]] = y
    return out


class SpecAugLFR(torch.nn.Module):
    """SpecAugment for LFR features; constructor keywords and defaults are FunASR's ``specaug_conf``."""

    def __init__(
        self,
        apply_time_warp: bool = True,
        time_warp_window: int = 5,
        time_warp_mode: str = "bicubic",
        apply_freq_mask: bool = True,
        freq_mask_width_range: Range = (0, 20),
        num_freq_mask: int = 2,
        lfr_rate: int = 0,
        apply_time_mask: bool = True,
        time_mask_width_range: Range | None = None,
        time_mask_width_ratio_range: Range | None = None,
        num_time_mask: int = 2,
    ) -> None:
        super().__init__()
        if not (apply_time_warp or apply_time_mask or apply_freq_mask):
            raise ValueError("Either one of time_warp, time_mask, or freq_mask should be applied")
        if apply_time_mask and time_mask_width_range is not None and time_mask_width_ratio_range is not None:
            raise ValueError('Either one of "time_mask_width_range" or "time_mask_width_ratio_range" can be used')
        if apply_time_mask and time_mask_width_range is None and time_mask_width_ratio_range is None:
            raise ValueError('Either one of "time_mask_width_range" or "time_mask_width_ratio_range" should be used.')
        if lfr_rate < 0 or num_freq_mask < 0 or num_time_mask < 0:
            raise ValueError("lfr_rate, num_freq_mask and num_time_mask must be >= 0")
        self.apply_time_warp = bool(apply_time_warp)
        self.time_warp_window = int(time_warp_window)
        self.time_warp_mode = time_warp_mode
        self.apply_freq_mask = bool(apply_freq_mask)
        self.freq_mask_width_range = _as_range(freq_mask_width_range, "freq_mask_width_range")
        self.num_freq_mask = int(num_freq_mask)
        self.lfr_rate = int(lfr_rate)
        self.apply_time_mask = bool(apply_time_mask)
        self.time_mask_width_range = (
            None if time_mask_width_range is None else _as_range(time_mask_width_range, "time_mask_width_range")
        )
        self.time_mask_width_ratio_range = (
            None
            if time_mask_width_ratio_range is None
            else _as_range(time_mask_width_ratio_range, "time_mask_width_ratio_range")
        )
        self.num_time_mask = int(num_time_mask)

    def extra_repr(self) -> str:
        return (
            f"time_warp={self.apply_time_warp}, freq={self.freq_mask_width_range}x{self.num_freq_mask} "
            f"lfr_rate={self.lfr_rate}, time={self.time_mask_width_range or self.time_mask_width_ratio_range}"
            f"x{self.num_time_mask}"
        )

    def forward(self, x: Tensor, x_lengths: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``(B, T, D)`` features and lengths -> augmented features (same lengths; see the module doc)."""
        if x.dim() != 3:
            raise ValueError(f"x must be (B, T, D), got shape {tuple(x.shape)}")
        if self.apply_time_warp:
            x = time_warp(x, x_lengths, self.time_warp_window, self.time_warp_mode, generator)
        if self.apply_freq_mask:
            x = mask_along_axis_lfr(x, 2, self.freq_mask_width_range, self.num_freq_mask, self.lfr_rate + 1, generator)
        if self.apply_time_mask:
            if self.time_mask_width_range is not None:
                x = mask_along_axis_lfr(x, 1, self.time_mask_width_range, self.num_time_mask, 1, generator)
            else:  # MaskAlongAxisVariableMaxWidth: widths in [floor(T * lo), floor(T * hi)) of the padded T
                t = x.shape[1]
                lo = max(0, math.floor(t * self.time_mask_width_ratio_range[0]))
                hi = min(t, math.floor(t * self.time_mask_width_ratio_range[1]))
                if hi > lo:
                    x = mask_along_axis_lfr(x, 1, (lo, hi), self.num_time_mask, 1, generator)
        return x, x_lengths
