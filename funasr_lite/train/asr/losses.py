"""Loss functions of FunASR's Paraformer training (``funasr/losses/label_smoothing_loss.py``,
``funasr/models/paraformer/cif_predictor.py`` ``mae_loss``, ``funasr/metrics/compute_acc.py``)."""

from __future__ import annotations

import torch
from torch import Tensor


def label_smoothing_loss(
    logits: Tensor, target: Tensor, smoothing: float = 0.1, ignore_id: int = -1, normalize_length: bool = True
) -> Tensor:
    """FunASR ``LabelSmoothingLoss``: ``sum KL(true_dist || softmax(logits))`` over non-ignored positions.

    ``true_dist`` is ``1 - smoothing`` on the target and ``smoothing / (V - 1)`` elsewhere
    (the target column is overwritten, so a row sums to ``1 - smoothing/(V-1)``, as FunASR);
    divided by the number of non-ignored tokens (``normalize_length``) or by the batch size.
    ``logits (B, L, V)``, ``target (B, L)`` with ``ignore_id`` at padding.
    """
    b, _, v = logits.shape
    x = logits.reshape(-1, v)
    t = target.reshape(-1)
    ignore = t == ignore_id
    with torch.no_grad():
        true_dist = torch.full_like(x, smoothing / (v - 1))
        true_dist.scatter_(1, t.masked_fill(ignore, 0).unsqueeze(1), 1.0 - smoothing)
    kl = torch.nn.functional.kl_div(torch.log_softmax(x, dim=1), true_dist, reduction="none")
    denom = int(t.numel() - int(ignore.sum())) if normalize_length else b
    return kl.masked_fill(ignore.unsqueeze(1), 0).sum() / denom


def mae_loss(token_length: Tensor, pre_token_length: Tensor, normalize_length: bool = True) -> Tensor:
    """FunASR ``mae_loss``: ``sum |token_length - pre_token_length|`` / (sum of ``token_length``
    as float32 if ``normalize_length`` else batch size)."""
    loss = torch.nn.functional.l1_loss(token_length, pre_token_length, reduction="sum")
    if normalize_length:
        return loss / token_length.sum().to(torch.float32)
    return loss / token_length.shape[0]


def th_accuracy(logits: Tensor, target: Tensor, ignore_id: int = -1) -> float:
    """Fraction of non-ignored positions whose argmax equals the target (FunASR ``th_accuracy``)."""
    pred = logits.argmax(-1)
    mask = target != ignore_id
    num = torch.sum(pred.masked_select(mask) == target.masked_select(mask))
    return float(num) / float(torch.sum(mask))
