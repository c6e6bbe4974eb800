"""CAM++ speaker-embedding export.

FunASR 1.4.16 has no export for ``CAMPPlus`` (no ``export_meta.py``); the graph follows 3D-Speaker's
``speakerlab/bin/export_speaker_embedding_onnx.py``, the recipe of the model's authors, which
ONNX speaker runtimes (3D-Speaker's ``runtime/onnxruntime``, sherpa-onnx's converter) expect:

============  ===============================  =====================================
name          shape                            dynamic axes
============  ===============================  =====================================
``feature``   (B, T, 80) CAM++ fbank float32   0: ``batch_size``, 1: ``frame_num``
``embedding`` (B, embedding_size) float32      0: ``batch_size``
============  ===============================  =====================================

The input is the fbank of :func:`funasr_lite.frontend.fbank.campplus_fbank` (80 bins, mean
subtracted per utterance); the output is not L2-normalised. Every item of a batch is run over
all ``T`` frames (FunASR's padded behaviour). Opset 14 as FunASR's other exports (3D-Speaker
uses 11). The folder gets ``model.onnx`` (``model_quant.onnx`` with ``--quantize int8``: only
the final dense layer is a MatMul, the convolutions stay float; ``model.torchscript``) next to
``config.yaml`` (``export/common.py``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from funasr_lite.export import common
from funasr_lite.modelio.model_dir import ModelDir
from funasr_lite.models.campplus import CAMPPlus, load_campplus

INPUT_NAMES = ["feature"]
OUTPUT_NAMES = ["embedding"]
DYNAMIC_AXES = {"feature": {0: "batch_size", 1: "frame_num"}, "embedding": {0: "batch_size"}}


class CAMPPlusExport(nn.Module):
    """``feature (B, T, feat_dim) -> embedding (B, embedding_size)`` (no lengths, no checks)."""

    def __init__(self, model: CAMPPlus) -> None:
        super().__init__()
        self.model = model

    def forward(self, feature: Tensor) -> Tensor:
        return self.model._forward(feature)

    def dummy_inputs(self, frames: int = 345) -> tuple[Tensor]:
        """3D-Speaker's dummy input shape (1, 345, feat_dim)."""
        g = torch.Generator().manual_seed(0)
        return (torch.randn(1, frames, self.model.feat_dim, generator=g),)


def export_campplus(md: ModelDir, output_dir: Path, kind: str, quantize: bool) -> list[Path]:
    """Export a CAM++ folder: ``model.onnx`` [+ ``model_quant.onnx``] or ``model.torchscript``, with
    ``config.yaml``. Returns the files written."""
    wrapper = CAMPPlusExport(load_campplus(md.path)).eval()
    written = common.export_graph(wrapper, output_dir, kind, quantize, INPUT_NAMES, OUTPUT_NAMES, DYNAMIC_AXES)
    return written + common.write_side_files(md, output_dir)
