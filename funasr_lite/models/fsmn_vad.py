"""FSMN-VAD (FunASR ``FsmnVADStreaming`` + ``FSMN`` encoder) with FunASR's parameter names.

The network is causal (each FSMN memory sees 19 past frames), so scoring a file in FunASR's
offline chunks with a carried cache equals one pass over the file; the chunks are kept because
they give FunASR's exact GEMM shapes (bit-identical scores) and bound memory on long files.
``FsmnVAD.segments`` returns what FunASR's ``AutoModel(...).generate(input=wave)[0]["value"]`` does.
The waveform is at the model's rate, ``frontend_conf.fs`` (16 kHz for the common model, 8 kHz for
``speech_fsmn_vad_zh-cn-8k-common``): frame, shift and chunk sizes in samples follow it, as in FunASR.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from funasr_lite.errors import InputError, ModelError
from funasr_lite.frontend.wav_frontend import WavFrontend
from funasr_lite.modelio import load_state_dict_strict, open_model_dir
from funasr_lite.vad.decision import chunk_frame_ends, decide_segments
from funasr_lite.vad.frame_state import frame_decibels, needs_decibels, speech_flags
from funasr_lite.vad.options import VadOptions


class _Linear(nn.Module):
    """FunASR's ``AffineTransform`` / ``LinearTransform``: a wrapped ``nn.Linear`` (key ``.linear``)."""

    def __init__(self, d_in: int, d_out: int, bias: bool = True) -> None:
        super().__init__()
        self.linear = nn.Linear(d_in, d_out, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x)


class FsmnMemory(nn.Module):
    """Causal depthwise memory ``x + conv_left([lorder-1 past frames, x])`` (``FSMNBlock``).

    Works in time-major (B, T, D) layout: ``history`` is a (B, context + T, D) buffer holding the
    cached frames followed by ``x``; viewed as (B, D, context + T, 1) it is a channels-last NCHW
    tensor, so the depthwise conv reads it and writes (B, T, D) with no permute copies. Bit-identical
    to FunASR's NCHW path (same mkldnn depthwise kernel sums), checked over the VAD fixtures.
    """

    def __init__(self, dim: int, lorder: int, lstride: int) -> None:
        super().__init__()
        self.context = (lorder - 1) * lstride
        self.conv_left = nn.Conv2d(dim, dim, [lorder, 1], dilation=[lstride, 1], groups=dim, bias=False)

    def history(self, x_shape: tuple[int, int, int], cache: Tensor | None, like: Tensor) -> Tensor:
        """Empty (B, context + T, D) buffer with the cached frames (or zeros) already in its head."""
        b, t, d = x_shape
        y = like.new_empty(b, self.context + t, d)
        if cache is None:
            y[:, : self.context].zero_()
        else:
            y[:, : self.context].copy_(cache.squeeze(3).transpose(1, 2))
        return y

    def memory(self, y: Tensor) -> tuple[Tensor, Tensor]:
        """``y`` from ``history`` with x written after the cache -> (out (B, T, D), new cache (B, D, context, 1))."""
        b, length, d = y.shape
        t = length - self.context
        conv = self.conv_left(y.view(b, length, 1, d).permute(0, 3, 1, 2))  # (B, D, T, 1) channels-last
        out = conv.permute(0, 2, 3, 1).reshape(b, t, d)  # a view when channels-last
        out += y[:, self.context :]  # x + conv (addition commutes exactly)
        new_cache = y[:, t:].transpose(1, 2).unsqueeze(3).clone()
        return out, new_cache

    def forward(self, x: Tensor, cache: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``x`` (B, T, D); ``cache`` (B, D, context, 1) of past frames or ``None`` (zeros)."""
        y = self.history(tuple(x.shape), cache, x)
        y[:, self.context :] = x
        return self.memory(y)


class FsmnBlock(nn.Module):
    """``BasicBlock``: linear (no bias) -> FSMN memory -> affine -> ReLU."""

    def __init__(self, linear_dim: int, proj_dim: int, lorder: int, lstride: int) -> None:
        super().__init__()
        self.linear = _Linear(linear_dim, proj_dim, bias=False)
        self.fsmn_block = FsmnMemory(proj_dim, lorder, lstride)
        self.affine = _Linear(proj_dim, linear_dim)

    def forward(self, x: Tensor, cache: Tensor | None = None) -> tuple[Tensor, Tensor]:
        mem = self.fsmn_block
        w = self.linear.linear.weight
        y = mem.history((x.shape[0], x.shape[1], w.shape[0]), cache, x)
        if x.shape[0] == 1:  # self.linear(x) is this same mm; write it straight into the buffer
            torch.mm(x[0], w.t(), out=y[0, mem.context :])
        else:
            y[:, mem.context :] = self.linear(x)
        h, cache = mem.memory(y)
        return torch.relu_(self.affine(h)), cache


class FSMN(nn.Module):
    """FunASR's ``FSMN`` encoder: (B, T, 400) features -> (B, T, 248) softmax posteriors."""

    def __init__(
        self,
        input_dim: int = 400,
        input_affine_dim: int = 140,
        fsmn_layers: int = 4,
        linear_dim: int = 250,
        proj_dim: int = 128,
        lorder: int = 20,
        rorder: int = 0,
        lstride: int = 1,
        rstride: int = 0,
        output_affine_dim: int = 140,
        output_dim: int = 248,
        use_softmax: bool = True,
    ) -> None:
        super().__init__()
        if rorder:
            raise ValueError(f"rorder={rorder}: only causal FSMN (rorder 0) is supported")
        self.in_linear1 = _Linear(input_dim, input_affine_dim)
        self.in_linear2 = _Linear(input_affine_dim, linear_dim)
        self.fsmn = nn.ModuleList(FsmnBlock(linear_dim, proj_dim, lorder, lstride) for _ in range(fsmn_layers))
        self.out_linear1 = _Linear(linear_dim, output_affine_dim)
        self.out_linear2 = _Linear(output_affine_dim, output_dim)
        self.use_softmax = use_softmax

    def forward(self, x: Tensor, cache: list[Tensor] | None = None) -> tuple[Tensor, list[Tensor]]:
        """Posteriors and the new per-layer caches (pass them back for the next chunk)."""
        h = torch.relu_(self.in_linear2(self.in_linear1(x)))
        new_cache = []
        for i, block in enumerate(self.fsmn):
            h, c = block(h, None if cache is None else cache[i])
            new_cache.append(c)
        out = self.out_linear2(self.out_linear1(h))
        return (torch.softmax(out, dim=-1) if self.use_softmax else out), new_cache


@dataclass
class VadScores:
    """Network output for one waveform: silence posteriors and FunASR's chunk frame boundaries."""

    sil_probs: np.ndarray  # (T, len(sil_pdf_ids)) float32 columns of the softmax output
    chunk_ends: list[int]  # cumulative frames scored after each offline chunk
    sil_pdf_ids: tuple[int, ...]


class FsmnVAD(nn.Module):
    """FSMN-VAD: ``encoder`` (FSMN), ``frontend`` (fbank + LFR 5/1 + CMVN) and default ``options``."""

    def __init__(self, encoder_conf: dict[str, Any], frontend: WavFrontend, options: VadOptions) -> None:
        super().__init__()
        if frontend.lfr_n != 1:
            raise ValueError(f"FSMN-VAD needs lfr_n 1, got {frontend.lfr_n}")
        self.encoder = FSMN(**encoder_conf)
        self.frontend = frontend
        self.options = options
        # WavFrontendOnline's frame_sample_length / frame_shift_sample_length (400 / 160 at 16 kHz)
        self.frame_len = int(frontend.frame_length * frontend.fs / 1000)
        self.shift = int(frontend.fbank_opts.frame_shift_ms * frontend.fs / 1000)

    @property
    def sample_rate(self) -> int:
        """The rate the waveform must have: the frontend's ``fs``."""
        return int(self.frontend.fs)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @torch.no_grad()
    def frame_scores(
        self, waveform: np.ndarray, chunk_size_ms: int = 60000, sil_pdf_ids: tuple[int, ...] = (0,)
    ) -> VadScores:
        """Score every 10 ms frame as FunASR's offline driver does (``chunk_size_ms`` chunks + cache)."""
        wav = _as_waveform(waveform)
        n = len(wav)
        frame_len, shift = self.frame_len, self.shift
        total = (n - frame_len) // shift + 1 if n >= frame_len else 0
        cols = list(sil_pdf_ids)
        if total == 0:
            return VadScores(np.zeros((0, len(cols)), np.float32), [0], tuple(cols))
        hold = (self.frontend.lfr_m - 1) // 2
        chunk_samples = int(chunk_size_ms * self.sample_rate / 1000)  # FunASR's chunk_stride_samples
        ends = chunk_frame_ends(n, total, chunk_samples, frame_len, shift, hold)
        fbank = self._fbank(torch.from_numpy(wav), n, chunk_samples, total)
        out = np.empty((total, len(cols)), dtype=np.float32)
        cache = None
        a = 0
        for b in ends:
            if b <= a:
                continue
            feats = self._lfr_cmvn(fbank, a, b).to(self.device)
            probs, cache = self.encoder(feats.unsqueeze(0), cache)
            out[a:b] = probs[0][:, cols].cpu().numpy()
            a = b
        return VadScores(out, ends, tuple(cols))

    def _fbank(self, wav: Tensor, n: int, chunk_samples: int, total: int) -> Tensor:
        """Scaled fbank (T, 80), computed per FunASR chunk (same frames, same batch shapes).

        Written into one preallocated tensor: on hours of audio a list + ``cat`` would hold the
        features twice.
        """
        fb = torch.empty(total, self.frontend.fbank_opts.num_mel_bins, dtype=wav.dtype)
        f0 = 0
        for end in list(range(chunk_samples, n, chunk_samples)) + [n]:
            f1 = (end - self.frame_len) // self.shift + 1 if end >= self.frame_len else 0
            if f1 > f0:
                seg = wav[f0 * self.shift : (f1 - 1) * self.shift + self.frame_len]
                feats, _ = self.frontend.compute_fbank(seg.unsqueeze(0))
                fb[f0:f1] = feats[0]
                f0 = f1
        assert f0 == total
        return fb

    def _lfr_cmvn(self, fbank: Tensor, a: int, b: int) -> Tensor:
        """LFR (lfr_m frames centred on t, edges repeated) + CMVN for frames [a, b), contiguous (T, m*D).

        LFR row t is the m frames t-left..t+right back to back, i.e. a (T, m*D) window with row stride
        D over the frames; CMVN is elementwise ``(x + shift) * scale``, so when its stats repeat every
        D columns (FunASR's VAD am.mvn does) it is applied to the m-1+T frames before stacking.
        """
        m = self.frontend.lfr_m
        left = (m - 1) // 2
        n, d = fbank.shape
        lo, hi = a - left, b + m - 1 - left  # frames feeding rows [a, b)
        if lo >= 0 and hi <= n:
            rows = fbank[lo:hi]
        else:  # a chunk at the file's edge: repeat the first/last frame
            rows = fbank[torch.arange(lo, hi).clamp_(0, n - 1)]
        rows = rows.contiguous()
        cmvn = self.frontend.cmvn
        shift = scale = None
        if cmvn is not None:
            shift = cmvn.shift[: m * d].to(rows.dtype)
            scale = cmvn.scale[: m * d].to(rows.dtype)
            if _repeats(shift, d) and _repeats(scale, d):
                rows = (rows + shift[:d]).mul_(scale[:d])
                shift = None
        x = rows.as_strided((b - a, m * d), (d, 1))
        if shift is not None:
            return (x + shift).mul_(scale)
        return x.contiguous()

    def segments_from_scores(
        self, scores: VadScores, waveform: np.ndarray, options: VadOptions | None = None, **overrides: Any
    ) -> list[list[int]]:
        """Decisions only (see ``segments``), reusing ``frame_scores`` output."""
        opts = (options or self.options).resolve_call(overrides)
        return self._decide(scores, _as_waveform(waveform), opts)

    def _decide(self, scores: VadScores, wav: np.ndarray, opts: VadOptions) -> list[list[int]]:
        if tuple(opts.sil_pdf_ids) != scores.sil_pdf_ids:
            raise ValueError(f"scores hold columns {scores.sil_pdf_ids}, options want {opts.sil_pdf_ids}")
        n_frames = scores.sil_probs.shape[0]
        if n_frames == 0:
            return []
        p = 0.0
        for j in range(scores.sil_probs.shape[1]):  # Python's sum() order, in float64
            p = p + scores.sil_probs[:, j].astype(np.float64)
        thres = opts.speech_noise_thres
        if opts.dynamic_silence and opts.dynamic_speech_noise_thres is not None:
            thres = opts.dynamic_speech_noise_thres
        db = frame_decibels(wav, n_frames, self.frame_len, self.shift) if needs_decibels(opts) else None
        flags = speech_flags(np.asarray(p), opts, thres, db)
        return decide_segments(flags, opts, scores.chunk_ends)

    def segments(self, waveform: np.ndarray, options: VadOptions | None = None, **overrides: Any) -> list[list[int]]:
        """``[[start_ms, end_ms], ...]`` for a float waveform in [-1, 1] at ``sample_rate``, as FunASR's ``generate``.

        ``options`` replaces the model's configured options; ``overrides`` are call-time options
        (any ``VadOptions`` field, all honoured; unknown names raise ``TypeError``). Audio shorter
        than one 25 ms frame gives ``[]`` (FunASR raises ``ZeroDivisionError`` there).
        """
        opts = (options or self.options).resolve_call(overrides)
        wav = _as_waveform(waveform)
        scores = self.frame_scores(wav, opts.chunk_size_ms, opts.sil_pdf_ids)
        return self._decide(scores, wav, opts)


def _repeats(v: Tensor, d: int) -> bool:
    """Whether ``v`` is one length-``d`` block repeated."""
    return bool((v.view(-1, d) == v[:d]).all())


def _as_waveform(waveform: Any) -> np.ndarray:
    if isinstance(waveform, Tensor):
        waveform = waveform.detach().cpu().numpy()
    wav = np.asarray(waveform)
    if wav.ndim != 1:
        raise InputError("waveform", f"expected a 1-D waveform, got shape {wav.shape}")
    if not np.issubdtype(wav.dtype, np.floating):
        raise InputError("waveform", f"expected float samples in [-1, 1], got dtype {wav.dtype}")
    return np.ascontiguousarray(wav, dtype=np.float32)


def load_fsmn_vad(model_dir: str | Path, device: str | torch.device = "cpu") -> FsmnVAD:
    """Build ``FsmnVAD`` from a FunASR model folder and load its checkpoint strictly."""
    md = open_model_dir(model_dir)
    if md.model_class != "FsmnVAD":
        raise ModelError(md.path, f"expected an FSMN-VAD model folder, found {md.model_class}")
    conf = md.config
    fe_conf = dict(conf.get("frontend_conf") or {})
    fe_conf.pop("cmvn_file", None)
    fe_conf.setdefault("lfr_m", 5)
    fe_conf.setdefault("lfr_n", 1)
    try:
        frontend = WavFrontend.from_config(fe_conf, cmvn_file=md.cmvn_file)
        model = FsmnVAD(dict(conf.get("encoder_conf") or {}), frontend, VadOptions.from_config(conf.get("model_conf")))
    except (TypeError, ValueError) as e:
        raise ModelError(md.path, f"bad FSMN-VAD config: {e}") from e
    if (
        model.options.sample_rate != model.sample_rate
    ):  # FunASR: "VAD score frames and waveform samples are not aligned"
        raise ModelError(
            md.path,
            f"bad FSMN-VAD config: model_conf.sample_rate {model.options.sample_rate} "
            f"differs from frontend_conf.fs {model.sample_rate}",
        )
    load_state_dict_strict(model, md.state_dict(), md.checkpoint)
    return model.to(device).eval()
