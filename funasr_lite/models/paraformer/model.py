"""``Paraformer`` and ``BiCifParaformer``: encoder -> CIF predictor -> decoder -> greedy ids (+ timestamps).

Inference only (FunASR's ``inference`` in ``funasr/models/{paraformer,bicif_paraformer}/model.py``).
BiCif always gives timestamps (its upsampled CIF2 head); plain Paraformer gives FunASR's
CIF-peak timestamps on request (``recognize(..., timestamps=True)``: FunASR's ``pred_timestamp``
/ ``output_timestamp``, which a speaker model turns on).
A padded batch gives each item the result it gets alone: every step masks padding (see
``docs/compatibility.md``; FunASR's batched results differ from its batch-1 results).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from funasr_lite.errors import ModelError
from funasr_lite.models.paraformer.cif import CifPredictorV2, CifPredictorV3
from funasr_lite.models.paraformer.decoder import ParaformerSANMDecoder
from funasr_lite.models.paraformer.encoder import SANMEncoder
from funasr_lite.models.paraformer.fire import cif_peaks
from funasr_lite.models.precision import full_precision, model_input, module_dtype
from funasr_lite.postprocess.timestamps import cif_peak_timestamps, token_timestamps

SOS, EOS, BLANK = 1, 2, 0  # FunASR Paraformer class defaults (model_conf may override)


@dataclass
class RecogResult:
    """One utterance: ``token_ids`` (ids 0/1/2 removed, ``<unk>`` kept), ``score`` = sum over
    predicted positions of the max log-prob (FunASR's greedy ``Hypothesis.score``, including
    positions whose argmax was then removed), ``timestamps`` = ``[start_ms, end_ms]`` per token
    before text post-processing (BiCif always; plain Paraformer when asked, else ``None``)."""

    token_ids: list[int]
    score: float
    timestamps: list[list[int]] | None = None


@dataclass
class ParaformerOutputs:
    """Intermediate tensors of one forward pass (for parity checks and debugging)."""

    encoder_out: Tensor  # (B, T, D), zero at padded frames
    encoder_out_lens: Tensor  # (B,)
    alphas: Tensor  # (B, T+1) incl. the tail weight
    peaks: Tensor  # (B, T+1)
    token_num: Tensor  # (B,) float, floor(sum alphas)
    pre_token_length: Tensor  # (B,) long, rounded token_num
    acoustic_embeds: Tensor  # (B, N, D)
    decoder_logp: Tensor | None  # (B, N, V) log-softmax, None when no item has a token
    us_alphas: Tensor | None = None  # (B, 3T) BiCif only
    us_peaks: Tensor | None = None  # (B, 3T) BiCif only


# Config keys that only matter for training (or are FunASR defaults we implement).
_TRAIN_ONLY = {
    "dropout_rate",
    "positional_dropout_rate",
    "attention_dropout_rate",
    "self_attention_dropout_rate",
    "src_attention_dropout_rate",
    "dropout",
    "tf2torch_tensor_name_prefix_torch",
    "tf2torch_tensor_name_prefix_tf",
}


_INT_KEYS = {
    "output_size",
    "attention_heads",
    "linear_units",
    "num_blocks",
    "kernel_size",
    "sanm_shfit",
    "att_layer_num",
    "idim",
    "l_order",
    "r_order",
    "upsample_times",
}
_FLOAT_KEYS = {"threshold", "smooth_factor", "noise_threshold", "tail_threshold", "smooth_factor2", "noise_threshold2"}


def _conf(config: dict[str, Any], block: str, allowed: set[str], fixed: dict[str, Any]) -> dict[str, Any]:
    """Keep ``allowed`` keys of ``config[block]``; refuse a value that differs from ``fixed``; drop training keys."""
    conf = dict(config.get(block) or {})
    out: dict[str, Any] = {}
    for key, value in conf.items():
        if key in allowed:
            if key in _INT_KEYS and (isinstance(value, bool) or not isinstance(value, int)):
                raise ModelError(block, f"{key}={value!r} must be an integer")
            if key in _FLOAT_KEYS and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ModelError(block, f"{key}={value!r} must be a number")
            out[key] = value
        elif key in fixed:
            if value != fixed[key] and not (value is None and fixed[key] in ([], None)):
                raise ModelError(block, f"{key}={value!r} is not supported (only {fixed[key]!r})")
        elif key not in _TRAIN_ONLY:
            raise ModelError(block, f"unknown key {key!r}")
    return out


def _class_name(config: dict[str, Any], key: str, expected: tuple[str, ...]) -> str:
    name = config.get(key)
    if name not in expected:
        raise ModelError(key, f"{name!r} is not supported (supported: {', '.join(expected)})")
    return str(name)


def build_encoder(config: dict[str, Any], input_size: int) -> SANMEncoder:
    """``SANMEncoder`` from ``encoder_conf`` (refuses settings other than Paraformer's)."""
    _class_name(config, "encoder", ("SANMEncoder",))
    conf = _conf(
        config,
        "encoder_conf",
        {
            "output_size",
            "attention_heads",
            "linear_units",
            "num_blocks",
            "kernel_size",
            "sanm_shfit",
            "dropout_rate",
            "attention_dropout_rate",
        },
        {
            "input_layer": "pe",
            "pos_enc_class": "SinusoidalPositionEncoder",
            "normalize_before": True,
            "selfattention_layer_type": "sanm",
            "concat_after": False,
            "positionwise_layer_type": "linear",
            "interctc_layer_idx": [],
            "lora_list": None,
            "input_size": input_size,
        },
    )
    return SANMEncoder(input_size, **conf)


def build_decoder(config: dict[str, Any], vocab_size: int, encoder_output_size: int) -> ParaformerSANMDecoder:
    """``ParaformerSANMDecoder`` from ``decoder_conf``."""
    _class_name(config, "decoder", ("ParaformerSANMDecoder",))
    conf = _conf(
        config,
        "decoder_conf",
        {
            "attention_heads",
            "linear_units",
            "num_blocks",
            "att_layer_num",
            "kernel_size",
            "sanm_shfit",
            "dropout_rate",
            "self_attention_dropout_rate",
            "src_attention_dropout_rate",
        },
        {
            "input_layer": "embed",
            "use_output_layer": True,
            "normalize_before": True,
            "concat_after": False,
            "wo_input_layer": False,
            "lora_list": None,
        },
    )
    return ParaformerSANMDecoder(vocab_size, encoder_output_size, **conf)


def build_predictor(config: dict[str, Any], bicif: bool) -> CifPredictorV2:
    """``CifPredictorV2`` (plain) or ``CifPredictorV3`` (BiCif) from ``predictor_conf``."""
    base = {
        "idim",
        "l_order",
        "r_order",
        "threshold",
        "smooth_factor",
        "noise_threshold",
        "tail_threshold",
        "tail_mask",
    }
    if bicif:
        _class_name(config, "predictor", ("CifPredictorV3",))
        extra = {"smooth_factor2", "noise_threshold2", "upsample_times", "upsample_type", "use_cif1_cnn"}
        return CifPredictorV3(**_conf(config, "predictor_conf", base | extra, {}))
    _class_name(config, "predictor", ("CifPredictorV2",))
    return CifPredictorV2(**_conf(config, "predictor_conf", base, {}))


class Paraformer(nn.Module):
    """Plain Paraformer (``CifPredictorV2``). Parameter names are FunASR's (``encoder.*``, ``decoder.*``, ``predictor.*``)."""

    def __init__(
        self,
        encoder: SANMEncoder,
        decoder: ParaformerSANMDecoder,
        predictor: CifPredictorV2,
        sos: int = SOS,
        eos: int = EOS,
        blank_id: int = BLANK,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.predictor = predictor
        self.sos, self.eos, self.blank_id = sos, eos, blank_id

    @classmethod
    def from_config(cls, config: dict[str, Any], vocab_size: int) -> Paraformer:
        """Build from a FunASR 1.x config dict; ``input_size = n_mels * lfr_m`` (``frontend_conf``)."""
        fe = config.get("frontend_conf") or {}
        input_size = int(fe.get("n_mels", 80)) * int(fe.get("lfr_m", 1))
        encoder = build_encoder(config, input_size)
        decoder = build_decoder(config, vocab_size, encoder.output_size())
        predictor = build_predictor(config, bicif=cls is BiCifParaformer)
        mc = config.get("model_conf") or {}
        return cls(
            encoder,
            decoder,
            predictor,
            int(mc.get("sos", SOS)),
            int(mc.get("eos", EOS)),
            int(mc.get("blank_id", BLANK)),
        )

    @torch.no_grad()
    def forward_outputs(self, feats: Tensor, feat_lens: Tensor) -> ParaformerOutputs:
        """Encoder, predictor and decoder on a padded batch ``(B, T, D)``; every tensor FunASR computes."""
        feat_lens = feat_lens.to(device=feats.device, dtype=torch.long)
        # each part runs in its own precision (``models.precision``: encoder/decoder may be bf16/fp16/int8)
        enc, enc_lens = self.encoder(model_input(feats, self.encoder), feat_lens)
        with full_precision(enc.device):
            cif = self.predictor(enc.to(module_dtype(self.predictor)), enc_lens)
        pre_len = cif.token_num.round().long()
        logp = None
        if pre_len.numel() and int(pre_len.max()) >= 1:
            logits = self.decoder(
                model_input(enc, self.decoder), enc_lens, model_input(cif.acoustic_embeds, self.decoder), pre_len
            )
            logp = torch.log_softmax(logits.to(torch.promote_types(logits.dtype, torch.float32)), dim=-1)
        return ParaformerOutputs(
            enc, enc_lens, cif.alphas, cif.peaks, cif.token_num, pre_len, cif.acoustic_embeds, logp
        )

    def greedy(self, out: ParaformerOutputs) -> list[RecogResult]:
        """Per item: argmax ids over its ``pre_token_length`` positions, drop blank/sos/eos; score = sum of max log-probs.

        The argmax and max of the whole batch come to the host in one transfer.
        """
        return greedy_results(out.decoder_logp, out.pre_token_length.tolist(), (self.eos, self.sos, self.blank_id))

    @torch.no_grad()
    def recognize(
        self, feats: Tensor, feat_lens: Tensor, vad_offset_ms: float = 0.0, timestamps: bool = False
    ) -> list[RecogResult]:
        """Greedy recognition of a padded feature batch; one :class:`RecogResult` per item, in order.

        An item with no predicted token gets empty ids and score 0 (FunASR returns nothing at
        all for a batch in which no item has a token). With ``timestamps``, every item gets
        FunASR's CIF-peak timestamps (ms, + ``vad_offset_ms``; ``[]`` without tokens).
        """
        out = self.forward_outputs(feats, feat_lens)
        results = self.greedy(out)
        if timestamps:
            self.add_cif_peak_timestamps(out, results, vad_offset_ms)
        return results

    def add_cif_peak_timestamps(self, out: ParaformerOutputs, results: list[RecogResult], vad_offset_ms: float) -> None:
        """FunASR's plain-Paraformer timestamps from each item's alphas and fires, cut to its
        ``len + 1`` frames (``len`` without a tail weight): the frames a batch of one has."""
        tail = 1 if self.predictor.tail_threshold > 0.0 else 0
        alphas, peaks = out.alphas.cpu(), out.peaks.cpu()  # one transfer for the batch
        for i, (res, n) in enumerate(zip(results, out.encoder_out_lens.tolist())):
            res.timestamps = (
                cif_peak_timestamps(alphas[i, : n + tail], peaks[i, : n + tail], len(res.token_ids), vad_offset_ms)
                if res.token_ids
                else []
            )


class BiCifParaformer(Paraformer):
    """Paraformer with ``CifPredictorV3``: the same decoding plus per-token timestamps."""

    predictor: CifPredictorV3

    @torch.no_grad()
    def forward_outputs(self, feats: Tensor, feat_lens: Tensor) -> ParaformerOutputs:
        out = super().forward_outputs(feats, feat_lens)
        if out.decoder_logp is not None:  # FunASR stops before the timestamp head otherwise
            enc = out.encoder_out.to(module_dtype(self.predictor))
            with full_precision(enc.device):
                out.us_alphas = self.predictor.upsampled_alphas(enc, out.encoder_out_lens, out.pre_token_length)
            out.us_peaks = cif_peaks(out.us_alphas, self.predictor.threshold - 1e-4)
        return out

    @torch.no_grad()
    def recognize(
        self, feats: Tensor, feat_lens: Tensor, vad_offset_ms: float = 0.0, timestamps: bool = True
    ) -> list[RecogResult]:
        """As :meth:`Paraformer.recognize`, with ``timestamps`` (ms, + ``vad_offset_ms``) for every
        item whatever ``timestamps`` says (FunASR's BiCif always computes them)."""
        out = self.forward_outputs(feats, feat_lens)
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


def greedy_results(logp: Tensor | None, lens: list[int], drop: tuple[int, ...]) -> list[RecogResult]:
    """Per item: argmax ids over its first ``lens[i]`` positions of ``logp`` ``(B, N, V)`` (log-probs),
    ids in ``drop`` (eos/sos/blank) removed; score = sum of the max log-probs. ``logp`` ``None``: no
    item has a token. The argmax and max of the whole batch come to the host in one transfer.
    Shared by the torch model and the onnxruntime backend (``backends/onnx_paraformer.py``).
    """
    if logp is None:
        return [RecogResult([], 0.0) for _ in lens]
    best, ids = logp.max(dim=-1)
    best, ids = best.cpu(), ids.cpu()
    results = []
    for i, n in enumerate(lens):
        if n == 0:
            results.append(RecogResult([], 0.0))
            continue
        token_ids = [t for t in ids[i, :n].tolist() if t not in drop]
        results.append(RecogResult(token_ids, float(best[i, :n].sum(dim=-1))))
    return results


def add_bicif_timestamps(
    results: list[RecogResult],
    us_alphas: Tensor | None,
    us_peaks: Tensor | None,
    lens: list[int],
    upsample_times: int,
    vad_offset_ms: float = 0.0,
) -> None:
    """BiCif's timestamps (ms, + ``vad_offset_ms``) into ``results`` from the upsampled alphas and
    fires ``(B, T * upsample_times)``, each item cut to its ``lens[i] * upsample_times`` frames;
    ``[]`` for an item without tokens (or when the head did not run: ``us_alphas`` ``None``).
    Shared by the torch model and the onnxruntime backend."""
    if us_alphas is None or us_peaks is None:
        for res in results:
            res.timestamps = []
        return
    up = upsample_times
    us_alphas, us_peaks = us_alphas.cpu(), us_peaks.cpu()  # one transfer for the batch
    for i, (res, n) in enumerate(zip(results, lens)):
        if not res.token_ids:
            res.timestamps = []
            continue
        res.timestamps = token_timestamps(
            us_alphas[i, : n * up],
            us_peaks[i, : n * up],
            len(res.token_ids),
            vad_offset=vad_offset_ms,
            upsample_rate=up,
        )
