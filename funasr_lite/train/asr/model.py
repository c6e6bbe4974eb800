"""The Paraformer in training: built from a FunASR config, partly frozen, wrapped with its loss for DDP."""

from __future__ import annotations

from typing import Any

from torch import nn

from funasr_lite.models.paraformer.build import ASR_CLASSES
from funasr_lite.train.asr.paraformer_loss import paraformer_training_loss


def build_model(conf: dict[str, Any], vocab_size: int) -> nn.Module:
    """A funasr_lite Paraformer/BiCif from a FunASR config (random init, PyTorch defaults)."""
    cls = ASR_CLASSES.get(conf.get("model"))
    if cls is None:
        raise ValueError(f"model={conf.get('model')!r}: expected one of {', '.join(ASR_CLASSES)}")
    return cls.from_config(conf, vocab_size)


def freeze(model: nn.Module, prefixes: list[str]) -> int:
    """Stop gradients for parameters whose names start with any prefix; returns how many tensors."""
    n = 0
    for name, p in model.named_parameters():
        if any(name == pre or name.startswith(pre + ".") for pre in prefixes):
            p.requires_grad_(False)
            n += 1
    if prefixes and n == 0:
        raise ValueError(f"freeze_param {prefixes} matches no parameter")
    return n


class LossModule(nn.Module):
    """``forward`` = FunASR's training loss, so DDP sees one forward per step."""

    def __init__(self, model: nn.Module, loss_conf: dict[str, Any]) -> None:
        super().__init__()
        self.model = model
        self.loss_conf = loss_conf

    def forward(self, feats, lens, ys, ys_lens):  # type: ignore[no-untyped-def]
        return paraformer_training_loss(self.model, feats, lens, ys, ys_lens, **self.loss_conf)
