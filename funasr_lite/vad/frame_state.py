"""Per-frame speech/silence decisions of FunASR's ``GetFrameState``, vectorized with numpy.

Frame t is speech when ``exp(log(1 - p)) >= exp(log(p) * speech_2_noise_ratio) + thres`` (``p``
= summed silence posteriors), its decibel is ``>= decibel_thres`` and its SNR against the running
noise average is ``>= snr_thres``. The noise average is an exponential average over the frames that
fail the probability test (and pass the dB test), so it does not depend on the SNR test and is
computed first. The dB/SNR arrays are only computed when the thresholds can matter.
"""

from __future__ import annotations

import math

import numpy as np

from funasr_lite.vad.options import VadOptions

# A frame's decibel is 10*log10(sum(x^2) + 1e-6) over 400 samples of [-1, 1]: within [-60, 26.03].
_MIN_DB = -61.0
_MIN_SNR = -90.0
_TIE = 1e-9


def frame_decibels(
    waveform: np.ndarray, num_frames: int, frame_len: int = 400, shift: int = 160, block: int = 8192
) -> np.ndarray:
    """FunASR's ``ComputeDecibel`` (float32 numpy, same ops), computed in blocks of frames."""
    wav = np.ascontiguousarray(waveform, dtype=np.float32)
    out = np.empty(num_frames, dtype=np.float32)
    idx = np.arange(frame_len)
    for a in range(0, num_frames, block):
        b = min(num_frames, a + block)
        frames = wav[(np.arange(a, b) * shift)[:, None] + idx]
        out[a:b] = 10 * np.log10(np.sum(np.square(frames), axis=1) + 0.000001)
    return out


def _prob_speech(sil_probs: np.ndarray, ratio: float, thres: float) -> np.ndarray:
    """``math.exp(speech_prob) >= math.exp(noise_prob) + thres`` per frame, in float64.

    Near-ties (|lhs - rhs| < 1e-9) are re-evaluated with ``math`` exactly as FunASR does.
    FunASR raises ``ValueError: math domain error`` when p is exactly 0 or 1; here log(0) = -inf.
    """
    p = sil_probs.astype(np.float64)
    with np.errstate(divide="ignore"):
        lhs = np.exp(np.log(1.0 - p))
        rhs = np.exp(np.log(p) * ratio) + thres
    speech = lhs >= rhs
    for t in np.flatnonzero(np.abs(lhs - rhs) < _TIE):
        pv = float(p[t])
        if 0.0 < pv < 1.0:
            speech[t] = math.exp(math.log(1.0 - pv)) >= math.exp(math.log(pv) * ratio) + thres
    return speech


def _noise_before(decibels: np.ndarray, updates: np.ndarray, n_avg: int) -> np.ndarray:
    """Noise average in force at each frame (before its own update), Python floats as FunASR."""
    avg = -100.0
    values = np.empty(len(updates), dtype=np.float64)
    db = decibels.tolist()
    for j, t in enumerate(updates.tolist()):
        d = db[t]
        avg = d if avg < -99.9 else (d + avg * (n_avg - 1)) / n_avg
        values[j] = avg
    before = np.full(len(decibels), -100.0)
    # frame t sees the average after the last update at a frame < t
    pos = np.searchsorted(updates, np.arange(len(decibels)), side="left") - 1
    has = pos >= 0
    before[has] = values[pos[has]]
    return before


def speech_flags(
    sil_probs: np.ndarray, opts: VadOptions, speech_noise_thres: float, decibels: np.ndarray | None = None
) -> np.ndarray:
    """Boolean speech flag per frame. ``decibels`` is needed only if ``needs_decibels(opts)``."""
    prob_ok = _prob_speech(sil_probs, float(opts.speech_2_noise_ratio), float(speech_noise_thres))
    if not needs_decibels(opts):
        return prob_ok
    if decibels is None:
        raise ValueError("decibels are needed for these decibel_thres / snr_thres values")
    db = decibels.astype(np.float64)
    loud = db >= opts.decibel_thres
    speech = prob_ok & loud
    if opts.snr_thres > _MIN_SNR:
        updates = np.flatnonzero(loud & ~prob_ok)
        noise = _noise_before(decibels, updates, int(opts.noise_frame_num_used_for_snr))
        speech &= (db - noise) >= opts.snr_thres
    return speech


def needs_decibels(opts: VadOptions) -> bool:
    """True when the dB or SNR test can reject a frame."""
    return opts.decibel_thres > _MIN_DB or opts.snr_thres > _MIN_SNR
