"""Character timestamps from CIF weights: FunASR's ``ts_prediction_lfr6_standard``.

(``funasr/utils/timestamp_tools.py``.) Frames are ``10 ms * 6 / upsample_rate`` (20 ms for
BiCif's upsampled alphas, 60 ms for plain Paraformer). CIF2 fires at a token's start: token ``i``
spans fire ``i`` to fire ``i+1``, all fire places shifted by ``force_time_shift`` frames (-1.5).
A gap over 12 frames is cut to 12 and the rest is silence; leading/trailing silence over 5
frames is split off. Times are truncated (``int``) to milliseconds.

BiCif (:func:`token_timestamps`) passes its upsampled alphas and their peaks. Plain Paraformer
(:func:`cif_peak_timestamps`, FunASR's ``Paraformer.inference`` with ``pred_timestamp`` /
``output_timestamp``, forced by a speaker model) passes CifPredictorV2's fires **as the alphas**
and its alphas **as the peaks**; the function is reproduced with that argument order.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

# cif_peaks_reference: re-exported for the tests that compare the two
from funasr_lite.models.paraformer.fire import cif_peaks, cif_peaks_reference  # noqa: F401

START_END_THRESHOLD = 5  # upsampled frames (100 ms at 20 ms)
MAX_TOKEN_DURATION = 12  # upsampled frames (240 ms)
PEAK_THRESHOLD = 1.0 - 1e-4
FORCE_TIME_SHIFT = -1.5


def _fire_places(peaks: Tensor, shift: float) -> list[float]:
    idx = torch.where(peaks >= PEAK_THRESHOLD)[0].cpu().tolist()
    return [float(i) + shift for i in idx]


def timestamp_spans(
    us_alphas: Tensor,
    us_peaks: Tensor,
    num_tokens: int,
    vad_offset: float = 0.0,
    force_time_shift: float = FORCE_TIME_SHIFT,
    upsample_rate: int = 3,
) -> tuple[list[bool], list[list[float]]]:
    """FunASR's span list in seconds with a silence flag per span (``<sil>`` entries included).

    ``us_alphas``/``us_peaks`` are one item's 1-D upsampled alphas and peaks, cut to its length.
    If the number of peaks is not ``num_tokens + 1``, the alphas are rescaled to sum to
    ``num_tokens + 1`` and the peaks recomputed (on a copy: FunASR rescales its input in place).
    """
    if num_tokens == 0:
        return [], []
    time_rate = 10.0 * 6 / 1000 / upsample_rate
    alphas, peaks = us_alphas, us_peaks
    fire_place = _fire_places(peaks, force_time_shift)
    if len(fire_place) != num_tokens + 1:
        alphas = alphas / (alphas.sum() / (num_tokens + 1))
        peaks = cif_peaks(alphas.unsqueeze(0), PEAK_THRESHOLD)[0]
        fire_place = _fire_places(peaks, force_time_shift)
    num_frames = peaks.shape[0]
    if not fire_place:  # FunASR raises IndexError here (all-zero or NaN alphas)
        return [False] * num_tokens, [[0.0, num_frames * time_rate] for _ in range(num_tokens)]
    is_sil: list[bool] = []
    spans: list[list[float]] = []
    if fire_place[0] > START_END_THRESHOLD:
        spans.append([0.0, fire_place[0] * time_rate])
        is_sil.append(True)
    for i in range(len(fire_place) - 1):
        if i >= num_tokens:  # FunASR raises IndexError here (more peaks than tokens + 1)
            break
        is_sil.append(False)
        if MAX_TOKEN_DURATION < 0 or fire_place[i + 1] - fire_place[i] <= MAX_TOKEN_DURATION:
            spans.append([fire_place[i] * time_rate, fire_place[i + 1] * time_rate])
        else:
            split = fire_place[i] + MAX_TOKEN_DURATION
            spans.append([fire_place[i] * time_rate, split * time_rate])
            spans.append([split * time_rate, fire_place[i + 1] * time_rate])
            is_sil.append(True)
    if num_frames - fire_place[-1] > START_END_THRESHOLD:
        end = (num_frames + fire_place[-1]) * 0.5
        if spans:  # FunASR raises IndexError when there is no span yet
            spans[-1][1] = end * time_rate
        spans.append([end * time_rate, num_frames * time_rate])
        is_sil.append(True)
    elif spans:
        spans[-1][1] = num_frames * time_rate
    if vad_offset:
        for span in spans:
            span[0] = span[0] + vad_offset / 1000.0
            span[1] = span[1] + vad_offset / 1000.0
    return is_sil, spans


def token_timestamps(
    us_alphas: Tensor,
    us_peaks: Tensor,
    num_tokens: int,
    vad_offset: float = 0.0,
    force_time_shift: float = FORCE_TIME_SHIFT,
    upsample_rate: int = 3,
) -> list[list[int]]:
    """``[[start_ms, end_ms], ...]``, one per non-silence span (normally one per token), ``int``-truncated."""
    is_sil, spans = timestamp_spans(us_alphas, us_peaks, num_tokens, vad_offset, force_time_shift, upsample_rate)
    return [[int(s * 1000), int(e * 1000)] for sil, (s, e) in zip(is_sil, spans) if not sil]


def ts_prediction_lfr6_standard(
    us_alphas: Tensor,
    us_peaks: Tensor,
    char_list: Sequence[str],
    vad_offset: float = 0.0,
    force_time_shift: float = FORCE_TIME_SHIFT,
    sil_in_str: bool = True,
    upsample_rate: int = 3,
) -> tuple[str, list[list[int]]]:
    """FunASR's function with its signature: ``("tok start end;..." string, [[start_ms, end_ms], ...])``.

    A trailing ``</s>`` in ``char_list`` is dropped. 2-D inputs use row 0, as FunASR does.
    """
    if not len(char_list):
        return "", []
    if us_alphas.dim() == 2:
        us_alphas, us_peaks = us_alphas[0], us_peaks[0]
    chars = list(char_list)
    if chars[-1] == "</s>":
        chars = chars[:-1]
    is_sil, spans = timestamp_spans(us_alphas, us_peaks, len(chars), vad_offset, force_time_shift, upsample_rate)
    names: list[str] = []
    k = 0
    for sil in is_sil:
        names.append("<sil>" if sil else chars[k])
        k += 0 if sil else 1
    text = "".join(
        f"{name} {str(s + 0.0005)[:5]} {str(e + 0.0005)[:5]};"
        for name, (s, e) in zip(names, spans)
        if sil_in_str or name != "<sil>"
    )
    return text, [[int(s * 1000), int(e * 1000)] for sil, (s, e) in zip(is_sil, spans) if not sil]


def cif_peak_timestamps(alphas: Tensor, peaks: Tensor, num_tokens: int, vad_offset: float = 0.0) -> list[list[int]]:
    """Plain Paraformer's ``[[start_ms, end_ms], ...]`` from one item's CifPredictorV2 outputs.

    ``alphas`` (with the tail weight) and ``peaks`` (``cif_v1``'s fires, ``1{fire} + frac(cumsum)``)
    are 1-D and cut to ``len + 1`` frames (``len`` without a tail weight), as FunASR cuts them
    when ``tail_mask`` is on. FunASR calls ``ts_prediction_lfr6_standard(peaks, alphas, tokens,
    upsample_rate=1)``: the fires take the alphas' place and the alphas the peaks' place. Fire
    places are where ``alphas >= 1 - 1e-4`` (a sigmoid weight that high is rare), so normally the
    token count does not match and the fires are rescaled to sum to ``num_tokens + 1`` and
    integrated again (``cif_wo_hidden``, threshold ``1 - 1e-4``); frames are 60 ms.
    """
    return token_timestamps(peaks, alphas, num_tokens, vad_offset=vad_offset, upsample_rate=1)
