"""``SANMEncoder`` (``funasr/models/sanm/encoder.py``), FunASR parameter names; dropout only in training."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from funasr_lite.models.paraformer.attention import MultiHeadedAttentionSANM
from funasr_lite.models.paraformer.embedding import SinusoidalPositionEncoder
from funasr_lite.models.paraformer.layers import PositionwiseFeedForward, layer_norm


def length_mask(lengths: Tensor, max_len: int) -> Tensor:
    """Boolean ``(B, max_len)``, True where ``t < lengths[b]``."""
    return torch.arange(max_len, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


class EncoderLayerSANM(nn.Module):
    """Pre-norm layer: ``x = [x +] attn(norm1(x))`` (no residual when ``in_size != size``), ``x += ffn(norm2(x))``."""

    def __init__(
        self, in_size: int, size: int, self_attn: nn.Module, feed_forward: nn.Module, dropout_rate: float = 0.0
    ) -> None:
        super().__init__()
        self.self_attn = self_attn
        self.feed_forward = feed_forward
        self.norm1 = layer_norm(in_size)
        self.norm2 = layer_norm(size)
        self.residual = in_size == size
        self.dropout = nn.Dropout(dropout_rate)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        y = self.dropout(self.self_attn(self.norm1(x), mask))
        x = x + y if self.residual else y
        return x + self.dropout(self.feed_forward(self.norm2(x)))


class SANMEncoder(nn.Module):
    """``x * sqrt(output_size)`` + 1-based sin/cos positions, ``encoders0`` (in->out), ``encoders`` (out->out), ``after_norm``.

    Only FunASR's inference configuration of Paraformer is supported: ``input_layer: pe``,
    ``selfattention_layer_type: sanm``, ``normalize_before: true``, no ``concat_after``.
    Outputs at padded frames are zeroed (FunASR leaves garbage there).
    """

    def __init__(
        self,
        input_size: int,
        output_size: int = 256,
        attention_heads: int = 4,
        linear_units: int = 2048,
        num_blocks: int = 6,
        kernel_size: int = 11,
        sanm_shfit: int = 0,
        dropout_rate: float = 0.0,
        attention_dropout_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if num_blocks < 1:
            raise ValueError(f"num_blocks must be >= 1, got {num_blocks}")
        self._output_size = output_size
        self.embed = SinusoidalPositionEncoder()

        def layer(in_size: int) -> EncoderLayerSANM:
            return EncoderLayerSANM(
                in_size,
                output_size,
                MultiHeadedAttentionSANM(
                    attention_heads, in_size, output_size, kernel_size, sanm_shfit, attention_dropout_rate
                ),
                PositionwiseFeedForward(output_size, linear_units, dropout_rate),
                dropout_rate,
            )

        self.encoders0 = nn.ModuleList([layer(input_size)])
        self.encoders = nn.ModuleList([layer(output_size) for _ in range(num_blocks - 1)])
        self.after_norm = layer_norm(output_size)

    def output_size(self) -> int:
        return self._output_size

    def forward(self, xs: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """``(B, T, input_size)`` and lengths -> ``(B, T, output_size)`` (padded frames zero) and lengths."""
        mask = length_mask(lengths, xs.shape[1])
        xs = self.embed(xs * self._output_size**0.5)
        for layer in self.encoders0:
            xs = layer(xs, mask)
        for layer in self.encoders:
            xs = layer(xs, mask)
        xs = self.after_norm(xs)
        return xs * mask.unsqueeze(-1).to(xs.dtype), lengths
