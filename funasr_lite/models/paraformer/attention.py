"""SANM attention blocks (``funasr/models/sanm/attention.py``), with FunASR's parameter names.

Masks are boolean ``(B, T)`` tensors, True on valid frames. Every block zeroes padded frames
before its FSMN convolution and hides padded keys from attention, so a valid frame's output
never depends on padding.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def _fsmn_padding(kernel_size: int, sanm_shift: int) -> tuple[int, int]:
    left = (kernel_size - 1) // 2
    if sanm_shift > 0:
        left += sanm_shift
    return left, kernel_size - 1 - left


def masked_softmax_attention(
    q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None, dropout: nn.Module | None = None
) -> Tensor:
    """``softmax(q k^T)`` over valid keys, times ``v``; heads merged.

    ``q`` is already scaled by ``d_k ** -0.5``. Shapes ``(B, H, Tq, d)``, ``(B, H, Tk, d)``;
    ``key_mask (B, Tk)`` is True on valid keys. In eval mode (``dropout`` absent or not training)
    this is the fused ``scaled_dot_product_attention`` (scale 1: ``q`` is scaled); in training it
    is FunASR's own arithmetic (matmul, masked softmax, dropout on the weights), so the training
    loss matches FunASR's to the last digit (the GLM sampler's argmax is sensitive to it). An item
    with no valid key (length 0 in a batch) attends to all keys instead of producing NaN; its
    output is discarded anyway.
    """
    if key_mask is not None:
        key_mask = key_mask | ~key_mask.any(dim=-1, keepdim=True)
    if dropout is None or not dropout.training:
        mask = None if key_mask is None else key_mask[:, None, None, :]
        x = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=1.0)
    else:
        scores = torch.matmul(q, k.transpose(-2, -1))
        if key_mask is not None:
            hidden = ~key_mask[:, None, None, :]
            scores = scores.masked_fill(hidden, float("-inf"))
            attn = torch.softmax(scores, dim=-1).masked_fill(hidden, 0.0)
        else:
            attn = torch.softmax(scores, dim=-1)
        x = torch.matmul(dropout(attn), v)
    b, h, t, d = x.shape
    return x.transpose(1, 2).reshape(b, t, h * d)


def fsmn_memory(
    conv: nn.Conv1d, padding: tuple[int, int], x: Tensor, mask: Tensor | None, dropout: nn.Module | None = None
) -> Tensor:
    """FSMN memory ``dropout(conv(pad(x*m)) + x*m) * m``; ``m`` zeroes padded frames (FunASR's order)."""
    m = None if mask is None else mask.unsqueeze(-1).to(x.dtype)
    if m is not None:
        x = x * m
    y = conv(F.pad(x.transpose(1, 2), padding)).transpose(1, 2) + x
    if dropout is not None:
        y = dropout(y)
    return y if m is None else y * m


class MultiHeadedAttentionSANM(nn.Module):
    """Encoder self-attention with FSMN memory on the un-split ``v``; output = attention + memory.

    ``linear_q_k_v``: ``in_feat -> 3 * n_feat`` (q, k, v in that order); ``linear_out``;
    ``fsmn_block`` (depthwise conv, kernel ``kernel_size``, left pad ``(k-1)//2 + sanm_shfit``).
    """

    def __init__(
        self, n_head: int, in_feat: int, n_feat: int, kernel_size: int, sanm_shift: int = 0, dropout_rate: float = 0.0
    ) -> None:
        super().__init__()
        if n_feat % n_head:
            raise ValueError(f"n_feat {n_feat} is not divisible by n_head {n_head}")
        self.h = n_head
        self.d_k = n_feat // n_head
        self.linear_out = nn.Linear(n_feat, n_feat)
        self.linear_q_k_v = nn.Linear(in_feat, n_feat * 3)
        self.fsmn_block = nn.Conv1d(n_feat, n_feat, kernel_size, stride=1, padding=0, groups=n_feat, bias=False)
        self.padding = _fsmn_padding(kernel_size, sanm_shift)
        self.dropout = nn.Dropout(dropout_rate)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        b, t, _ = x.shape
        n_feat = self.h * self.d_k
        q, k, v = torch.split(self.linear_q_k_v(x), n_feat, dim=-1)
        memory = fsmn_memory(self.fsmn_block, self.padding, v, mask, self.dropout)
        q_h = q.reshape(b, t, self.h, self.d_k).transpose(1, 2) * self.d_k ** (-0.5)
        k_h = k.reshape(b, t, self.h, self.d_k).transpose(1, 2)
        v_h = v.reshape(b, t, self.h, self.d_k).transpose(1, 2)
        return self.linear_out(masked_softmax_attention(q_h, k_h, v_h, mask, self.dropout)) + memory


class MultiHeadedAttentionSANMDecoder(nn.Module):
    """Decoder "self-attention": FSMN memory only (``fsmn_block``), masked on token length."""

    def __init__(self, n_feat: int, kernel_size: int, sanm_shift: int = 0, dropout_rate: float = 0.0) -> None:
        super().__init__()
        self.fsmn_block = nn.Conv1d(n_feat, n_feat, kernel_size, stride=1, padding=0, groups=n_feat, bias=False)
        self.padding = _fsmn_padding(kernel_size, sanm_shift)
        self.dropout = nn.Dropout(dropout_rate)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        return fsmn_memory(self.fsmn_block, self.padding, x, mask, self.dropout)


class MultiHeadedAttentionCrossAtt(nn.Module):
    """Decoder cross-attention: ``linear_q``; ``linear_k_v`` (k then v) on the encoder memory; ``linear_out``."""

    def __init__(
        self, n_head: int, n_feat: int, encoder_output_size: int | None = None, dropout_rate: float = 0.0
    ) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout_rate)
        if n_feat % n_head:
            raise ValueError(f"n_feat {n_feat} is not divisible by n_head {n_head}")
        self.h = n_head
        self.d_k = n_feat // n_head
        self.linear_q = nn.Linear(n_feat, n_feat)
        self.linear_k_v = nn.Linear(n_feat if encoder_output_size is None else encoder_output_size, n_feat * 2)
        self.linear_out = nn.Linear(n_feat, n_feat)

    def forward(self, x: Tensor, memory: Tensor, memory_mask: Tensor | None) -> Tensor:
        b = x.shape[0]
        q_h = self.linear_q(x).reshape(b, -1, self.h, self.d_k).transpose(1, 2) * self.d_k ** (-0.5)
        k, v = torch.split(self.linear_k_v(memory), self.h * self.d_k, dim=-1)
        k_h = k.reshape(b, -1, self.h, self.d_k).transpose(1, 2)
        v_h = v.reshape(b, -1, self.h, self.d_k).transpose(1, 2)
        return self.linear_out(masked_softmax_attention(q_h, k_h, v_h, memory_mask, self.dropout))
