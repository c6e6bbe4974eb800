"""Additive angular margin softmax (AAM-softmax, ArcFace) for speaker classification.

    logits = s * cos(theta_j + m·[j == y])

with the 3D-Speaker / WeSpeaker guard: where ``theta_y + m`` would exceed pi
(``cos theta_y <= cos(pi - m)``), ``cos theta_y - sin(pi - m)·m`` is used instead, so the target
logit stays monotonic. ``margin`` can be changed during training (margin warm-up).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class AAMSoftmax(nn.Module):
    """Cosine classifier with an additive angular margin; ``forward`` returns (loss, logits)."""

    def __init__(self, embedding_size: int, num_classes: int, margin: float = 0.2, scale: float = 32.0) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"need at least 2 classes, got {num_classes}")
        self.embedding_size = embedding_size
        self.num_classes = num_classes
        self.scale = float(scale)
        self.weight = nn.Parameter(torch.empty(num_classes, embedding_size))
        nn.init.xavier_uniform_(self.weight)
        self.set_margin(margin)

    def set_margin(self, margin: float) -> None:
        """Set the angular margin ``m`` (radians)."""
        if not 0.0 <= margin < math.pi / 2:
            raise ValueError(f"margin must be in [0, pi/2), got {margin}")
        self.margin = float(margin)
        self._cos_m = math.cos(margin)
        self._sin_m = math.sin(margin)
        self._th = math.cos(math.pi - margin)
        self._mm = math.sin(math.pi - margin) * margin

    def cosine(self, emb: Tensor) -> Tensor:
        """Cosine between each embedding and each class centre, ``(B, num_classes)``."""
        return F.linear(F.normalize(emb.float(), dim=-1), F.normalize(self.weight.float(), dim=-1))

    def forward(self, emb: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        cos = self.cosine(emb).clamp(-1.0 + 1e-7, 1.0 - 1e-7)
        if self.margin > 0:
            sin = torch.sqrt(1.0 - cos * cos)
            phi = cos * self._cos_m - sin * self._sin_m
            phi = torch.where(cos > self._th, phi, cos - self._mm)
            one_hot = F.one_hot(labels, self.num_classes).to(cos.dtype)
            logits = self.scale * (one_hot * phi + (1.0 - one_hot) * cos)
        else:
            logits = self.scale * cos
        return F.cross_entropy(logits, labels), logits

    def extra_repr(self) -> str:
        return f"embedding_size={self.embedding_size}, num_classes={self.num_classes}, margin={self.margin}, scale={self.scale}"
