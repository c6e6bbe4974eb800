"""FunASR's resampler: torchaudio's windowed-sinc ``Resample`` (Hann window), without torchaudio.

FunASR 1.4.16 resamples every input whose rate differs from the model frontend's ``fs`` with
``torchaudio.transforms.Resample(audio_fs, fs)`` and its defaults (``funasr/utils/load_utils.py``,
``load_audio_text_image_video``): ``resampling_method="sinc_interp_hann"``,
``lowpass_filter_width=6``, ``rolloff=0.99``, the kernel computed in float64 and cached as
float32. This module follows ``torchaudio/functional/functional.py`` (torchaudio 2.11):

* ``sinc_kernel`` is ``_get_sinc_resample_kernel``: both rates divided by their gcd (``orig``,
  ``new``), ``base_freq = min(orig, new) * rolloff``, ``width = ceil(lowpass_filter_width * orig /
  base_freq)``; for output phase ``j`` and tap ``m`` of ``2 * width + orig`` taps,
  ``t = (-j / new + (m - width) / orig) * base_freq`` clamped to ``[-w, w]`` (``w`` the filter
  width), kernel ``= sinc(pi t) * cos(pi t / w / 2)**2 * base_freq / orig``. The same float64
  operations in the same order (``-j / new`` in float32 first, as torchaudio's ``arange`` / int
  division does), then cast to float32; in numpy, whose ``sin``/``cos`` gave torchaudio's float32
  kernel bit for bit on all 456 million values of 20 rate pairs checked.
* ``apply_kernel`` is ``_apply_sinc_resample_kernel``: zero-pad ``width`` left and ``width + orig``
  right, ``conv1d`` with stride ``orig`` (output phase ``j`` of frame ``k`` reads input
  ``k * orig + m - width``), interleave the phases, keep ``ceil(new * length / orig)`` samples.

Two differences in how it is computed, not in what:

* Only the taps inside the filter support are stored (``2 * width + 2`` per phase, starting at
  column ``floor(j * orig / new)``). Every tap torchaudio has outside them is exactly 0.0 in
  float32 (there ``|t| = w``: window ``cos(pi / 2)**2`` ~ 4e-33 times sinc ~ 1e-17 underflows), so
  the sums are the same; an odd rate (44101 Hz: 16000 phases) costs 16000 x 36 taps instead of
  torchaudio's 16000 x 44135 (2.8 GB).
* Everything runs in numpy on the calling thread: no torch thread pool, so it is safe in forked
  DataLoader workers (a torch op big enough to start an OpenMP team hangs a child forked after
  the parent used one). The convolution is a float64 sum, tap by tap in a fixed order, rounded
  once to float32. A float32 sample times a float32 weight is exact in float64, and
  numpy's elementwise ``take``/``multiply``/``add`` are exactly rounded, so every output is one
  fixed sequence of float64 additions: the same bits on every CPU, SIMD width and block size (no
  BLAS/oneDNN kernel choice, no thread pool). torchaudio's float32 ``conv1d`` rounds as it
  accumulates, in an order its kernel picks, so the two differ by float32 rounding only
  (max 5.96e-8 on FunASR's outputs in ``tests/fixtures/resample``, see ``tests/test_resample.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

LOWPASS_FILTER_WIDTH = 6  # torchaudio's defaults, the ones FunASR uses
ROLLOFF = 0.99
MAX_KERNEL_TAPS = 1 << 22  # phases x taps beyond this: refuse (a damaged header or an exotic rate)
_BLOCK_SAMPLES = 1 << 15  # output samples computed per block (bounds the float64 temporaries)
_KERNEL_CHUNK = 1 << 16  # kernel values computed at a time (bounds the float64 temporaries)


class ResampleError(ValueError):
    """A rate pair this resampler refuses (its filter would be too large)."""


@dataclass(frozen=True)
class SincKernel:
    """The polyphase filter for one rate pair, only the taps inside the filter support.

    ``weights[j, s]`` multiplies input sample ``k * orig + offsets[j] + s - width`` for output
    sample ``k * new + j`` (torchaudio's kernel row ``j``, column ``offsets[j] + s``).
    """

    orig: int  # input rate / gcd
    new: int  # output rate / gcd
    width: int  # torchaudio's zero padding on the left
    offsets: np.ndarray  # (new,) int64, first stored column of each phase
    weights: np.ndarray  # (new, 2 * width + 2) float32


def sinc_kernel(
    orig_freq: int, new_freq: int, lowpass_filter_width: int = LOWPASS_FILTER_WIDTH, rolloff: float = ROLLOFF
) -> SincKernel:
    """torchaudio's ``_get_sinc_resample_kernel`` (``sinc_interp_hann``, ``dtype=None``), compact."""
    if orig_freq <= 0 or new_freq <= 0 or int(orig_freq) != orig_freq or int(new_freq) != new_freq:
        raise ResampleError(f"rates must be positive integers, got {orig_freq} and {new_freq}")
    if lowpass_filter_width <= 0:
        raise ResampleError("lowpass_filter_width must be positive")
    gcd = math.gcd(int(orig_freq), int(new_freq))
    orig, new = int(orig_freq) // gcd, int(new_freq) // gcd
    base_freq = min(orig, new)
    base_freq *= rolloff
    width = math.ceil(lowpass_filter_width * orig / base_freq)
    taps = 2 * width + 2
    if new * taps > MAX_KERNEL_TAPS:
        raise ResampleError(
            f"the rate ratio {orig}:{new} (after dividing by the gcd) needs a {new} x {taps} "
            f"filter (more than {MAX_KERNEL_TAPS} taps)"
        )
    offsets = np.arange(new, dtype=np.int64) * orig // new
    column = (offsets[:, None] + np.arange(taps, dtype=np.int64)).reshape(-1)  # torchaudio's column m
    phase = np.repeat(np.arange(new, dtype=np.int64), taps)
    weights = np.empty(new * taps, dtype=np.float32)
    for a in range(0, new * taps, _KERNEL_CHUNK):
        b = min(a + _KERNEL_CHUNK, new * taps)
        weights[a:b] = _kernel_values(phase[a:b], column[a:b], orig, new, width, base_freq, lowpass_filter_width)
    weights[column >= 2 * width + orig] = 0.0  # past torchaudio's last column (always outside the support)
    return SincKernel(orig, new, width, offsets, weights.reshape(new, taps))


def _kernel_values(
    j: np.ndarray, m: np.ndarray, orig: int, new: int, width: int, base_freq: float, lowpass_filter_width: int
) -> np.ndarray:
    """torchaudio's kernel at rows ``j``, columns ``m``: its float64 operations, in its order."""
    idx = (m - width).astype(np.float64) / orig  # arange(-width, width + orig, float64) / orig
    t = (-j).astype(np.float32) / np.float32(new)  # arange(0, -new, -1) / new: int64 / int gives float32
    t = t + idx
    t *= base_freq
    t = np.clip(t, -lowpass_filter_width, lowpass_filter_width)
    window = np.cos(t * math.pi / lowpass_filter_width / 2) ** 2
    t *= math.pi
    scale = base_freq / orig
    with np.errstate(divide="ignore", invalid="ignore"):  # t == 0 takes the 1.0 branch
        kernels = np.where(t == 0, 1.0, np.sin(t) / t)
    kernels *= window * scale
    return kernels.astype(np.float32)


def output_length(num_samples: int, orig_freq: int, new_freq: int) -> int:
    """torchaudio's ``ceil(new * length / orig)`` (with the gcd-reduced rates), in integers."""
    gcd = math.gcd(int(orig_freq), int(new_freq))
    return -(-(new_freq // gcd) * num_samples // (orig_freq // gcd))


def apply_kernel(waveform: np.ndarray, kernel: SincKernel) -> np.ndarray:
    """torchaudio's ``_apply_sinc_resample_kernel`` for one 1-D float32 waveform (see the module doc).

    numpy, one thread: elementwise float64 ``take``/``multiply``/``add`` are exactly rounded, so the
    result does not depend on SIMD width, and blocks of ``_BLOCK_SAMPLES`` outputs bound the memory.
    """
    x = np.asarray(waveform, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"expected a 1-D waveform, got shape {x.shape}")
    n = len(x)
    orig, new, width = kernel.orig, kernel.new, kernel.width
    target = output_length(n, orig, new)
    frames = -(-target // new)  # output frames of ``new`` samples each
    weights = np.ascontiguousarray(kernel.weights.T, dtype=np.float64)  # (taps, new): tap s is one row
    offsets = kernel.offsets
    taps = weights.shape[0]
    out = np.empty((frames, new), dtype=np.float32)
    block = max(1, _BLOCK_SAMPLES // new)
    pos = (np.arange(min(block, frames), dtype=np.int64) * orig)[:, None] + offsets[None, :]
    span_extra = int(offsets[-1]) + taps
    for k0 in range(0, frames, block):
        k1 = min(frames, k0 + block)
        lo = k0 * orig - width  # input index of local position 0
        local = np.zeros((k1 - k0 - 1) * orig + span_extra, dtype=np.float64)
        a, b = max(lo, 0), min(lo + len(local), n)
        if b > a:
            local[a - lo : b - lo] = x[a:b]
        p = pos[: k1 - k0]
        acc = np.zeros(p.shape, dtype=np.float64)
        tmp = np.empty_like(acc)
        for s in range(taps):  # fixed order; each product is exact in float64
            np.take(local[s:], p, out=tmp)
            np.multiply(tmp, weights[s], out=tmp)
            np.add(acc, tmp, out=acc)
        out[k0:k1] = acc
    return out.reshape(-1)[:target]


def resample(
    waveform: Any,
    orig_freq: int,
    new_freq: int,
    lowpass_filter_width: int = LOWPASS_FILTER_WIDTH,
    rolloff: float = ROLLOFF,
) -> np.ndarray:
    """``torchaudio.transforms.Resample(orig_freq, new_freq)(waveform)`` for a 1-D float32 waveform.

    Returns float32 numpy; equal rates return the samples unchanged. Raises ``ResampleError``
    for a rate pair whose filter would exceed ``MAX_KERNEL_TAPS``.
    """
    if hasattr(waveform, "detach"):  # a torch.Tensor, without importing torch here
        waveform = waveform.detach().cpu().float().numpy()
    x = np.ascontiguousarray(waveform, dtype=np.float32)
    if orig_freq == new_freq:
        return x
    return apply_kernel(x, _cached_kernel(int(orig_freq), int(new_freq), lowpass_filter_width, rolloff))


@lru_cache(maxsize=16)
def _cached_kernel(orig_freq: int, new_freq: int, lowpass_filter_width: int, rolloff: float) -> SincKernel:
    """``sinc_kernel``, built once per rate pair (a batch job sees a few rates many times)."""
    return sinc_kernel(orig_freq, new_freq, lowpass_filter_width, rolloff)
