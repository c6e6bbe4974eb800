"""FSMN-VAD export in FunASR's layout (``funasr/models/fsmn_vad_streaming/export_meta.py``).

The graph is FunASR's ``FSMNExport``: one chunk of LFR+CMVN features plus one cache per FSMN
layer in, posteriors plus the updated caches out, so a runtime (``funasr_onnx.Fsmn_vad``,
FunASR's C++ runtime) streams a file chunk by chunk exactly as :meth:`FsmnVAD.frame_scores` does.

====================  ==========================================  ==========================
name                  shape                                       dynamic axes
====================  ==========================================  ==========================
``speech``            (1, T, input_dim) float32 (400: 80 x LFR 5)  1: ``feats_length``
``in_cache<i>``       (1, proj_dim, (lorder-1)*lstride, 1)         none
``logits``            (1, T, output_dim) softmax posteriors
``out_cache<i>``      same as ``in_cache<i>``
====================  ==========================================  ==========================

Zeros are the initial caches. The folder gets ``model.onnx`` (``model_quant.onnx`` with
``--quantize int8``; ``model.torchscript`` for TorchScript) next to ``config.yaml`` and ``am.mvn``
(``export/common.py``), what ``funasr_onnx.Fsmn_vad`` reads; ``config.yaml`` keeps the folder's
``model: FsmnVADStreaming``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from funasr_lite.export import common
from funasr_lite.modelio.model_dir import ModelDir
from funasr_lite.models.fsmn_vad import FSMN, load_fsmn_vad

INPUT_NAME = "speech"
OUTPUT_NAME = "logits"
DYNAMIC_AXES = {INPUT_NAME: {1: "feats_length"}}  # FunASR's: only the frames of ``speech``


class FsmnVadExport(nn.Module):
    """FunASR's ``FSMNExport`` on our ``FSMN`` weights: ``(speech, *in_caches) -> (logits, *out_caches)``.

    Each memory is written with FunASR's export ops (``cat`` cache + frames, depthwise conv,
    residual add, the last ``(lorder-1)*lstride`` frames as the new cache), which trace to plain
    ONNX; the eager :class:`FSMN` computes the same values with in-place buffers.
    """

    def __init__(self, encoder: FSMN) -> None:
        super().__init__()
        self.encoder = encoder

    @property
    def num_caches(self) -> int:
        return len(self.encoder.fsmn)

    def forward(self, speech: Tensor, *in_caches: Tensor) -> tuple[Tensor, ...]:
        enc = self.encoder
        if len(in_caches) != len(enc.fsmn):
            raise ValueError(f"expected {len(enc.fsmn)} caches, got {len(in_caches)}")
        h = torch.relu(enc.in_linear2(enc.in_linear1(speech)))
        out_caches = []
        for block, cache in zip(enc.fsmn, in_caches):
            mem = block.fsmn_block
            x = block.linear(h).unsqueeze(1).permute(0, 3, 2, 1)  # (B, P, T, 1)
            y = torch.cat((cache, x), dim=2)
            out_caches.append(y[:, :, -mem.context :, :])
            out = (x + mem.conv_left(y)).permute(0, 3, 2, 1).squeeze(1)
            h = torch.relu(block.affine(out))
        logits = enc.out_linear2(enc.out_linear1(h))
        if enc.use_softmax:
            logits = torch.softmax(logits, dim=-1)
        return (logits, *out_caches)

    def zero_caches(self, batch: int = 1) -> list[Tensor]:
        """The initial caches (FunASR runtimes start from zeros)."""
        return [
            torch.zeros(batch, b.fsmn_block.conv_left.out_channels, b.fsmn_block.context, 1) for b in self.encoder.fsmn
        ]

    def dummy_inputs(self, frames: int = 30) -> tuple[Tensor, ...]:
        """FunASR's dummy inputs: 30 random frames and random caches."""
        g = torch.Generator().manual_seed(0)
        speech = torch.randn(1, frames, self.encoder.in_linear1.linear.in_features, generator=g)
        return (speech, *(torch.randn(c.shape, generator=g) for c in self.zero_caches()))

    def input_names(self) -> list[str]:
        return [INPUT_NAME] + [f"in_cache{i}" for i in range(self.num_caches)]

    def output_names(self) -> list[str]:
        return [OUTPUT_NAME] + [f"out_cache{i}" for i in range(self.num_caches)]


def export_fsmn_vad(md: ModelDir, output_dir: Path, kind: str, quantize: bool) -> list[Path]:
    """Export an FSMN-VAD folder: ``model.onnx`` [+ ``model_quant.onnx``] or ``model.torchscript``,
    with ``config.yaml`` and ``am.mvn``. Returns the files written."""
    wrapper = FsmnVadExport(load_fsmn_vad(md.path).encoder).eval()
    written = common.export_graph(
        wrapper, output_dir, kind, quantize, wrapper.input_names(), wrapper.output_names(), DYNAMIC_AXES
    )
    written += common.write_side_files(md, output_dir)
    return written
