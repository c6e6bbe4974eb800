"""FunASR's ``sv_chunk`` (``funasr/models/campplus/utils.py``): cut VAD segments into 1.5 s chunks.

FunASR (``auto_model.inference_with_vad``) chunks the per-segment audio that went to ASR, i.e.
``speech[int(start_ms * 16) : min(int(end_ms * 16), len(speech))]``
(``slice_padding_audio_samples``: 16 samples per ms, whatever the sample rate), with the segment
start in seconds ``start_ms / 1000.0``. Within a segment of N samples:

- windows of 24000 samples every 12000 (1.5 s / 0.75 s at ``fs``);
- for start ``st = 0, shift, 2·shift, …``: ``ed = min(st + len, N)``; stop when ``ed`` does not
  advance; otherwise ``st = max(0, ed − len)``: the last chunk is right-aligned;
- a chunk shorter than 1.5 s (only when N < 24000: one chunk) is zero-padded at the end;
- chunk times are absolute seconds ``st / fs + seg_start`` (Python float arithmetic, as FunASR).

An empty segment gives no chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

SEG_DUR = 1.5  # seconds
SEG_SHIFT = 0.75  # seconds
SAMPLES_PER_MS = 16  # FunASR's slicing rule (slice_padding_audio_samples), fixed


class Chunk(NamedTuple):
    """One embedding chunk: absolute start/end in seconds and its (padded) audio."""

    start: float
    end: float
    audio: np.ndarray


def chunk_segment(seg_start: float, audio: np.ndarray, fs: int = 16000) -> list[Chunk]:
    """``sv_chunk``'s inner ``seg_chunk`` for one segment (``seg_start`` in seconds)."""
    chunk_len = int(SEG_DUR * fs)
    chunk_shift = int(SEG_SHIFT * fs)
    n = audio.shape[0]
    chunks: list[Chunk] = []
    last_ed = 0
    for st in range(0, n, chunk_shift):
        ed = min(st + chunk_len, n)
        if ed <= last_ed:
            break
        last_ed = ed
        st = max(0, ed - chunk_len)
        data = audio[st:ed]
        if data.shape[0] < chunk_len:
            data = np.pad(data, (0, chunk_len - data.shape[0]), "constant")
        chunks.append(Chunk(st / fs + seg_start, ed / fs + seg_start, data))
    return chunks


def sv_chunk(segments: Sequence[tuple[float, float, np.ndarray]], fs: int = 16000) -> list[Chunk]:
    """FunASR's ``sv_chunk`` over ``[[start_s, end_s, audio], ...]`` (end unused), in order."""
    out: list[Chunk] = []
    for seg in segments:
        out.extend(chunk_segment(seg[0], np.asarray(seg[2]), fs))
    return out


def slice_segment(waveform: np.ndarray, start_ms: float, end_ms: float) -> np.ndarray:
    """The audio FunASR gives ASR for one VAD segment (16 samples per ms, end clipped)."""
    beg = int(start_ms * SAMPLES_PER_MS)
    end = min(int(end_ms * SAMPLES_PER_MS), waveform.shape[0])
    return waveform[beg:end]


def chunk_vad_segments(
    segments_ms: Sequence[Sequence[float]], waveform: np.ndarray, fs: int = 16000
) -> list[list[Chunk]]:
    """Chunks of each VAD segment ``[start_ms, end_ms]`` of ``waveform``, one list per segment.

    Concatenating the lists in segment order gives FunASR's embedding order (its chunk list
    ``all_segments`` is sorted by start time, which is the same order for sorted VAD output).
    """
    wave = np.asarray(waveform)
    if wave.ndim != 1:
        raise ValueError(f"waveform must be 1-D, got shape {wave.shape}")
    return [chunk_segment(seg[0] / 1000.0, slice_segment(wave, seg[0], seg[1]), fs) for seg in segments_ms]
