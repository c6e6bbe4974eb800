"""``SeacoParaformer``: BiCif-Paraformer with SeACo hotword biasing (``funasr/models/seaco_paraformer/model.py``).

Inference only. Parts and FunASR's parameter names:

- ``bias_encoder``: an ``nn.LSTM`` (2 layers, ``inner_dim``, optionally bidirectional with
  ``lstm_proj``) over the hotwords' token embeddings (``decoder.embed``, the ASR decoder's own
  table); a hotword is the LSTM output at its last token.
- ``seaco_decoder``: a ``ParaformerSANMDecoder`` without token embedding and output layer
  (:class:`SeacoDecoder`) whose "memory" is the hotword list. It runs twice, over the CIF
  acoustic embeddings and over the ASR decoder's hidden states; the sum goes through
  ``hotword_output_layer``.
- The merge (FunASR's ``_merge_res`` with ``seaco_weight`` 1.0): at a position where the bias
  branch's argmax is ``NO_BIAS`` the ASR decoder's log-probs are kept, elsewhere the bias
  branch's log-probs replace them.
- ASF (attention score filtering): with more than 50 hotwords (``<s>`` included), the cross-attention
  weights of the bias decoder's layer 5 over the decoder hidden states pick the 50 best-scoring
  hotwords, plus ``<s>``.

Hotwords are token-id lists (``funasr_lite/hotwords.py`` makes them from FunASR's ``hotword``
string or file); ``None`` is FunASR's "no hotword" (plain BiCif decoding). FunASR ends every list
with ``[sos]``; the caller passes the whole list. As everywhere in funasr_lite, a padded batch gives
each item its batch-of-one result: FunASR picks the ASF hotwords of a whole batch from its first
item, here each item picks its own (``docs/compatibility.md``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from funasr_lite.errors import ModelError
from funasr_lite.models.paraformer.attention import MultiHeadedAttentionCrossAtt, MultiHeadedAttentionSANMDecoder
from funasr_lite.models.paraformer.cif import CifPredictorV3
from funasr_lite.models.paraformer.decoder import DecoderLayerSANM, ParaformerSANMDecoder
from funasr_lite.models.paraformer.encoder import length_mask
from funasr_lite.models.paraformer.fire import cif_peaks
from funasr_lite.models.paraformer.layers import PositionwiseFeedForwardDecoderSANM, layer_norm
from funasr_lite.models.paraformer.model import (
    BLANK,
    EOS,
    SOS,
    BiCifParaformer,
    ParaformerOutputs,
    RecogResult,
    _class_name,
    _conf,
    add_bicif_timestamps,
    build_decoder,
    build_encoder,
    build_predictor,
)
from funasr_lite.models.precision import full_precision, model_input, module_dtype

ASF_NFILTER = 50  # FunASR's _seaco_decode_with_ASF(nfilter=50): more hotwords than this are filtered
ASF_LAYER = 5  # forward_asf6: decoders[0..4], then the attention weights of decoders[5]
NO_BIAS = 8377  # FunASR's default (the official vocab8404 model's "no hotword" class)
SEACO_WEIGHT = 1.0  # _seaco_decode_with_ASF's seaco_weight (the merge is then a hard switch)


def decoder_hidden(
    layers: list[nn.Module], after_norm: nn.Module, memory: Tensor, memory_lens: Tensor, tgt: Tensor, tgt_lens: Tensor
) -> Tensor:
    """``after_norm`` of a SANM decoder's layer stack (FunASR's ``return_hidden=True`` output)."""
    tgt_mask = length_mask(tgt_lens, tgt.shape[1])
    memory_mask = length_mask(memory_lens, memory.shape[1])
    x = tgt
    for layer in layers:
        x = layer(x, tgt_mask, memory, memory_mask)
    return after_norm(x)


def decoder_layers(decoder: nn.Module) -> list[nn.Module]:
    return list(decoder.decoders) + list(decoder.decoders2 or []) + list(decoder.decoders3)


class SeacoDecoder(nn.Module):
    """``seaco_decoder``: FunASR's ``ParaformerSANMDecoder`` with ``wo_input_layer`` and no output
    layer, so its output is the hidden state ``after_norm(x)``. Keys: ``after_norm``, ``decoders``
    (FSMN + cross-attention over the hotwords), ``decoders2`` (FSMN only, when
    ``num_blocks > att_layer_num``), ``decoders3``."""

    def __init__(
        self,
        dim: int,
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
        if sanm_shfit is None:
            sanm_shfit = (kernel_size - 1) // 2
        self.after_norm = layer_norm(dim)

        def layer(shift: int | None, cross: bool, fsmn: bool = True) -> DecoderLayerSANM:
            return DecoderLayerSANM(
                dim,
                MultiHeadedAttentionSANMDecoder(dim, kernel_size, shift or 0, self_attention_dropout_rate)
                if fsmn
                else None,
                MultiHeadedAttentionCrossAtt(attention_heads, dim, dropout_rate=src_attention_dropout_rate)
                if cross
                else None,
                PositionwiseFeedForwardDecoderSANM(dim, linear_units, dropout_rate),
                dropout_rate,
            )

        self.decoders = nn.ModuleList(layer(sanm_shfit, True) for _ in range(att_layer_num))
        extra = num_blocks - att_layer_num
        self.decoders2 = nn.ModuleList(layer(0, False) for _ in range(extra)) if extra > 0 else None
        self.decoders3 = nn.ModuleList([layer(None, False, fsmn=False)])

    def forward(self, hotwords: Tensor, hotword_lens: Tensor, tgt: Tensor, tgt_lens: Tensor) -> Tensor:
        """Hotword memory ``(B, H, D)``, queries ``(B, N, D)`` -> hidden ``(B, N, D)``."""
        return decoder_hidden(decoder_layers(self), self.after_norm, hotwords, hotword_lens, tgt, tgt_lens)

    def asf_attention(self, hotwords: Tensor, hotword_lens: Tensor, tgt: Tensor, tgt_lens: Tensor) -> Tensor:
        """FunASR's ``forward_asf6``: layers 0-4, then layer 5's cross-attention weights ``(B, heads, N, H)``.

        FunASR's arithmetic (``get_attn_mat``): ``softmax(q k^T)`` with ``q`` scaled by ``d_k^-0.5``.
        """
        tgt_mask = length_mask(tgt_lens, tgt.shape[1])
        memory_mask = length_mask(hotword_lens, hotwords.shape[1])
        x = tgt
        for layer in list(self.decoders)[:ASF_LAYER]:
            x = layer(x, tgt_mask, hotwords, memory_mask)
        last: DecoderLayerSANM = self.decoders[ASF_LAYER]
        f = last.feed_forward(last.norm1(x))
        if last.self_attn is not None:
            f = x + last.self_attn(last.norm2(f), tgt_mask)
        att: MultiHeadedAttentionCrossAtt = last.src_attn
        q = att.linear_q(last.norm3(f))
        b = q.shape[0]
        q_h = q.reshape(b, -1, att.h, att.d_k).transpose(1, 2) * att.d_k ** (-0.5)
        k, _ = torch.split(att.linear_k_v(hotwords), att.h * att.d_k, dim=-1)
        k_h = k.reshape(b, -1, att.h, att.d_k).transpose(1, 2)
        scores = torch.matmul(q_h, k_h.transpose(-2, -1))
        hidden = ~memory_mask[:, None, None, :]
        return torch.softmax(scores.masked_fill(hidden, float("-inf")), dim=-1).masked_fill(hidden, 0.0)


_SEACO_DECODER_KEYS = {
    "attention_heads",
    "linear_units",
    "num_blocks",
    "att_layer_num",
    "kernel_size",
    "sanm_shfit",
    "dropout_rate",
    "self_attention_dropout_rate",
    "src_attention_dropout_rate",
}


def build_seaco_decoder(config: dict[str, Any], dim: int) -> SeacoDecoder:
    """``SeacoDecoder`` from ``seaco_decoder_conf`` (only FunASR's working setting: no output layer)."""
    _class_name(config, "seaco_decoder", ("ParaformerSANMDecoder",))
    conf = _conf(
        config,
        "seaco_decoder_conf",
        _SEACO_DECODER_KEYS,
        {
            "input_layer": "embed",
            "use_output_layer": False,
            "wo_input_layer": True,
            "normalize_before": True,
            "concat_after": False,
            "lora_list": None,
        },
    )
    if int(conf.get("att_layer_num", 6)) <= ASF_LAYER:
        raise ModelError(
            "seaco_decoder_conf", f"att_layer_num must be > {ASF_LAYER} (FunASR's ASF reads layer {ASF_LAYER})"
        )
    return SeacoDecoder(dim, **conf)


class SeacoParaformer(BiCifParaformer):
    """SeACo-Paraformer (``model: SeacoParaformer``, ``CifPredictorV3``): BiCif decoding plus hotwords.

    ``recognize(feats, lens, hotwords=None)``: ``hotwords`` is one list of token-id lists for the
    whole batch (FunASR: per call), ending with ``[sos]``.
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: ParaformerSANMDecoder,
        predictor: CifPredictorV3,
        seaco_decoder: SeacoDecoder,
        inner_dim: int,
        bias_encoder_bid: bool = False,
        no_bias: int = NO_BIAS,
        sos: int = SOS,
        eos: int = EOS,
        blank_id: int = BLANK,
    ) -> None:
        super().__init__(encoder, decoder, predictor, sos, eos, blank_id)  # type: ignore[arg-type]
        vocab_size = decoder.output_layer.out_features
        self.bias_encoder = nn.LSTM(inner_dim, inner_dim, 2, batch_first=True, bidirectional=bias_encoder_bid)
        self.lstm_proj = nn.Linear(inner_dim * 2, inner_dim) if bias_encoder_bid else None
        self.seaco_decoder = seaco_decoder
        self.hotword_output_layer = nn.Linear(inner_dim, vocab_size)
        self.no_bias = no_bias

    @classmethod
    def from_config(cls, config: dict[str, Any], vocab_size: int) -> SeacoParaformer:
        fe = config.get("frontend_conf") or {}
        input_size = int(fe.get("n_mels", 80)) * int(fe.get("lfr_m", 1))
        encoder = build_encoder(config, input_size)
        decoder = build_decoder(config, vocab_size, encoder.output_size())
        predictor = build_predictor(config, bicif=True)
        mc = dict(config.get("model_conf") or {})
        inner_dim = mc.get("inner_dim", 256)
        if inner_dim != encoder.output_size():
            raise ModelError(
                "model_conf",
                f"inner_dim={inner_dim!r} must equal the encoder's output_size {encoder.output_size()} "
                "(the bias encoder reads the decoder's token embeddings)",
            )
        if mc.get("bias_encoder_type", "lstm") != "lstm":
            raise ModelError(
                "model_conf", f"bias_encoder_type={mc['bias_encoder_type']!r} is not supported (only 'lstm')"
            )
        bid = mc.get("bias_encoder_bid", False)
        no_bias = mc.get("NO_BIAS", NO_BIAS)
        if not isinstance(bid, bool) or isinstance(no_bias, bool) or not isinstance(no_bias, int):
            raise ModelError(
                "model_conf", f"bias_encoder_bid={bid!r} must be true/false, NO_BIAS={no_bias!r} an integer"
            )
        return cls(
            encoder,
            decoder,
            predictor,  # type: ignore[arg-type]
            build_seaco_decoder(config, inner_dim),
            inner_dim,
            bid,
            no_bias,
            int(mc.get("sos", SOS)),
            int(mc.get("eos", EOS)),
            int(mc.get("blank_id", BLANK)),
        )

    def hotword_embeddings(self, hotwords: list[list[int]], device: torch.device) -> Tensor:
        """FunASR's ``_hotword_representation``: ``(H, D)``, the bias encoder's output at each hotword's last token."""
        if not hotwords or any(len(h) == 0 for h in hotwords):
            raise ValueError("every hotword needs at least one token")
        lengths = [len(h) for h in hotwords]
        pad = torch.zeros(len(hotwords), max(lengths), dtype=torch.long)
        for i, h in enumerate(hotwords):
            pad[i, : len(h)] = torch.tensor(h, dtype=torch.long)
        emb = self.decoder.embed(pad.to(device)).to(module_dtype(self.bias_encoder))
        packed = pack_padded_sequence(
            emb, torch.tensor(lengths, dtype=torch.int64), batch_first=True, enforce_sorted=False
        )
        out = pad_packed_sequence(self.bias_encoder(packed)[0], batch_first=True)[0]
        if self.lstm_proj is not None:
            out = self.lstm_proj(out)
        return out[list(range(len(hotwords))), [n - 1 for n in lengths]]

    def asf_keep(self, selected: Tensor, dec_hidden: Tensor, pre_len: Tensor) -> list[list[int]]:
        """Per item, the hotword rows the ASF keeps: the 50 its decoder states attend to most (in
        ``topk`` order), then ``<s>`` (the last row; FunASR appends it even when ``topk`` chose it).

        FunASR scores with the first batch item's weights (all of its padded positions included)
        and applies that choice to every item; here each item uses its own positions, which is
        FunASR's batch-of-one choice.
        """
        n_hot = selected.shape[0]
        b = dec_hidden.shape[0]
        context = selected.unsqueeze(0).repeat(b, 1, 1)
        lens = torch.full((b,), n_hot, dtype=torch.long, device=selected.device)
        attn = self.seaco_decoder.asf_attention(context, lens, dec_hidden, pre_len)
        keep = []
        for i, n in enumerate(pre_len.tolist()):
            scores = attn[i, :, :n].sum(0).sum(0)
            keep.append(torch.topk(scores, min(ASF_NFILTER, n_hot - 1))[1].tolist() + [n_hot - 1])
        return keep

    def bias(
        self, logp: Tensor, dec_hidden: Tensor, acoustic_embeds: Tensor, pre_len: Tensor, hotwords: list[list[int]]
    ) -> Tensor:
        """The SeACo part of FunASR's ``_seaco_decode_with_ASF``: merged log-probs ``(B, N, V)``."""
        device = logp.device
        selected = self.hotword_embeddings(hotwords, device)
        b = logp.shape[0]
        n_hot = selected.shape[0]
        if 0 < ASF_NFILTER < n_hot:
            context = torch.stack([selected[rows] for rows in self.asf_keep(selected, dec_hidden, pre_len)])
        else:
            context = selected.unsqueeze(0).repeat(b, 1, 1)
        lens = torch.full((b,), context.shape[1], dtype=torch.long, device=device)
        cif_attended = self.seaco_decoder(context, lens, acoustic_embeds, pre_len)
        dec_attended = self.seaco_decoder(context, lens, dec_hidden, pre_len)
        dha_output = self.hotword_output_layer(cif_attended + dec_attended)
        dha_pred = torch.log_softmax(dha_output.to(torch.promote_types(dha_output.dtype, torch.float32)), dim=-1)
        # _merge_res with seaco_weight 1.0: mask = ((argmax == NO_BIAS) + (1 - w) / w) / (1 / w)
        lmbd = torch.tensor([SEACO_WEIGHT] * b, dtype=torch.float32, device=device)
        dha_mask = (dha_pred.max(-1)[-1] == self.no_bias).int().unsqueeze(-1)
        a, c = (1 - lmbd) / lmbd, 1 / lmbd
        dha_mask = (dha_mask + a.reshape(-1, 1, 1)) / c.reshape(-1, 1, 1)
        return logp * dha_mask + dha_pred * (1 - dha_mask)

    @torch.no_grad()
    def forward_outputs(
        self, feats: Tensor, feat_lens: Tensor, hotwords: list[list[int]] | None = None
    ) -> ParaformerOutputs:
        """As ``BiCifParaformer.forward_outputs``; with ``hotwords`` the decoder log-probs are the merged ones."""
        feat_lens = feat_lens.to(device=feats.device, dtype=torch.long)
        enc, enc_lens = self.encoder(model_input(feats, self.encoder), feat_lens)
        with full_precision(enc.device):
            cif = self.predictor(enc.to(module_dtype(self.predictor)), enc_lens)
        pre_len = cif.token_num.round().long()
        out = ParaformerOutputs(enc, enc_lens, cif.alphas, cif.peaks, cif.token_num, pre_len, cif.acoustic_embeds, None)
        if not pre_len.numel() or int(pre_len.max()) < 1:
            return out  # FunASR returns before the hotwords are used
        embeds = model_input(cif.acoustic_embeds, self.decoder)
        hidden = decoder_hidden(
            decoder_layers(self.decoder),
            self.decoder.after_norm,
            model_input(enc, self.decoder),
            enc_lens,
            embeds,
            pre_len,
        )
        logits = self.decoder.output_layer(hidden)
        logp = torch.log_softmax(logits.to(torch.promote_types(logits.dtype, torch.float32)), dim=-1)
        if hotwords is not None:
            logp = self.bias(
                logp,
                model_input(hidden, self.seaco_decoder),
                model_input(cif.acoustic_embeds, self.seaco_decoder),
                pre_len,
                hotwords,
            )
        out.decoder_logp = logp
        with full_precision(enc.device):
            out.us_alphas = self.predictor.upsampled_alphas(enc.to(module_dtype(self.predictor)), enc_lens, pre_len)
        out.us_peaks = cif_peaks(out.us_alphas, self.predictor.threshold - 1e-4)
        return out

    @torch.no_grad()
    def recognize(
        self,
        feats: Tensor,
        feat_lens: Tensor,
        vad_offset_ms: float = 0.0,
        timestamps: bool = True,
        hotwords: list[list[int]] | None = None,
    ) -> list[RecogResult]:
        """As ``BiCifParaformer.recognize`` (timestamps always), biased towards ``hotwords``
        (token-id lists ending with ``[sos]``; ``None``: no biasing)."""
        out = self.forward_outputs(feats, feat_lens, hotwords)
        results = self.greedy(out)
        add_bicif_timestamps(
            results,
            out.us_alphas,
            out.us_peaks,
            out.encoder_out_lens.tolist(),
            self.predictor.upsample_times,
            vad_offset_ms,
        )
        return results
