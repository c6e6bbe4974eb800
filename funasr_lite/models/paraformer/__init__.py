"""Paraformer-large, BiCif-Paraformer and SeACo-Paraformer (FunASR 1.x parameter names, batch-safe inference).

Exports are lazy, so ``import funasr_lite.models.paraformer.fire`` (which
``postprocess/timestamps.py`` needs) does not import the model, which imports the timestamps.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "load_paraformer": "funasr_lite.models.paraformer.build",
    "BiCifParaformer": "funasr_lite.models.paraformer.model",
    "Paraformer": "funasr_lite.models.paraformer.model",
    "ParaformerOutputs": "funasr_lite.models.paraformer.model",
    "RecogResult": "funasr_lite.models.paraformer.model",
    "SeacoParaformer": "funasr_lite.models.paraformer.seaco",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'funasr_lite.models.paraformer' has no attribute {name!r}")
