"""CT-Transformer punctuation export in FunASR's layout (``funasr/models/ct_transformer/export_meta.py``).

The graph is FunASR's ``export_forward``: ``embed -> SANMEncoder -> decoder`` on a padded batch
of word ids. The same exporter serves the character-level zh model and the word-level (jieba)
cn-en model; they differ only in the folder files a runtime reads.

=================  =====================  ========================================
name               shape / dtype          dynamic axes
=================  =====================  ========================================
``inputs``         (B, T) int32 word ids  0: ``batch_size``, 1: ``feats_length``
``text_lengths``   (B,) int32             0: ``batch_size``
``logits``         (B, T, n_punc) float   0: ``batch_size``, 1: ``logits_length``
=================  =====================  ========================================

Logits at padded positions are not meaningful (FunASR's graph leaves them arbitrary; ours
gives the decoder bias there). The folder gets ``model.onnx`` (``model_quant.onnx`` with
``--quantize int8``; ``model.torchscript``) next to ``config.yaml`` and ``tokens.json``
(``export/common.py``) and, for the cn-en model, a copy of its jieba dictionary named
``jieba_usr_dict`` (``funasr_onnx.CT_Transformer`` segments with jieba when that file is present).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from torch import Tensor, nn

from funasr_lite.export import common
from funasr_lite.modelio.model_dir import ModelDir
from funasr_lite.models.ct_transformer import CTTransformer, config_1x, jieba_dict_path, load_punc_model

INPUT_NAMES = ["inputs", "text_lengths"]
OUTPUT_NAMES = ["logits"]
DYNAMIC_AXES = {
    "inputs": {0: "batch_size", 1: "feats_length"},
    "text_lengths": {0: "batch_size"},
    "logits": {0: "batch_size", 1: "logits_length"},
}


class CTTransformerExport(nn.Module):
    """``(inputs int32 (B, T), text_lengths int32 (B,)) -> logits (B, T, n_punc)``."""

    def __init__(self, model: CTTransformer) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: Tensor, text_lengths: Tensor) -> Tensor:
        return self.model(inputs.long(), text_lengths)

    def dummy_inputs(self, length: int = 120) -> tuple[Tensor, Tensor]:
        """FunASR's dummy inputs: 2 rows of random ids, lengths ``length - 20`` and ``length``."""
        g = torch.Generator().manual_seed(0)
        ids = torch.randint(0, self.model.embed.num_embeddings, (2, length), generator=g).to(torch.int32)
        return ids, torch.tensor([length - 20, length], dtype=torch.int32)


def export_ct_transformer(md: ModelDir, output_dir: Path, kind: str, quantize: bool) -> list[Path]:
    """Export a CT-Transformer folder (zh or cn-en): ``model.onnx`` [+ ``model_quant.onnx``] or
    ``model.torchscript``, with ``config.yaml``, ``tokens.json`` and, for the jieba model,
    ``jieba_usr_dict``. Returns the files written."""
    wrapper = CTTransformerExport(load_punc_model(md.path).model).eval()
    written = common.export_graph(wrapper, output_dir, kind, quantize, INPUT_NAMES, OUTPUT_NAMES, DYNAMIC_AXES)
    written += common.write_side_files(md, output_dir)
    jieba_dict = jieba_dict_path(md.path, md.layout, config_1x(md.config))
    if jieba_dict is not None:  # funasr_onnx.CT_Transformer looks for this name
        dst = output_dir / "jieba_usr_dict"
        if jieba_dict.resolve() != dst.resolve():
            shutil.copyfile(jieba_dict, dst)
        written.append(dst)
    return written
