"""Paraformer and BiCif-Paraformer as one traceable graph, in FunASR's export layout.

FunASR 1.4.16 (``funasr/models/{paraformer,bicif_paraformer}/export_meta.py``): inputs
``speech (B, T, 560) float32`` and ``speech_lengths (B,) int32``; outputs ``logits`` (the
decoder's log-softmax, ``(B, N, V)``) and ``token_num`` (``(B,) int32``), plus for BiCif
``us_alphas`` and ``us_cif_peak`` (``(B, T * upsample_times)``, the timestamp head); file
``model.onnx`` (TorchScript: ``model.torchscript``); batch and time axes dynamic.

:class:`ParaformerExport` runs our own modules (``models/paraformer``) in FunASR's order; the
data-dependent steps (integrate-and-fire, the timestamp fires) are TorchScript functions, so the
traced graph keeps their loops. The CIF variants are FunASR's: the float64-cumsum CIF for plain
Paraformer (``cif_v1_export``), the sequential loop for BiCif (``cif_export``), the fire sums of
the timestamp head (``cif_wo_hidden_export``).

One deliberate difference: padding. FunASR's export reads the padded frames of shorter items
(alpha convolution, the BLSTM's backward pass), so an item's outputs depend on the batch it is
in. Here every step masks padding as the eager model does (``docs/compatibility.md``): a padded
item gets the outputs it gets alone, which for a batch of one (or items of equal length) are
FunASR's export's outputs.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from funasr_lite.errors import ModelError
from funasr_lite.export import common
from funasr_lite.modelio.model_dir import ModelDir
from funasr_lite.models.paraformer.cif import CifPredictorV3
from funasr_lite.models.paraformer.encoder import length_mask
from funasr_lite.models.paraformer.model import BiCifParaformer, Paraformer

INPUT_NAMES = ["speech", "speech_lengths"]
OUTPUT_NAMES = ["logits", "token_num"]
BICIF_OUTPUT_NAMES = OUTPUT_NAMES + ["us_alphas", "us_cif_peak"]
DYNAMIC_AXES = {
    "speech": {0: "batch_size", 1: "feats_length"},
    "speech_lengths": {0: "batch_size"},
    "logits": {0: "batch_size", 1: "logits_length"},
    "token_num": {0: "batch_size"},
}
BICIF_DYNAMIC_AXES = {
    **DYNAMIC_AXES,
    "us_alphas": {0: "batch_size", 1: "alphas_length"},
    "us_cif_peak": {0: "batch_size", 1: "alphas_length"},
}


@torch.jit.script
def cif_cumsum(hidden: Tensor, alphas: Tensor) -> tuple[Tensor, Tensor]:
    """Plain Paraformer's CIF: a token fires where ``floor(cumsum alphas)`` steps up.

    Returns the fired embeddings ``(B, max floor(sum alphas), D)`` (zero past an item's fires)
    and ``fires = 1{fire} + frac(cumsum)`` ``(B, T)``.
    """
    b, t_len, d = hidden.size()
    prefix = torch.cumsum(alphas, dim=1, dtype=torch.float64).to(torch.float32)
    prefix_floor = torch.floor(prefix)
    prev_floor = torch.floor(torch.roll(prefix, 1, dims=1))
    prev_floor[:, 0] = 0
    fired = (prefix_floor - prev_floor) > 0
    fires = fired.to(alphas.dtype) + prefix - prefix_floor
    max_len = torch.floor(alphas.sum(dim=-1)).max().to(torch.int64)
    out = torch.zeros(b, int(max_len), d, dtype=hidden.dtype, device=hidden.device)
    if int(fired.sum()) == 0:
        return out, fires
    prefix_hidden = torch.cumsum(alphas.unsqueeze(-1) * hidden, dim=1)
    acc = prefix_hidden[fired]
    rem = (fires - torch.floor(fires))[fired].unsqueeze(-1) * hidden[fired]
    # fires of the whole batch in (item, time) order; the previous fire is the one before it in
    # that order, except for an item's first fire (whose previous is nothing: zeros)
    counts = fired.sum(dim=1)
    starts = torch.cumsum(counts, dim=0) - counts
    first = torch.zeros(acc.size(0), dtype=torch.bool, device=hidden.device)
    first[starts[counts > 0]] = True
    keep = (~first).unsqueeze(-1).to(acc.dtype)
    frames = acc - torch.roll(acc, 1, dims=0) * keep + torch.roll(rem, 1, dims=0) * keep - rem
    rank = torch.cumsum(fired.to(torch.int64), dim=1)[fired] - 1
    slots = torch.arange(int(max_len), device=hidden.device).unsqueeze(0) < torch.clamp(counts, max=max_len).unsqueeze(
        1
    )
    out[slots] = frames[rank < max_len]
    return out, fires


@torch.jit.script
def cif_sequential(hidden: Tensor, alphas: Tensor, threshold: float) -> tuple[Tensor, Tensor]:
    """BiCif's CIF: the running sum frame by frame, minus 1 on each fire (FunASR's loop).

    Returns the fired embeddings ``(B, max fires, D)`` and the running sums after each frame.
    """
    b, t_len, d = hidden.size()
    acc = torch.zeros([b], dtype=alphas.dtype, device=alphas.device)
    frame = torch.zeros([b, d], dtype=hidden.dtype, device=hidden.device)
    sums: list[Tensor] = []
    frames: list[Tensor] = []
    for t in range(t_len):
        alpha = alphas[:, t]
        completion = 1.0 - acc
        acc = acc + alpha
        sums.append(acc)
        fire = acc >= threshold
        acc = torch.where(fire, acc - 1.0, acc)
        cur = torch.where(fire, completion, alpha)
        frame = frame + cur[:, None] * hidden[:, t, :]
        frames.append(frame)
        frame = torch.where(fire[:, None], (alpha - cur)[:, None] * hidden[:, t, :], frame)
    fires = torch.stack(sums, 1)
    fired = fires >= threshold
    counts = fired.sum(dim=1)
    max_len = int(counts.max())
    out = torch.zeros(b, max_len, d, dtype=hidden.dtype, device=hidden.device)
    slots = torch.arange(max_len, device=hidden.device).unsqueeze(0) < counts.unsqueeze(1)
    out[slots] = torch.stack(frames, 1)[fired]
    return out, fires


@torch.jit.script
def fire_sums(alphas: Tensor, threshold: float) -> Tensor:
    """The timestamp fires: running sum of ``alphas``, minus ``threshold`` where it reaches it."""
    b, t_len = alphas.size()
    acc = torch.zeros([b], dtype=alphas.dtype, device=alphas.device)
    sums: list[Tensor] = []
    for t in range(t_len):
        acc = acc + alphas[:, t]
        sums.append(acc)
        acc = torch.where(acc >= threshold, acc - threshold, acc)
    return torch.stack(sums, 1)


def _reverse_valid(x: Tensor, lengths: Tensor) -> Tensor:
    """Each item's first ``lengths[b]`` frames in reverse order (frames past them stay in place)."""
    t = torch.arange(x.shape[1], device=x.device).unsqueeze(0)
    idx = torch.where(t < lengths.unsqueeze(1), lengths.unsqueeze(1) - 1 - t, t)
    return torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, x.shape[2]))


class MaskedBiLSTM(nn.Module):
    """A one-layer bidirectional ``nn.LSTM`` whose backward pass starts at each item's own end.

    The two directions are unidirectional LSTMs with the BLSTM's weights; the backward one runs
    on each item's valid frames reversed, so padding never reaches a valid frame's output.
    """

    def __init__(self, blstm: nn.LSTM) -> None:
        super().__init__()
        if blstm.num_layers != 1 or not blstm.bidirectional or not blstm.batch_first:
            raise ModelError("blstm", "only a one-layer batch-first bidirectional LSTM is exportable")
        self.fwd = nn.LSTM(blstm.input_size, blstm.hidden_size, 1, bias=blstm.bias, batch_first=True)
        self.bwd = nn.LSTM(blstm.input_size, blstm.hidden_size, 1, bias=blstm.bias, batch_first=True)
        for name, param in blstm.named_parameters():
            target = self.bwd if name.endswith("_reverse") else self.fwd
            getattr(target, name.removesuffix("_reverse")).data.copy_(param.data)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        forward_out, _ = self.fwd(x)
        backward_out, _ = self.bwd(_reverse_valid(x, lengths))
        return torch.cat([forward_out, _reverse_valid(backward_out, lengths)], dim=-1)


class ParaformerExport(nn.Module):
    """``(speech, speech_lengths) -> logits, token_num [, us_alphas, us_cif_peak]`` (see the module doc)."""

    def __init__(self, model: Paraformer) -> None:
        super().__init__()
        if type(model) not in (Paraformer, BiCifParaformer):
            raise ModelError(type(model).__name__, "only Paraformer and BiCifParaformer are exportable")
        self.encoder = model.encoder
        self.predictor = model.predictor
        self.decoder = model.decoder
        self.bicif = isinstance(self.predictor, CifPredictorV3)
        self.blstm = (
            MaskedBiLSTM(self.predictor.blstm) if self.bicif and self.predictor.upsample_type == "cnn_blstm" else None
        )

    def feats_dim(self) -> int:
        return int(self.encoder.encoders0[0].norm1.normalized_shape[0])

    def dummy_inputs(self) -> tuple[Tensor, Tensor]:
        """FunASR's tracing inputs: a batch of 2, 30 frames, lengths 6 and 30."""
        return torch.randn(2, 30, self.feats_dim()), torch.tensor([6, 30], dtype=torch.int32)

    def output_names(self) -> list[str]:
        return BICIF_OUTPUT_NAMES if self.bicif else OUTPUT_NAMES

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        return BICIF_DYNAMIC_AXES if self.bicif else DYNAMIC_AXES

    def forward(self, speech: Tensor, speech_lengths: Tensor) -> tuple[Tensor, ...]:
        lengths = speech_lengths.to(torch.int64)
        enc, _ = self.encoder(speech, lengths)  # zero at padded frames
        t_len = enc.shape[1]
        mask = length_mask(lengths, t_len)
        pred = self.predictor
        alphas = pred.alpha_head(enc, mask)
        if pred.tail_threshold > 0.0:
            # a zero frame appended; tail_threshold added at each item's own end
            tail = (length_mask(lengths + 1, t_len + 1) & ~length_mask(lengths, t_len + 1)).to(alphas.dtype)
            hidden = torch.cat([enc, torch.zeros_like(enc[:, :1])], dim=1)
            alphas = torch.cat([alphas, torch.zeros_like(alphas[:, :1])], dim=1) + tail * pred.tail_threshold
            token_num = torch.floor(alphas.sum(dim=-1))
        else:
            hidden, token_num = enc, alphas.sum(dim=-1)
        if self.bicif:
            embeds, _ = cif_sequential(hidden, alphas, float(pred.threshold))
        else:
            embeds, _ = cif_cumsum(hidden, alphas)
        pre_len = torch.round(token_num).to(torch.int32)
        logits = self.decoder(enc, lengths, embeds, pre_len.to(torch.int64))
        logp = torch.log_softmax(logits, dim=-1)
        if not self.bicif:
            return logp, pre_len
        us_alphas = self.upsampled_alphas(enc, lengths, pre_len)
        return logp, pre_len, us_alphas, fire_sums(us_alphas, float(pred.threshold) - 1e-4)

    def upsampled_alphas(self, enc: Tensor, lengths: Tensor, pre_len: Tensor) -> Tensor:
        """BiCif's timestamp head: ``(B, T * up)`` alphas, zero past each item's end, summing to ``pre_len``."""
        pred = self.predictor
        up = pred.upsample_times
        h = enc.transpose(1, 2)
        if pred.use_cif1_cnn:
            h = torch.relu(pred.cif_conv1d(nn.functional.pad(h, pred.padding)))
        x = pred.upsample_cnn(h).transpose(1, 2)
        up_lens = lengths * up
        if self.blstm is not None:
            x = self.blstm(x, up_lens)
        a = torch.sigmoid(pred.cif_output2(x))
        a = torch.relu(a * pred.smooth_factor2 - pred.noise_threshold2).squeeze(-1)
        a = a * length_mask(up_lens, a.shape[1]).to(a.dtype)
        return a * (pre_len.to(a.dtype) / a.sum(dim=-1)).unsqueeze(1)


def export_paraformer(md: ModelDir, output_dir: Path, kind: str, quantize: bool) -> list[Path]:
    """Export a Paraformer / BiCif-Paraformer folder: ``model.onnx`` [+ ``model_quant.onnx``] or
    ``model.torchscript``, with ``config.yaml``, ``am.mvn`` and ``tokens.json``. Returns the files written."""
    from funasr_lite.models.paraformer.build import load_paraformer

    model, _, _ = load_paraformer(md.path, device="cpu")
    wrapper = ParaformerExport(model.float()).eval()
    written = common.export_graph(
        wrapper, output_dir, kind, quantize, INPUT_NAMES, wrapper.output_names(), wrapper.dynamic_axes()
    )
    return written + common.write_side_files(md, output_dir)
