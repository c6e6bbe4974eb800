"""Small shared layers: FunASR's LayerNorm (eps 1e-12) and the two feed-forward blocks.

Dropout (training only, FunASR's places) has no parameters, so state-dict keys are unchanged;
``p = 0`` or eval mode makes it the identity.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

LAYER_NORM_EPS = 1e-12  # funasr/models/transformer/layer_norm.py


def layer_norm(size: int) -> nn.LayerNorm:
    """``nn.LayerNorm`` with FunASR's eps (1e-12), used everywhere in the SANM stack."""
    return nn.LayerNorm(size, eps=LAYER_NORM_EPS)


class PositionwiseFeedForward(nn.Module):
    """Encoder FFN ``w_2(relu(w_1(x)))``, both with bias."""

    def __init__(self, idim: int, hidden_units: int, dropout_rate: float = 0.0) -> None:
        super().__init__()
        self.w_1 = nn.Linear(idim, hidden_units)
        self.w_2 = nn.Linear(hidden_units, idim)
        self.dropout = nn.Dropout(dropout_rate)

    def forward(self, x: Tensor) -> Tensor:
        return self.w_2(self.dropout(_relu(self.w_1(x))))


class PositionwiseFeedForwardDecoderSANM(nn.Module):
    """Decoder FFN ``w_2(norm(relu(w_1(x))))``: LayerNorm inside, ``w_2`` without bias."""

    def __init__(self, idim: int, hidden_units: int, dropout_rate: float = 0.0) -> None:
        super().__init__()
        self.w_1 = nn.Linear(idim, hidden_units)
        self.w_2 = nn.Linear(hidden_units, idim, bias=False)
        self.norm = layer_norm(hidden_units)
        self.dropout = nn.Dropout(dropout_rate)

    def forward(self, x: Tensor) -> Tensor:
        return self.w_2(self.norm(self.dropout(_relu(self.w_1(x)))))


def _relu(h: Tensor) -> Tensor:
    """ReLU in place when no gradient is recorded (inference): the FFN's hidden activation is the
    largest tensor of a layer, and a second one of its size costs memory traffic (same values)."""
    return h.relu() if torch.is_grad_enabled() and h.requires_grad else h.relu_()
