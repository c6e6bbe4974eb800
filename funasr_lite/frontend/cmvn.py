"""Global CMVN: Kaldi nnet1 ``am.mvn`` files, FunASR's JSON statistics, and applying them.

``am.mvn`` (FunASR ``load_cmvn``): the line after ``<AddShift>`` and the line after ``<Rescale>``
start with ``<LearnRateCoef>``; their tokens ``[3:-1]`` are the shift (``-mean``) and the scale
(``1/std``). Features are normalised as ``(x + shift) * scale`` after LFR, using the first ``D``
columns (the official files hold 80-dim statistics tiled ``lfr_m`` times).

The JSON file is what FunASR's ``funasr/bin/compute_audio_cmvn.py`` writes:
``{"mean_stats": [sum x], "var_stats": [sum x^2], "total_frames": N}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from funasr_lite.errors import ModelError
from funasr_lite.fileio import write_text_atomic


@dataclass
class Cmvn:
    """Shift and scale vectors (float32), applied as ``(x + shift) * scale``."""

    shift: Tensor
    scale: Tensor

    @property
    def dim(self) -> int:
        return int(self.shift.shape[0])


def _vector_after(lines: list[list[str]], tag: str, path: Path) -> np.ndarray:
    """The ``<LearnRateCoef>`` vector on the line after ``tag`` (tokens ``[3:-1]``)."""
    for i, tokens in enumerate(lines):
        if tokens and tokens[0] == tag:
            nxt = lines[i + 1] if i + 1 < len(lines) else []
            if not nxt or nxt[0] != "<LearnRateCoef>":
                raise ModelError(path, f"the line after {tag} does not start with <LearnRateCoef>")
            if len(nxt) < 5 or nxt[2] != "[" or nxt[-1] != "]":
                raise ModelError(path, f"the {tag} vector is not written as '<LearnRateCoef> c [ v1 ... vD ]'")
            try:
                # same str -> float32 conversion as FunASR (np.array(strings).astype(np.float32))
                return np.array(nxt[3:-1]).astype(np.float32)
            except ValueError as err:
                raise ModelError(path, f"non-numeric value in the {tag} vector ({err})") from None
    raise ModelError(path, f"no {tag} section")


def load_cmvn(path: str | Path) -> Cmvn:
    """Read a Kaldi nnet1 ``am.mvn``; raise ``ModelError`` if it is missing or malformed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError(path, "CMVN file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ModelError(path, f"cannot read CMVN file ({err})") from None
    lines = [line.split() for line in text.splitlines()]
    shift = _vector_after(lines, "<AddShift>", path)
    scale = _vector_after(lines, "<Rescale>", path)
    if shift.shape != scale.shape:
        raise ModelError(path, f"<AddShift> has {shift.size} values but <Rescale> has {scale.size}")
    if not (np.isfinite(shift).all() and np.isfinite(scale).all()):
        raise ModelError(path, "CMVN vectors contain inf or nan")
    return Cmvn(torch.from_numpy(shift), torch.from_numpy(scale))


def apply_cmvn(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    """``(x + shift[:D]) * scale[:D]`` over the last axis ``D`` of ``x`` (any leading shape)."""
    dim = x.shape[-1]
    if shift.shape[0] < dim or scale.shape[0] < dim:
        raise ValueError(f"CMVN has {shift.shape[0]} dims but the features have {dim}")
    shift = shift[:dim].to(device=x.device, dtype=x.dtype)
    scale = scale[:dim].to(device=x.device, dtype=x.dtype)
    return (x + shift) * scale


@dataclass
class CmvnStats:
    """Running global sums over feature frames, in float64 (FunASR's ``mean_stats``/``var_stats``)."""

    mean_stats: np.ndarray | None = None
    var_stats: np.ndarray | None = None
    total_frames: int = 0

    def accumulate(self, feats: Tensor | np.ndarray) -> None:
        """Add the frames of one ``(T, D)`` feature matrix."""
        arr = feats.detach().cpu().double().numpy() if isinstance(feats, Tensor) else np.asarray(feats, np.float64)
        if arr.ndim != 2:
            raise ValueError(f"feats must be (T, D), got shape {arr.shape}")
        if self.mean_stats is None:
            self.mean_stats = np.zeros(arr.shape[1])
            self.var_stats = np.zeros(arr.shape[1])
        if arr.shape[1] != self.mean_stats.shape[0]:
            raise ValueError(f"feature dim {arr.shape[1]} differs from the stats' {self.mean_stats.shape[0]}")
        self.mean_stats += arr.sum(axis=0)
        self.var_stats += np.square(arr).sum(axis=0)
        self.total_frames += arr.shape[0]

    def shift_scale(self) -> tuple[np.ndarray, np.ndarray]:
        """float64 ``shift = -sum/N`` and ``scale = 1/sqrt(sumsq/N - shift^2)`` (FunASR's writer)."""
        if self.mean_stats is None or self.total_frames <= 0:
            raise ValueError("no frames accumulated")
        shift = -1.0 * self.mean_stats / self.total_frames
        var = self.var_stats / self.total_frames - shift * shift
        if (var <= 0).any():
            raise ValueError("a feature dimension has zero variance; cannot compute 1/std")
        return shift, 1.0 / np.sqrt(var)

    def to_cmvn(self) -> Cmvn:
        """The statistics as float32 shift/scale, as they read back from a written ``am.mvn``."""
        shift, scale = self.shift_scale()
        return Cmvn(torch.from_numpy(shift.astype(np.float32)), torch.from_numpy(scale.astype(np.float32)))


def save_stats_json(stats: CmvnStats, path: str | Path) -> None:
    """Write ``{"mean_stats", "var_stats", "total_frames"}`` JSON (FunASR's ``cmvn.json``)."""
    if stats.mean_stats is None:
        raise ValueError("no frames accumulated")
    info = {
        "mean_stats": [float(v) for v in stats.mean_stats],
        "var_stats": [float(v) for v in stats.var_stats],
        "total_frames": int(stats.total_frames),
    }
    write_text_atomic(path, json.dumps(info) + "\n")


def load_stats_json(path: str | Path) -> CmvnStats:
    """Read FunASR's ``cmvn.json``; raise ``ModelError`` if it is missing or malformed."""
    path = Path(path)
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(path, "CMVN stats file not found") from None
    except (OSError, ValueError) as err:
        raise ModelError(path, f"cannot read CMVN stats JSON ({err})") from None
    if not isinstance(info, dict) or not {"mean_stats", "var_stats", "total_frames"} <= info.keys():
        raise ModelError(path, "CMVN stats JSON needs keys mean_stats, var_stats, total_frames")
    try:
        mean = np.asarray(info["mean_stats"], dtype=np.float64)
        var = np.asarray(info["var_stats"], dtype=np.float64)
        frames = int(info["total_frames"])
    except (TypeError, ValueError) as err:
        raise ModelError(path, f"bad values in CMVN stats JSON ({err})") from None
    if mean.ndim != 1 or mean.shape != var.shape:
        raise ModelError(path, f"mean_stats has shape {mean.shape} but var_stats has {var.shape}")
    return CmvnStats(mean, var, frames)


def _vector_line(values: np.ndarray) -> str:
    return "<LearnRateCoef> 0 [ " + " ".join(repr(float(v)) for v in values) + " ]"


def write_am_mvn(shift: np.ndarray | Tensor, scale: np.ndarray | Tensor, path: str | Path, lfr_m: int = 1) -> None:
    """Write shift/scale as a Kaldi nnet1 ``am.mvn``, tiled ``lfr_m`` times (FunASR's layout).

    Values are written with Python's shortest round-trip repr of their float64 value.
    """
    if lfr_m < 1:
        raise ValueError(f"lfr_m must be >= 1, got {lfr_m}")
    shift = np.tile(np.asarray(shift, dtype=np.float64), lfr_m)
    scale = np.tile(np.asarray(scale, dtype=np.float64), lfr_m)
    if shift.shape != scale.shape or shift.ndim != 1:
        raise ValueError(f"shift {shift.shape} and scale {scale.shape} must be equal-length vectors")
    dim = shift.shape[0]
    lines = [
        "<Nnet>",
        f"<Splice> {dim} {dim}",
        "[ 0 ]",
        f"<AddShift> {dim} {dim}",
        _vector_line(shift),
        f"<Rescale> {dim} {dim}",
        _vector_line(scale),
        "</Nnet>",
    ]
    write_text_atomic(path, "\n".join(lines) + "\n")


def write_am_mvn_from_stats(stats: CmvnStats, path: str | Path, lfr_m: int = 1) -> None:
    """FunASR's ``compute_audio_cmvn`` writer: statistics -> ``am.mvn`` tiled ``lfr_m`` times."""
    shift, scale = stats.shift_scale()
    write_am_mvn(shift, scale, path, lfr_m)
