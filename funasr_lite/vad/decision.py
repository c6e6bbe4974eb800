"""FunASR's FSMN-VAD decision state machine (``FsmnVADStreaming``, offline ``generate()``), event-driven.

FunASR walks every frame through ``WindowDetector`` and a three-state machine. Between events
(window transitions, start/end points, forced cuts, chunk starts) nothing changes but counters,
so this walks from event to event: the window sums come from one prefix sum of the speech
flags, and "first frame where the sum crosses a threshold" is a binary search in precomputed
index arrays. The cost is O(frames) numpy + O(events · log frames) Python.

Rules reproduced (``model.py``), frames of 10 ms, ``w`` = window frames:
- window: ``sum`` of the last ``w`` flags since the last reset; Sil->Speech when ``sum >= a``,
  Speech->Sil when ``sum <= b``;
- start at ``max(data_buf_start, t - w - lookback)``; a segment is ``[start*10, (end+1)*10]`` ms;
- in speech: a forced cut at ``t - start + 1 > max_single_segment_time / 10`` (end = t); after
  Speech->Sil at ``s0``, an end-silence end at the first Sil2Sil frame with ``(t - s0)*10 >=
  rule``, end = ``t - max(0, rule/10 - lookahead/10 - 1)``; the last frame ends a segment;
- multi-utterance mode resets the window after an end; single mode stops after the first end or
  after ``max_start_silence_time`` of initial silence;
- offline ``generate()`` feeds ``chunk_size_ms`` chunks: with the dynamic schedule the end-silence
  rule is re-set at each chunk start from the speech accumulated over chunks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from funasr_lite.vad.options import VadOptions


@dataclass
class _Window:
    """Window sums since a reset frame ``r``, with first-crossing searches."""

    prefix: np.ndarray  # prefix[i] = number of speech flags in frames [0, i)
    full: np.ndarray  # window sum at frame t over [t-w+1, t] (frames before 0 count as 0)
    ge_idx: np.ndarray  # frames with full >= a, ascending
    le_idx: np.ndarray  # frames with full <= b, ascending
    w: int
    a: int
    b: int

    @classmethod
    def build(cls, flags: np.ndarray, w: int, a: int, b: int) -> _Window:
        prefix = np.zeros(len(flags) + 1, dtype=np.int64)
        np.cumsum(flags, out=prefix[1:])
        t = np.arange(len(flags))
        full = prefix[t + 1] - prefix[np.maximum(t - w + 1, 0)]
        return cls(prefix, full, np.flatnonzero(full >= a), np.flatnonzero(full <= b), w, a, b)

    def first(self, t0: int, stop: int, r: int, speech_to_sil: bool) -> int | None:
        """First frame in ``[t0, stop)`` whose window sum (reset at ``r``) crosses the threshold."""
        if t0 >= stop:
            return None
        part_end = min(r + self.w - 1, stop)  # frames whose window still reaches back before r
        if t0 < part_end:
            sums = self.prefix[t0 + 1 : part_end + 1] - self.prefix[r]
            hit = np.flatnonzero(sums <= self.b if speech_to_sil else sums >= self.a)
            if len(hit):
                return t0 + int(hit[0])
            t0 = part_end
        idx = self.le_idx if speech_to_sil else self.ge_idx
        k = int(np.searchsorted(idx, t0))
        if k < len(idx) and idx[k] < stop:
            return int(idx[k])
        return None


def chunk_frame_ends(
    num_samples: int, num_frames: int, chunk_samples: int, frame_len: int = 400, shift: int = 160, lfr_hold: int = 2
) -> list[int]:
    """Cumulative frames FunASR has scored after each chunk of its offline driver.

    ``WavFrontendOnline`` emits ``fbank_frames(samples so far) - lfr_hold`` frames after a
    non-final chunk (the LFR right context is held back) and everything after the final one.
    """
    n_chunks = num_samples // chunk_samples + 1
    ends = []
    for i in range(1, n_chunks):
        s = i * chunk_samples
        f = (s - frame_len) // shift + 1 if s >= frame_len else 0
        ends.append(max(0, min(num_frames, f - lfr_hold)))
    ends.append(num_frames)
    return ends


def _silence_frames_needed(rule_ms: float, frame_ms: int) -> int:
    """Smallest count >= 1 with ``count * frame_ms >= rule_ms``."""
    k = max(1, math.ceil(rule_ms / frame_ms))
    while k > 1 and (k - 1) * frame_ms >= rule_ms:
        k -= 1
    while k * frame_ms < rule_ms:
        k += 1
    return k


def _end_lookback(rule_ms: float, opts: VadOptions) -> int:
    """Frames between the end-silence decision frame and the segment end (FunASR's lookback_frame)."""
    back = int(rule_ms / opts.frame_in_ms)
    if opts.do_extend:
        back -= int(opts.lookahead_time_end_point / opts.frame_in_ms)
        back -= 1
        back = max(0, back)
    return back


def decide_segments(flags: np.ndarray, opts: VadOptions, chunk_ends: list[int]) -> list[list[int]]:
    """Segments ``[[start_ms, end_ms], ...]`` from per-frame speech ``flags`` (``opts`` resolved)."""
    n = len(flags)
    if n == 0:
        return []
    f_ms = opts.frame_in_ms
    w = int(opts.window_size_ms / f_ms)
    win = _Window.build(
        flags.astype(np.int8), w, int(opts.sil_to_speech_time_thres / f_ms), int(opts.speech_to_sil_time_thres / f_ms)
    )
    look = int(opts.lookahead_time_end_point / f_ms)
    latency = w + (int(opts.lookback_time_start_point / f_ms) if opts.do_extend else 0)
    max_seg = math.floor(opts.max_single_segment_time / f_ms)  # cut when t - start >= this
    multi = opts.detect_mode == 1
    last = n - 1
    dynamic = bool(opts.dynamic_silence)
    rule = opts.max_end_silence_time - opts.speech_to_sil_time_thres

    segments: list[list[int]] = []
    in_speech = False  # state machine: start point detected
    win_speech = False  # window pre-state
    r = 0  # window reset frame
    buf_start = 0  # data_buf_start_frame
    start = s0 = t_max = 0
    accumulated, acc_in_speech = 0.0, False
    t, c0 = 0, 0
    for c1 in chunk_ends:
        if c1 <= c0:
            continue
        if dynamic:
            if in_speech or acc_in_speech:
                accumulated += opts.chunk_size_ms
                acc_in_speech = True
            new_rule = opts.end_silence_threshold(accumulated)
            rule = rule if new_rule is None else new_rule
        k_sil = _silence_frames_needed(rule, f_ms)
        back = _end_lookback(rule, opts)
        ended_here = False
        t = c0
        while t < c1:
            end_at = end_frame = confirmed = None
            if not in_speech:
                ts = win.first(t, c1, r, False)
                if not multi:  # single utterance: give up after max_start_silence_time
                    timeout = math.floor(opts.max_start_silence_time / f_ms)  # (t+1)*10 > mst
                    if timeout < c1 and (ts is None or ts > timeout) and timeout >= t:
                        return segments
                if ts is None:
                    break
                start = max(buf_start, ts - latency)
                t_max = max(start + max_seg, ts + 1)  # no length check on the start frame itself
                in_speech, win_speech = True, True
                if ts == last:  # started on the last frame: output as it is
                    segments.append([start * f_ms, (ts + 1) * f_ms])
                    return segments
                t = ts + 1
                continue
            if win_speech:
                te = win.first(t, c1, r, True)
                lim = te if te is not None else c1 - 1
                cut = min(t_max, last)
                if t <= cut <= lim:
                    end_at, end_frame, confirmed = cut, cut, cut - 1
                elif te is None:
                    break
                else:
                    win_speech, s0 = False, te
                    t = te + 1
                    continue
            else:
                tsp = win.first(t, c1, r, False)
                lim = tsp if tsp is not None else c1 - 1
                tf = max(t, s0 + k_sil)
                cands = []
                if tf <= lim and (tsp is None or tf < tsp):
                    cands.append((tf, 0, tf - back, s0 + (min(look, tf - 1 - s0) if opts.do_extend else 0)))
                for x in (t_max, last):
                    if t <= x <= lim:
                        cands.append((x, 1, x, x - 1))
                if cands:
                    end_at, _, end_frame, confirmed = min(cands)
                elif tsp is None:
                    break
                else:
                    win_speech = True
                    t = tsp + 1
                    continue
            # segment end at frame end_at
            segments.append([start * f_ms, (end_frame + 1) * f_ms])
            ended_here = True
            if not multi:
                return segments
            in_speech = win_speech = False
            r = end_at + 1
            buf_start = max(confirmed + 1, end_frame) + 1  # FunASR's data_buf_start_frame
            t = end_at + 1
        if dynamic and ended_here:
            accumulated, acc_in_speech = 0.0, False
        c0 = c1
    return segments
