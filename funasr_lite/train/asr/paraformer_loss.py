"""FunASR 1.4.16 ``Paraformer.forward`` / ``BiCifParaformer.forward`` in training mode
(``funasr/models/paraformer/model.py``, ``funasr/models/bicif_paraformer/model.py``).

    encoder -> CIF predictor with the target lengths (alphas rescaled to sum to each target
    length, eos included when ``predictor_bias == 1``) -> acoustic embeds
    [sampling_ratio > 0] GLM sampler: a no-grad decoder pass on the acoustic embeds; per item,
        ``int((n_tokens - n_correct) * sampling_ratio)`` positions drawn by ``randperm`` take the
        target token embedding (``decoder.embed``) instead of the acoustic embed
    decoder pass -> label-smoothed CE (``lsm_weight``, normalised by the token count)
    MAE between target lengths and the unscaled alpha sums (normalised by the summed target lengths)
    loss = loss_att + predictor_weight * loss_pre  [+ 0.5 * predictor_weight * loss_pre2 for BiCif]

``acc`` is FunASR's: measured on the first (sampler) pass when the sampler runs, else on the
decoder pass. ``ctc_weight`` must be 0 (as in every released Paraformer; no CTC branch here).

RNG: FunASR's sampler calls ``torch.randperm(n)`` on the *global* CPU RNG, once per item whose
``target_num > 0``, in batch order. Before that, every FunASR layer stack (``MultiSequential``:
encoder ``encoders0``, ``encoders``; decoder ``decoders``, ``decoders2``, ``decoders3``) draws
``torch.empty(len(stack)).uniform_()`` for layer drop (rate 0: the draws change nothing but
advance the RNG). With dropout and SpecAug off these are its only draws. Here all of them are
made, in FunASR's order, on ``generator`` (a CPU ``torch.Generator``; ``None`` = the global RNG,
exactly FunASR's behaviour), so ``torch.Generator().manual_seed(s)`` reproduces FunASR's
sampler choice, hence its loss, after ``torch.manual_seed(s)``.

Padding: like the inference modules, every item is computed as if alone (the encoder output is
zero at padded frames before the alpha conv; the BiCif timestamp head runs per item). FunASR lets
padded frames leak into the alpha conv and the BLSTM, so its batched loss differs slightly when
feature lengths differ; with equal feature lengths (or batch 1) the two agree.

The rescaled alphas sum exactly to each target length, so whether the last CIF fire happens
(else the last acoustic embed is zero) depends on the last ulp of the alpha sums, as in FunASR;
an item's loss can therefore change between a batch and a batch of one.

Dropout is not applied (the inference modules have none): this is FunASR's loss with every
dropout ``p = 0``. SpecAug is not applied.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from funasr_lite.models.paraformer.cif import CifPredictorV3
from funasr_lite.models.paraformer.encoder import length_mask
from funasr_lite.train.asr.losses import label_smoothing_loss, mae_loss, th_accuracy

IGNORE_ID = -1

__all__ = ["glm_sampler_mask", "loss_conf_from_config", "paraformer_training_loss"]


def loss_conf_from_config(config: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of :func:`paraformer_training_loss` from a FunASR config's ``model_conf``."""
    mc = config.get("model_conf") or {}
    if float(mc.get("ctc_weight", 0.0)) != 0.0:
        raise ValueError(f"ctc_weight={mc['ctc_weight']} is not supported (only 0.0)")
    return {
        "lsm_weight": float(mc.get("lsm_weight", 0.0)),
        "length_normalized_loss": bool(mc.get("length_normalized_loss", False)),
        "predictor_weight": float(mc.get("predictor_weight", 0.0)),
        "predictor_bias": int(mc.get("predictor_bias", 0)),
        "sampling_ratio": float(mc.get("sampling_ratio", 0.2)),
    }


def _append_eos(ys: Tensor, ys_lens: Tensor, eos: int) -> Tensor:
    """``(B, L)`` ids padded with -1 -> ``(B, max(len)+1)``: each item's tokens then ``eos``, padded with -1."""
    b = ys.shape[0]
    width = int(ys_lens.max()) + 1 if b else 1
    pos = torch.arange(width, device=ys.device).unsqueeze(0)
    lens = ys_lens.to(ys.device).unsqueeze(1)
    body = ys.new_full((b, width), IGNORE_ID)
    n = min(width, ys.shape[1])
    body[:, :n] = ys[:, :n]
    out = torch.where(pos < lens, body, torch.full_like(body, IGNORE_ID))
    return torch.where(pos == lens, torch.full_like(out, eos), out)


def glm_sampler_mask(
    pred_tokens: Tensor, ys_out: Tensor, sampling_ratio: float, generator: torch.Generator | None = None
) -> Tensor:
    """FunASR's sampler choice: ``True`` where the target embedding replaces the acoustic embedding.

    Per item (in batch order): ``target_num = long(float(n_tokens - n_correct) * sampling_ratio)``;
    if positive, the first ``target_num`` entries of ``randperm(n_tokens)`` are chosen.
    """
    nonpad = ys_out.ne(IGNORE_ID)
    seq_lens = nonpad.sum(1)
    same_num = ((pred_tokens == ys_out) & nonpad).sum(1)
    # the draws need host numbers: one transfer for the batch, the mask built on the host, one back
    target_nums = ((seq_lens - same_num).float() * sampling_ratio).long().tolist()
    lens = seq_lens.tolist()
    chosen = torch.zeros(nonpad.shape, dtype=torch.bool)
    for i, (target_num, n) in enumerate(zip(target_nums, lens)):
        if target_num > 0:
            chosen[i, torch.randperm(n, generator=generator)[:target_num]] = True
    chosen = chosen.to(nonpad.device)
    return chosen & nonpad


def _layer_drop_draws(stacks: list[Any], generator: torch.Generator | None) -> None:
    """Advance the RNG as FunASR's ``MultiSequential.forward`` does: ``len(stack)`` uniforms per stack."""
    for stack in stacks:
        n = len(stack) if stack is not None else 0
        if n:
            torch.empty(n).uniform_(generator=generator)


def _token_num2(predictor: CifPredictorV3, hidden: Tensor, lengths: Tensor) -> Tensor:
    """BiCif timestamp head's raw alpha sums (FunASR ``CifPredictorV3.forward``'s ``token_num2``), per item."""
    sums = [predictor.raw_upsampled_alphas(hidden[i : i + 1, : int(lengths[i])]).sum() for i in range(hidden.shape[0])]
    return torch.stack(sums) if sums else hidden.new_zeros(0)


def paraformer_training_loss(
    model: torch.nn.Module,
    feats: Tensor,
    feat_lens: Tensor,
    ys: Tensor,
    ys_lens: Tensor,
    generator: torch.Generator | None = None,
    *,
    lsm_weight: float = 0.1,
    length_normalized_loss: bool = True,
    predictor_weight: float = 1.0,
    predictor_bias: int = 1,
    sampling_ratio: float = 0.75,
) -> dict[str, Any]:
    """FunASR's training loss of a funasr_lite ``Paraformer`` / ``BiCifParaformer``.

    ``feats (B, T, D)`` padded features, ``ys (B, L)`` token ids padded with -1, lengths ``(B,)``.
    Returns ``loss`` (differentiable), ``loss_att``, ``loss_pre`` (tensors), ``acc`` (float),
    ``weight`` (FunASR's ``sum(ys_lens + predictor_bias)`` when ``length_normalized_loss``, else B)
    and, for BiCif, ``loss_pre2``.
    """
    device = feats.device
    feat_lens = feat_lens.to(device=device, dtype=torch.long)
    ys = ys.to(device=device, dtype=torch.long)
    ys_lens = ys_lens.to(device=device, dtype=torch.long)
    enc, enc_lens = model.encoder(feats, feat_lens)
    _layer_drop_draws([model.encoder.encoders0, model.encoder.encoders], generator)

    if predictor_bias == 1:
        ys_out = _append_eos(ys, ys_lens, model.eos)
        ys_out_lens = ys_lens + 1
    elif predictor_bias == 0:
        ys_out, ys_out_lens = ys[:, : int(ys_lens.max()) if ys.shape[0] else 0], ys_lens
    else:
        raise ValueError(f"predictor_bias={predictor_bias} is not supported (0 or 1)")

    # CIF predictor with target lengths (FunASR runs it outside autocast: integrate in >= fp32)
    predictor = model.predictor
    mask = length_mask(enc_lens, enc.shape[1])
    hidden = enc * mask.unsqueeze(-1).to(enc.dtype)
    acc_dtype = torch.promote_types(hidden.dtype, torch.float32)
    alphas = predictor.alpha_head(hidden, mask).to(acc_dtype)
    target_length = ys_out.ne(IGNORE_ID).to(acc_dtype).sum(-1)
    token_num = alphas.sum(-1)
    alphas = alphas * (target_length / token_num)[:, None]
    embeds, _ = predictor.integrate(hidden.to(acc_dtype), alphas)
    embeds = embeds.to(enc.dtype)
    loss_pre = mae_loss(ys_out_lens.to(token_num.dtype), token_num, length_normalized_loss)

    decoder = model.decoder
    logits_1st = None
    if sampling_ratio > 0.0:
        tgt_mask = length_mask(ys_out_lens, int(ys_out_lens.max())).unsqueeze(-1)
        ys_embed = decoder.embed(ys_out * tgt_mask[:, :, 0])
        with torch.no_grad():
            logits_1st = decoder(enc, enc_lens, embeds, ys_out_lens)
            _layer_drop_draws([decoder.decoders, decoder.decoders2, decoder.decoders3], generator)
            chosen = glm_sampler_mask(logits_1st.argmax(-1), ys_out, sampling_ratio, generator).unsqueeze(-1)
        semantic = embeds.masked_fill(chosen, 0) + ys_embed.masked_fill(~chosen, 0)
        semantic = semantic * tgt_mask.to(semantic.dtype)
        logits_1st = logits_1st * tgt_mask.to(logits_1st.dtype)
    else:
        semantic = embeds

    logits = decoder(enc, enc_lens, semantic, ys_out_lens)
    loss_att = label_smoothing_loss(logits, ys_out, lsm_weight, IGNORE_ID, length_normalized_loss)
    acc = th_accuracy(logits_1st if logits_1st is not None else logits.detach(), ys_out, IGNORE_ID)
    loss = loss_att + loss_pre * predictor_weight
    out: dict[str, Any] = {"loss_att": loss_att, "loss_pre": loss_pre, "acc": acc}
    if isinstance(predictor, CifPredictorV3):
        token_num2 = _token_num2(predictor, hidden, enc_lens).to(acc_dtype)
        loss_pre2 = mae_loss(ys_out_lens.to(token_num2.dtype), token_num2, length_normalized_loss)
        loss = loss + loss_pre2 * predictor_weight * 0.5
        out["loss_pre2"] = loss_pre2
    out["loss"] = loss
    out["weight"] = int(ys_out_lens.sum()) if length_normalized_loss else int(ys.shape[0])
    return out
