"""Batched CAM++ speaker embeddings of waveform chunks (FunASR ``funasr/models/campplus/model.py``
``CAMPPlus.inference``, features as ``extract_feature`` in ``funasr/models/campplus/utils.py``).

Per chunk: Kaldi fbank with default options (povey window, 80 bins, no x32768), minus its mean
over time (``campplus_fbank``), then ``CAMPPlus``. No L2 normalisation (FunASR has none).
Features are computed batched on the model's device; each item's features equal
``campplus_fbank`` of that item alone (bit for bit on CPU). Chunks of different lengths are
never padded into the network (``CAMPPlus.forward`` with lengths), so batching does not change
an embedding beyond float round-off of the batched convolutions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from funasr_lite.diar.chunks import Chunk
from funasr_lite.frontend.fbank import CAMPPLUS_OPTIONS, fbank
from funasr_lite.models.campplus import CAMPPlus

ChunkLike = Chunk | np.ndarray | Tensor


def _audio(chunk: ChunkLike) -> Tensor:
    data = chunk.audio if isinstance(chunk, Chunk) else chunk
    wave = data.detach().cpu() if isinstance(data, Tensor) else torch.from_numpy(np.asarray(data))
    if wave.dim() != 1:
        raise ValueError(f"each chunk must be a 1-D waveform, got shape {tuple(wave.shape)}")
    return wave.to(torch.float32)


def chunk_features(waves: Sequence[Tensor], device: torch.device) -> tuple[Tensor, Tensor]:
    """Mean-subtracted CAM++ fbank of 1-D waveforms: ``(B, T_max, 80)`` zero-padded, frame counts ``(B,)``."""
    lengths = torch.tensor([w.shape[0] for w in waves], dtype=torch.long)
    batch = torch.zeros((len(waves), int(lengths.max())), dtype=torch.float32)
    for b, w in enumerate(waves):
        batch[b, : w.shape[0]] = w
    feats, counts = fbank(batch.to(device), lengths.to(device), CAMPPLUS_OPTIONS)
    for b, n in enumerate(counts.tolist()):
        if n == 0:
            raise ValueError(f"chunk {b} has {int(lengths[b])} samples, fewer than one 25 ms frame")
        f = feats[b, :n]
        feats[b, :n] = f - f.mean(dim=0, keepdim=True)
    return feats, counts


@torch.no_grad()
def extract_embeddings(model: CAMPPlus, chunks: Sequence[ChunkLike], batch_size: int = 64) -> np.ndarray:
    """Embeddings ``(N, embedding_size)`` float32 of ``chunks`` (``Chunk``s or 1-D 16 kHz waveforms
    in [-1, 1]), in order, ``batch_size`` chunks per forward pass on the model's device."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = next(model.parameters()).device
    out = np.zeros((len(chunks), model.embedding_size), dtype=np.float32)
    for beg in range(0, len(chunks), batch_size):
        waves = [_audio(c) for c in chunks[beg : beg + batch_size]]
        feats, counts = chunk_features(waves, device)
        emb = model(feats, counts)
        out[beg : beg + len(waves)] = emb.float().cpu().numpy()
    return out
