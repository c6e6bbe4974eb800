"""``ParaformerSANMDecoder`` (``funasr/models/paraformer/decoder.py``); dropout only in training."""

from __future__ import annotations

from torch import Tensor, nn

from funasr_lite.models.paraformer.attention import MultiHeadedAttentionCrossAtt, MultiHeadedAttentionSANMDecoder
from funasr_lite.models.paraformer.encoder import length_mask
from funasr_lite.models.paraformer.layers import PositionwiseFeedForwardDecoderSANM, layer_norm


class DecoderLayerSANM(nn.Module):
    """``f = ffn(norm1(x))``; with FSMN: ``x = x + fsmn(norm2(f))`` (residual is the layer input),
    else ``x = f`` (no residual); with cross-attention: ``x = x + src_attn(norm3(x), memory)``."""

    def __init__(
        self,
        size: int,
        self_attn: MultiHeadedAttentionSANMDecoder | None,
        src_attn: MultiHeadedAttentionCrossAtt | None,
        feed_forward: PositionwiseFeedForwardDecoderSANM,
        dropout_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout_rate)
        self.self_attn = self_attn
        self.src_attn = src_attn
        self.feed_forward = feed_forward
        self.norm1 = layer_norm(size)
        if self_attn is not None:
            self.norm2 = layer_norm(size)
        if src_attn is not None:
            self.norm3 = layer_norm(size)

    def forward(self, tgt: Tensor, tgt_mask: Tensor, memory: Tensor, memory_mask: Tensor) -> Tensor:
        f = self.feed_forward(self.norm1(tgt))
        x = f
        if self.self_attn is not None:
            x = tgt + self.dropout(self.self_attn(self.norm2(f), tgt_mask))
        if self.src_attn is not None:
            x = x + self.dropout(self.src_attn(self.norm3(x), memory, memory_mask))
        return x


class ParaformerSANMDecoder(nn.Module):
    """Non-autoregressive decoder over CIF acoustic embeddings (no token embedding at inference).

    ``decoders`` (FSMN + cross-attention, ``att_layer_num``), ``decoders2`` (FSMN only, when
    ``num_blocks > att_layer_num``), ``decoders3`` (FFN only, no residual), ``after_norm``,
    ``output_layer``. ``embed.0`` (token embedding) exists only for checkpoint compatibility:
    FunASR uses it in training (the GLM sampler).
    """

    def __init__(
        self,
        vocab_size: int,
        encoder_output_size: int,
        attention_heads: int = 4,
        linear_units: int = 2048,
        num_blocks: int = 6,
        att_layer_num: int = 6,
        kernel_size: int = 21,
        sanm_shfit: int | None = 0,
        dropout_rate: float = 0.0,
        self_attention_dropout_rate: float = 0.0,
        src_attention_dropout_rate: float = 0.0,
    ) -> None:
        super().__init__()
        dim = encoder_output_size
        if sanm_shfit is None:
            sanm_shfit = (kernel_size - 1) // 2
        self.embed = nn.Sequential(nn.Embedding(vocab_size, dim))
        self.after_norm = layer_norm(dim)
        self.output_layer = nn.Linear(dim, vocab_size)

        def ffn() -> PositionwiseFeedForwardDecoderSANM:
            return PositionwiseFeedForwardDecoderSANM(dim, linear_units, dropout_rate)

        self.decoders = nn.ModuleList(
            DecoderLayerSANM(
                dim,
                MultiHeadedAttentionSANMDecoder(dim, kernel_size, sanm_shfit, self_attention_dropout_rate),
                MultiHeadedAttentionCrossAtt(attention_heads, dim, dropout_rate=src_attention_dropout_rate),
                ffn(),
                dropout_rate,
            )
            for _ in range(att_layer_num)
        )
        extra = num_blocks - att_layer_num
        self.decoders2 = (
            nn.ModuleList(
                DecoderLayerSANM(
                    dim,
                    MultiHeadedAttentionSANMDecoder(dim, kernel_size, 0, self_attention_dropout_rate),
                    None,
                    ffn(),
                    dropout_rate,
                )
                for _ in range(extra)
            )
            if extra > 0
            else None
        )
        self.decoders3 = nn.ModuleList([DecoderLayerSANM(dim, None, None, ffn(), dropout_rate)])

    def forward(self, memory: Tensor, memory_lens: Tensor, tgt: Tensor, tgt_lens: Tensor) -> Tensor:
        """Encoder memory ``(B, T, D)``, acoustic embeddings ``(B, N, D)`` -> logits ``(B, N, V)``."""
        tgt_mask = length_mask(tgt_lens, tgt.shape[1])
        memory_mask = length_mask(memory_lens, memory.shape[1])
        x = tgt
        layers = list(self.decoders) + list(self.decoders2 or []) + list(self.decoders3)
        for layer in layers:
            x = layer(x, tgt_mask, memory, memory_mask)
        return self.output_layer(self.after_norm(x))
