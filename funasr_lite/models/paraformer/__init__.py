"""Paraformer-large and BiCif-Paraformer (FunASR 1.x parameter names, batch-safe inference)."""

from funasr_lite.models.paraformer.build import load_paraformer
from funasr_lite.models.paraformer.model import (
    BiCifParaformer,
    Paraformer,
    ParaformerOutputs,
    RecogResult,
)

__all__ = ["BiCifParaformer", "Paraformer", "ParaformerOutputs", "RecogResult", "load_paraformer"]
