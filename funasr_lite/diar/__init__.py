"""Speaker diarization: FunASR's ``sv_chunk`` chunking (``chunks``), batched CAM++ embeddings
(``embed``), and the other modules of this package.

Exports are lazy, so ``import funasr_lite.diar.<light module>`` does not import torch.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "Chunk": "funasr_lite.diar.chunks",
    "chunk_segment": "funasr_lite.diar.chunks",
    "chunk_vad_segments": "funasr_lite.diar.chunks",
    "slice_segment": "funasr_lite.diar.chunks",
    "sv_chunk": "funasr_lite.diar.chunks",
    "extract_embeddings": "funasr_lite.diar.embed",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'funasr_lite.diar' has no attribute {name!r}")
