"""FunASR's ``WavFrontend`` (``funasr/frontends/wav_frontend.py``): fbank -> LFR -> CMVN, batched.

Per item, as FunASR: scale by 32768 (``upsacle_samples``, FunASR's spelling), Kaldi fbank with
``energy_floor=0`` and the configured window, frame length ``min(frame_length, N / fs * 1000)`` ms
(FunASR's short-segment rule, so 2..399 samples still give one frame), LFR, then
``(x + shift) * scale``. Items are computed together but each from its own samples only, so
batched output equals per-item output exactly, and dither noise is drawn per item in batch order.

Deviation: FunASR crashes on items of 0 or 1 samples; here they give 0 frames.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from funasr_lite.frontend.cmvn import Cmvn, apply_cmvn, load_cmvn
from funasr_lite.frontend.fbank import FbankOptions, fbank, num_frames
from funasr_lite.frontend.lfr import apply_lfr_batch

_CONFIG_KEYS = {
    "fs",
    "window",
    "n_mels",
    "frame_length",
    "frame_shift",
    "lfr_m",
    "lfr_n",
    "dither",
    "snip_edges",
    "upsacle_samples",
    "cmvn_file",
}
_IGNORED_KEYS = {"filter_length_min", "filter_length_max"}


class WavFrontend:
    """Waveforms in [-1, 1] -> FunASR acoustic features ``(B, T, n_mels * lfr_m)``.

    Defaults are FunASR's constructor defaults, including ``dither=1.0`` (set ``dither=0.0`` for
    reproducible features; FunASR's ASR configs usually leave dither on).
    """

    def __init__(
        self,
        cmvn_file: str | Path | None = None,
        fs: int = 16000,
        window: str = "hamming",
        n_mels: int = 80,
        frame_length: float = 25,
        frame_shift: float = 10,
        lfr_m: int = 1,
        lfr_n: int = 1,
        dither: float = 1.0,
        snip_edges: bool = True,
        upsacle_samples: bool = True,
    ) -> None:
        if lfr_m < 1 or lfr_n < 1:
            raise ValueError(f"lfr_m and lfr_n must be >= 1, got {lfr_m}, {lfr_n}")
        self.fs = fs
        self.frame_length = frame_length
        self.lfr_m = lfr_m
        self.lfr_n = lfr_n
        self.upsacle_samples = upsacle_samples
        self.cmvn_file = None if cmvn_file is None else Path(cmvn_file)
        self.cmvn: Cmvn | None = None if cmvn_file is None else load_cmvn(cmvn_file)
        self.fbank_opts = FbankOptions(
            samp_freq=fs,
            frame_length_ms=frame_length,
            frame_shift_ms=frame_shift,
            dither=dither,
            window_type=window,
            snip_edges=snip_edges,
            num_mel_bins=n_mels,
            energy_floor=0.0,
        )
        if self.cmvn is not None and self.cmvn.dim < self.output_size():
            raise ValueError(f"{cmvn_file}: CMVN has {self.cmvn.dim} dims, features have {self.output_size()}")

    @classmethod
    def from_config(cls, frontend_conf: dict[str, Any], cmvn_file: str | Path | None = None) -> WavFrontend:
        """Build from a FunASR ``frontend_conf`` dict; ``cmvn_file`` overrides one in the dict."""
        conf = dict(frontend_conf)
        unknown = set(conf) - _CONFIG_KEYS - _IGNORED_KEYS
        if unknown:
            warnings.warn(f"WavFrontend: ignoring unknown frontend_conf keys {sorted(unknown)}", stacklevel=2)
        kwargs = {k: v for k, v in conf.items() if k in _CONFIG_KEYS}
        if cmvn_file is not None:
            kwargs["cmvn_file"] = cmvn_file
        return cls(**kwargs)

    def output_size(self) -> int:
        """Feature dimension, ``n_mels * lfr_m``."""
        return self.fbank_opts.num_mel_bins * self.lfr_m

    def num_output_frames(self, num_samples: int) -> int:
        """Feature frames (after LFR) this frontend makes from ``num_samples`` samples."""
        frame_ms = self._frame_length_ms(num_samples)
        if frame_ms is None:
            return 0
        opts = replace(self.fbank_opts, frame_length_ms=frame_ms)
        frames = int(num_frames(torch.tensor(num_samples), opts))
        return -(-frames // self.lfr_n)

    def _frame_length_ms(self, num_samples: int) -> float | None:
        """FunASR's ``min(frame_length, N / fs * 1000)``; ``None`` when under 2 samples."""
        if num_samples < 2:
            return None
        return min(self.frame_length, num_samples / self.fs * 1000)

    def compute_fbank(
        self, waveforms: Tensor, lengths: Tensor | Sequence[int] | None = None, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Scaled fbank before LFR/CMVN: ``(B, T, n_mels)`` and frame counts."""
        if waveforms.dim() != 2:
            raise ValueError(f"waveforms must be (B, N), got shape {tuple(waveforms.shape)}")
        batch, total = waveforms.shape
        lens = [total] * batch if lengths is None else [int(n) for n in lengths]
        if len(lens) != batch:
            raise ValueError(f"got {len(lens)} lengths for a batch of {batch}")
        if self.upsacle_samples:
            waveforms = waveforms * (1 << 15)
        frame_ms = [self._frame_length_ms(n) for n in lens]
        results: list[tuple[Tensor, Tensor]] = []
        start = 0
        while start < batch:  # consecutive runs sharing a frame length, in batch order
            stop = start + 1
            while stop < batch and frame_ms[stop] == frame_ms[start]:
                stop += 1
            results.append(self._fbank_run(waveforms[start:stop], lens[start:stop], frame_ms[start], generator))
            start = stop
        if len(results) == 1 and results[0][0].dtype == waveforms.dtype:
            return results[0]  # one run covers the batch: no copy into a padded result
        n_frames = max((f.shape[1] for f, _ in results), default=0)
        feats = waveforms.new_zeros((batch, n_frames, self.fbank_opts.num_mel_bins))
        counts = torch.zeros(batch, dtype=torch.long, device=waveforms.device)
        row = 0
        for f, c in results:
            feats[row : row + f.shape[0], : f.shape[1]] = f
            counts[row : row + f.shape[0]] = c
            row += f.shape[0]
        return feats, counts

    def _fbank_run(
        self, waveforms: Tensor, lens: list[int], frame_ms: float | None, generator: torch.Generator | None
    ) -> tuple[Tensor, Tensor]:
        """fbank for items that share one frame length (``None``: too short, 0 frames)."""
        if frame_ms is None:
            n = waveforms.shape[0]
            return (
                waveforms.new_zeros((n, 0, self.fbank_opts.num_mel_bins)),
                torch.zeros(n, dtype=torch.long, device=waveforms.device),
            )
        opts = self.fbank_opts
        if frame_ms != opts.frame_length_ms:
            opts = replace(opts, frame_length_ms=frame_ms)
        lengths = torch.tensor(lens, dtype=torch.long, device=waveforms.device)
        return fbank(waveforms[:, : max(lens)], lengths, opts, generator)

    def __call__(
        self, waveforms: Tensor, lengths: Tensor | Sequence[int] | None = None, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """``(B, N)`` waveforms in [-1, 1] -> features ``(B, T, output_size)`` zero-padded, and lengths.

        ``generator`` drives dither; ``None`` uses torch's global RNG, as FunASR does.
        """
        feats, counts = self.compute_fbank(waveforms, lengths, generator)
        if self.lfr_m != 1 or self.lfr_n != 1:
            feats, counts = apply_lfr_batch(feats, counts, self.lfr_m, self.lfr_n)
        if self.cmvn is not None:
            feats = apply_cmvn(feats, self.cmvn.shift, self.cmvn.scale)
            valid = torch.arange(feats.shape[1], device=feats.device).unsqueeze(0) < counts.unsqueeze(1)
            feats = feats.masked_fill(~valid.unsqueeze(-1), 0.0)
        return feats, counts
