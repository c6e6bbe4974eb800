"""CIF predictors (``funasr/models/paraformer/cif_predictor.py`` V2, ``bicif_paraformer/cif_predictor.py`` V3).

Integrate-and-fire, inference side. Both predictors first zero the encoder output at padded
frames, so the alpha conv sees zeros past each item's end (as in a batch of one) and the tail
frame appended at ``len_b`` is zero; FunASR reads padded garbage there in a batch (trap 3).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from funasr_lite.models.paraformer.fire import fire_weights, host_alphas, integrate

__all__ = ["CifOutput", "CifPredictorV2", "CifPredictorV3", "cif_batched", "cif_loop", "cif_vectorized"]


@dataclass
class CifOutput:
    """``acoustic_embeds (B, N, D)``, ``token_num (B,)`` = floor(sum alphas incl. tail), ``alphas (B, T+1)``, ``peaks (B, T+1)``."""

    acoustic_embeds: Tensor
    token_num: Tensor
    alphas: Tensor
    peaks: Tensor


def cif_loop(hidden: Tensor, alphas: Tensor, threshold: float) -> tuple[Tensor, Tensor]:
    """FunASR's loop ``cif`` (used by CifPredictorV3): fired frames padded to ``max(round(sum alphas))``, and the fires."""
    b, t_len, d = hidden.shape
    integrate = alphas.new_zeros(b)
    frame = hidden.new_zeros(b, d)
    ones = torch.ones_like(integrate)
    fires, frames = [], []
    for t in range(t_len):
        alpha = alphas[:, t]
        completion = ones - integrate
        integrate = integrate + alpha
        fires.append(integrate)
        fire = integrate >= threshold
        integrate = torch.where(fire, integrate - ones, integrate)
        cur = torch.where(fire, completion, alpha)
        remainder = alpha - cur
        frame = frame + cur[:, None] * hidden[:, t, :]
        frames.append(frame)
        frame = torch.where(fire[:, None], remainder[:, None] * hidden[:, t, :], frame)
    fires_t = torch.stack(fires, 1) if fires else alphas.new_zeros(alphas.shape)
    frames_t = torch.stack(frames, 1) if frames else hidden.new_zeros(hidden.shape)
    max_len = int(torch.round(alphas.sum(-1)).max().item()) if b else 0
    out = hidden.new_zeros(b, max_len, d)
    for i in range(b):
        fired = frames_t[i, fires_t[i] >= threshold][:max_len]
        out[i, : fired.shape[0]] = fired
    return out, fires_t


def cif_batched(hidden: Tensor, alphas: Tensor, threshold: float) -> tuple[Tensor, Tensor]:
    """:func:`cif_loop`'s results without its per-frame loop of tensor ops.

    The running sum is walked on the host (``fire.integrate``: the same float32 operations, so
    the same fires); the fired embeddings are one batched matmul of the fire weights with
    ``hidden`` (they match the loop's up to float summation order). Differentiable in ``hidden``
    and ``alphas`` like the loop.
    """
    b, t_len, d = hidden.shape
    max_len = int(torch.round(alphas.sum(-1)).max().item()) if b else 0
    if b == 0 or t_len == 0:
        return hidden.new_zeros(b, max_len, d), alphas.new_zeros(alphas.shape)
    fires = integrate(host_alphas(alphas), threshold, 1.0)
    weights = fire_weights(alphas, fires, max_len)
    out = torch.bmm(weights.to(hidden.dtype), hidden)
    return out, torch.from_numpy(fires.after).to(alphas.device, alphas.dtype)


def cif_vectorized(hidden: Tensor, alphas: Tensor) -> tuple[Tensor, Tensor]:
    """FunASR's ``cif_v1`` (used by CifPredictorV2): fires where ``floor(cumsum alphas)`` steps up.

    The cumsum is taken in float64 and cast back to the alphas' dtype; each fired embedding is
    a difference of the running sum of ``alpha * h`` plus/minus the carried-over remainders.
    Returns embeddings padded to ``max(round(sum alphas))`` and ``fires = 1{fire} + frac(cumsum)``.
    """
    b, t_len, d = hidden.shape
    prefix = torch.cumsum(alphas, dim=1, dtype=torch.float64).to(alphas.dtype)
    prefix_floor = torch.floor(prefix)
    prev_floor = torch.floor(torch.roll(prefix, 1, dims=1))
    if t_len:
        prev_floor[:, 0] = 0
    fire_idxs = (prefix_floor - prev_floor) > 0
    fires = fire_idxs.to(alphas.dtype) + prefix - prefix_floor
    max_len = int(torch.round(alphas.sum(-1)).max().item()) if b else 0
    out = hidden.new_zeros(b, max_len, d)
    if not bool(fire_idxs.any()):
        return out, fires
    prefix_hidden = torch.cumsum(alphas.unsqueeze(-1) * hidden, dim=1)
    remains = (fires - torch.floor(fires)).unsqueeze(-1)
    # all fires of the batch in (item, time) order; each one's previous fire is the one before it
    # in this order unless it is its item's first (then zeros): FunASR's flattened roll-and-subtract
    item, _ = torch.nonzero(fire_idxs, as_tuple=True)
    acc = prefix_hidden[fire_idxs]
    rem = remains[fire_idxs] * hidden[fire_idxs]
    first = torch.ones_like(item, dtype=torch.bool)
    first[1:] = item[1:] != item[:-1]
    keep = (~first).unsqueeze(-1).to(acc.dtype)
    prev_acc = torch.roll(acc, 1, dims=0) * keep
    prev_rem = torch.roll(rem, 1, dims=0) * keep
    frames = acc - prev_acc + prev_rem - rem
    rank = torch.cumsum(fire_idxs.long(), dim=1)[fire_idxs] - 1  # k-th fire of its item
    take = rank < max_len
    out[item[take], rank[take]] = frames[take]
    return out, fires


def _item_sums(alphas: Tensor, ends: Tensor) -> Tensor:
    """``alphas[b, :ends[b]].sum()`` per item (the reduction a batch of one performs)."""
    if alphas.shape[0] == 0:
        return alphas.new_zeros(0)
    return torch.stack([alphas[i, :n].sum() for i, n in enumerate(ends.tolist())])  # one sync for the ends


class CifPredictorV2(nn.Module):
    """Alpha head ``sigmoid(cif_output(relu(cif_conv1d(pad(h)))))`` + tail + vectorized CIF.

    Parameters ``cif_conv1d`` (``idim, idim, l_order + r_order + 1``) and ``cif_output``.
    ``tail_threshold`` is added at each item's own end (``tail_mask`` in FunASR; with
    ``tail_mask: false`` FunASR puts it after the longest item, which only matters in a batch).
    """

    def __init__(
        self,
        idim: int,
        l_order: int = 1,
        r_order: int = 1,
        threshold: float = 1.0,
        smooth_factor: float = 1.0,
        noise_threshold: float = 0.0,
        tail_threshold: float = 0.0,
        tail_mask: bool = True,
    ) -> None:
        super().__init__()
        self.padding = (l_order, r_order)
        self.cif_conv1d = nn.Conv1d(idim, idim, l_order + r_order + 1)
        self.cif_output = nn.Linear(idim, 1)
        self.threshold = threshold
        self.smooth_factor = smooth_factor
        self.noise_threshold = noise_threshold
        self.tail_threshold = tail_threshold
        self.tail_mask = tail_mask

    def alpha_head(self, hidden: Tensor, mask: Tensor) -> Tensor:
        """Per-frame weights ``(B, T)``, zero at padded frames. ``hidden`` must be zero at padded frames."""
        out = torch.relu(self.cif_conv1d(F.pad(hidden.transpose(1, 2), self.padding)))
        alphas = torch.sigmoid(self.cif_output(out.transpose(1, 2)))
        alphas = torch.relu(alphas * self.smooth_factor - self.noise_threshold)
        return alphas.squeeze(-1) * mask.to(alphas.dtype)

    def add_tail(self, hidden: Tensor, alphas: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Append a zero frame and add ``tail_threshold`` at index ``len_b``; ``token_num = floor(sum)``.

        Each item's sum is taken over its own ``len_b + 1`` alphas, so it is the sum a batch of
        one computes. With ``tail_threshold <= 0`` nothing is appended and ``token_num`` is the
        plain (unfloored) sum, as in FunASR.
        """
        b, _, d = hidden.shape
        if self.tail_threshold <= 0.0:
            return hidden, alphas, _item_sums(alphas, lengths)
        hidden = torch.cat([hidden, hidden.new_zeros(b, 1, d)], dim=1)
        alphas = torch.cat([alphas, alphas.new_zeros(b, 1)], dim=1)
        alphas[torch.arange(b, device=alphas.device), lengths] += self.tail_threshold
        return hidden, alphas, torch.floor(_item_sums(alphas, lengths + 1))

    def forward(self, hidden: Tensor, lengths: Tensor) -> CifOutput:
        mask = torch.arange(hidden.shape[1], device=hidden.device).unsqueeze(0) < lengths.unsqueeze(1)
        hidden = hidden * mask.unsqueeze(-1).to(hidden.dtype)
        # Integrate in at least float32 (FunASR runs the predictor outside autocast): in
        # fp16/bf16 the running sums would lose whole fires. A no-op in fp32.
        acc = torch.promote_types(hidden.dtype, torch.float32)
        alphas = self.alpha_head(hidden, mask).to(acc)
        hidden, alphas, token_num = self.add_tail(hidden.to(acc), alphas, lengths)
        embeds, peaks = self.integrate(hidden, alphas)
        embeds = embeds.to(self.cif_output.weight.dtype)
        if self.tail_threshold > 0.0:  # FunASR truncates only on the tail path
            embeds = embeds[:, : int(token_num.max().item()) if token_num.numel() else 0]
        return CifOutput(embeds, token_num, alphas, peaks)

    def integrate(self, hidden: Tensor, alphas: Tensor) -> tuple[Tensor, Tensor]:
        """Fire: FunASR V2 uses the vectorized float64-cumsum CIF."""
        return cif_vectorized(hidden, alphas)


class CifPredictorV3(CifPredictorV2):
    """CifPredictorV2's alpha head with the loop CIF, plus the BiCif timestamp head.

    Timestamp head (``upsample_type: cnn_blstm``): ``upsample_cnn`` (ConvTranspose1d, kernel =
    stride = ``upsample_times``) on the raw encoder output (``use_cif1_cnn: false``) or on the
    alpha conv's output, ``blstm`` (bidirectional LSTM), ``cif_output2``; then
    ``relu(sigmoid(.) * smooth_factor2 - noise_threshold2)``, rescaled to sum to the token count.
    ``upsample_type: cnn`` (no BLSTM) is supported too.
    """

    def __init__(
        self,
        idim: int,
        l_order: int = 1,
        r_order: int = 1,
        threshold: float = 1.0,
        smooth_factor: float = 1.0,
        noise_threshold: float = 0.0,
        tail_threshold: float = 0.0,
        tail_mask: bool = True,
        smooth_factor2: float = 1.0,
        noise_threshold2: float = 0.0,
        upsample_times: int = 5,
        upsample_type: str = "cnn",
        use_cif1_cnn: bool = True,
    ) -> None:
        super().__init__(idim, l_order, r_order, threshold, smooth_factor, noise_threshold, tail_threshold, tail_mask)
        if upsample_type not in ("cnn", "cnn_blstm"):
            raise ValueError(f"unsupported upsample_type {upsample_type!r} (supported: cnn, cnn_blstm)")
        self.upsample_times = upsample_times
        self.upsample_type = upsample_type
        self.use_cif1_cnn = use_cif1_cnn
        self.smooth_factor2 = smooth_factor2
        self.noise_threshold2 = noise_threshold2
        self.upsample_cnn = nn.ConvTranspose1d(idim, idim, upsample_times, upsample_times)
        if upsample_type == "cnn_blstm":
            self.blstm = nn.LSTM(idim, idim, 1, bias=True, batch_first=True, dropout=0.0, bidirectional=True)
            self.cif_output2 = nn.Linear(idim * 2, 1)
        else:
            self.cif_output2 = nn.Linear(idim, 1)

    def integrate(self, hidden: Tensor, alphas: Tensor) -> tuple[Tensor, Tensor]:
        """Fire: FunASR V3 uses the sequential loop CIF (same fires here, batched: :func:`cif_batched`)."""
        return cif_batched(hidden, alphas, self.threshold)

    def raw_upsampled_alphas(self, hidden: Tensor, dtype: torch.dtype | None = None) -> Tensor:
        """The timestamp head on one item's valid frames ``(1, n, D)``: ``(1, n * upsample_times)``
        alphas ``relu(sigmoid(.) * smooth_factor2 - noise_threshold2)``, not yet rescaled.

        ``dtype``: the sigmoid output is cast to it before the affine + ReLU (inference keeps the
        alphas in at least float32). Shared with the training loss (``token_num2``).
        """
        h = hidden.transpose(1, 2)
        if self.use_cif1_cnn:
            h = torch.relu(self.cif_conv1d(F.pad(h, self.padding)))
        x = self.upsample_cnn(h).transpose(1, 2)
        if self.upsample_type == "cnn_blstm":
            x, _ = self.blstm(x)
        a = torch.sigmoid(self.cif_output2(x))
        if dtype is not None:
            a = a.to(dtype)
        return torch.relu(a * self.smooth_factor2 - self.noise_threshold2).squeeze(-1)

    def upsampled_alphas(self, hidden: Tensor, lengths: Tensor, token_num: Tensor) -> Tensor:
        """``us_alphas (B, T * upsample_times)``, zero past ``len_b * upsample_times``, each row summing to ``token_num[b]``.

        The convolutions run on the padded batch (``hidden`` is zero past each item's end, which
        is the zero padding a batch of one sees); the BLSTM runs on packed sequences, so its
        backward pass starts at each item's own end (FunASR runs it over the padding).
        """
        b, t_len, _ = hidden.shape
        up = self.upsample_times
        acc = torch.promote_types(hidden.dtype, torch.float32)
        lens = [int(n) for n in lengths.tolist()]
        out = hidden.new_zeros(b, t_len * up, dtype=acc)
        live = [i for i in range(b) if lens[i] > 0]
        if not live:
            return out
        h = hidden.transpose(1, 2)
        if self.use_cif1_cnn:
            h = torch.relu(self.cif_conv1d(F.pad(h, self.padding)))
        x = self.upsample_cnn(h).transpose(1, 2)
        if self.upsample_type == "cnn_blstm":
            x = self._blstm(x, live, [lens[i] * up for i in live])
        a = torch.sigmoid(self.cif_output2(x)).to(acc)
        a = torch.relu(a * self.smooth_factor2 - self.noise_threshold2).squeeze(-1)
        scale = token_num.to(device=a.device, dtype=acc)
        for i in live:
            n = lens[i] * up
            out[i, :n] = a[i, :n] * (scale[i] / a[i, :n].sum())
        return out

    def _blstm(self, x: Tensor, live: list[int], lens: list[int]) -> Tensor:
        """The BLSTM over each live item's own frames: packed sequences on CUDA (one cuDNN call);
        item by item elsewhere (CPU's packed LSTM is a Python-level loop over time steps)."""
        out = x.new_zeros(x.shape[0], x.shape[1], 2 * self.blstm.hidden_size)
        if not x.is_cuda:
            for i, n in zip(live, lens):
                out[i, :n] = self.blstm(x[i : i + 1, :n])[0][0]
            return out
        idx = torch.tensor(live, device=x.device)
        packed = nn.utils.rnn.pack_padded_sequence(x[idx], torch.tensor(lens), batch_first=True, enforce_sorted=False)
        y, _ = nn.utils.rnn.pad_packed_sequence(self.blstm(packed)[0], batch_first=True, total_length=x.shape[1])
        return out.index_copy(0, idx, y)
