"""``diarize``: speaker turns of one recording from its VAD segments, as FunASR 1.4.16's
``AutoModel.inference_with_vad`` with ``spk_model``: 1.5 s chunks of every segment (``sv_chunk``),
CAM++ embeddings, ``ClusterBackend`` and ``postprocess``. Used by ``LongAudioPipeline`` (speakers
on the transcript) and ``bin/diarize`` (RTTM only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from funasr_lite.diar.chunks import chunk_vad_segments
from funasr_lite.diar.cluster import cluster_embeddings
from funasr_lite.diar.embed import extract_embeddings
from funasr_lite.diar.postprocess import Turn, labels_to_turns
from funasr_lite.protocols import SpeakerModel


@dataclass
class Diarization:
    """``turns``: ``(start_s, end_s, speaker)`` in file time; ``chunks``: how many chunks were embedded."""

    turns: list[Turn]
    chunks: int


def diarize(
    model: SpeakerModel,
    waveform: np.ndarray,
    segments_ms: Sequence[Sequence[float]],
    num_speakers: int | None = None,
    min_speakers: int = 1,
    max_speakers: int = 15,
    merge_thr: float = 0.78,
    seed: int = 0,
    batch_size: int = 64,
    count_may_exceed: bool = False,
) -> Diarization:
    """Speaker turns of a 16 kHz ``waveform`` over its VAD ``segments_ms`` (``[[start_ms, end_ms], ...]``).

    ``num_speakers`` is an exact count (FunASR's ``preset_spk_num``); otherwise the count is
    estimated within ``min_speakers``..``max_speakers``. A count the chunks cannot hold raises
    ``ValueError``, unless ``count_may_exceed`` (an oracle count, ``bin/diarize``): then it is
    estimated instead.
    """
    chunks = [c for seg in chunk_vad_segments(segments_ms, waveform) for c in seg]
    if not chunks:
        return Diarization([], 0)
    if count_may_exceed and not (num_speakers and num_speakers <= len(chunks)):
        num_speakers = None
    emb = extract_embeddings(model, chunks, batch_size)
    labels = cluster_embeddings(
        emb,
        num_speakers=num_speakers,
        min_speakers=min_speakers,
        max_speakers=max_speakers,
        merge_thr=merge_thr,
        seed=seed,
    )
    return Diarization(labels_to_turns([(c.start, c.end) for c in chunks], labels), len(chunks))
