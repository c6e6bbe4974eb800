"""Audio decoding and VAD ahead of the recogniser, in DataLoader worker processes.

``prepared(...)`` yields one :class:`Prepared` per input, in input order. With
``num_workers=0`` the work happens in the calling process; with ``N > 0``, worker ``k`` decodes
and segments inputs ``k, k+N, k+2N, ...`` on the CPU (one torch thread each), and the
DataLoader's round-robin fetch gives them back in order while the main process keeps the GPU
(or its own cores) busy with the models. Results never depend on ``num_workers``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from funasr_lite.errors import InputError
from funasr_lite.frontend.audio import AudioResult
from funasr_lite.protocols import VadModel

log = logging.getLogger(__name__)

# a loader: given a shard (k, n) or None, yields (key, AudioResult | InputError)
Loader = Callable[[tuple[int, int] | None], Iterator[tuple[str, AudioResult | InputError]]]


@dataclass
class Prepared:
    """One input: its waveform (16 kHz float32) and VAD segments (ms), or the error that stopped it.

    ``vad_waveform``: the same audio at the VAD model's rate when that is not 16 kHz and the
    segments are still to be computed (``None`` otherwise).
    """

    key: str
    waveform: np.ndarray | None
    segments: list[list[int]] | None
    error: InputError | None = None
    vad_waveform: np.ndarray | None = None

    @property
    def duration_s(self) -> float:
        return 0.0 if self.waveform is None else len(self.waveform) / 16000


def prepare_one(
    key: str, audio: AudioResult | InputError, vad: VadModel | None, vad_options: dict[str, Any]
) -> Prepared:
    """Run the VAD on one decoded input (segments stay ``None`` without a VAD model).

    The VAD reads the audio at its own rate (``audio`` must hold it: ``also_at``), as FunASR
    loads the input at each model's ``frontend.fs``.
    """
    if isinstance(audio, InputError):
        return Prepared(key, None, None, audio)
    segments = vad.segments(audio.at(vad.sample_rate), **vad_options) if vad is not None else None
    return Prepared(key, audio.waveform, segments)


class _Prepare(IterableDataset):
    """The worker side: this worker's shard of the inputs, decoded and segmented."""

    def __init__(self, loader: Loader, vad: VadModel | None, vad_options: dict[str, Any]) -> None:
        self.loader, self.vad, self.vad_options = loader, vad, vad_options

    def __iter__(self) -> Iterator[tuple]:
        info = get_worker_info()
        shard = None if info is None else (info.id, info.num_workers)
        for key, audio in self.loader(shard):
            p = prepare_one(key, audio, self.vad, self.vad_options)
            wave = None if p.waveform is None else torch.from_numpy(p.waveform)  # shared memory, not a pickle
            err = None if p.error is None else (p.error.item, p.error.problem)
            yield key, wave, p.segments, err


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)


def prepared(
    loader: Loader, vad: VadModel | None = None, vad_options: dict[str, Any] | None = None, num_workers: int = 0
) -> Iterator[Prepared]:
    """Decode (and segment, with ``vad``) every input of ``loader``, in order, ``num_workers`` at a time.

    With workers, ``vad`` must be a CPU model (each worker forks a copy of it).
    """
    opts = dict(vad_options or {})
    if num_workers <= 0:
        for key, audio in loader(None):
            yield prepare_one(key, audio, vad, opts)
        return
    if vad is not None and getattr(vad, "device", torch.device("cpu")).type != "cpu":
        raise ValueError("num_workers > 0 runs the VAD in worker processes: load the VAD model on the CPU")
    data = DataLoader(
        _Prepare(loader, vad, opts),
        batch_size=None,
        num_workers=num_workers,
        worker_init_fn=_one_thread,
        prefetch_factor=2,
        multiprocessing_context="fork",
    )
    for key, wave, segments, err in data:
        if err is not None:
            yield Prepared(key, None, None, InputError(*err))
        else:
            yield Prepared(key, wave.numpy(), segments)
