"""Diarization error rate with NIST md-eval semantics, scored on a 10 ms frame grid.

    DER = (missed speech + false alarm + speaker confusion) / total reference speech

- Times are put on a frame grid (``frame`` s, default 10 ms): a segment ``[s, e)`` covers frames
  ``round(s/frame) .. round(e/frame) - 1``.
- Collar (md-eval ``-c``): ``collar`` seconds on *each side* of every reference segment
  boundary (start and end of each speaker's turn) are not scored, for reference and hypothesis
  alike. md-eval ``-c 0.25`` = ``collar=0.25`` here = ``pyannote.metrics``'
  ``DiarizationErrorRate(collar=0.5)`` (pyannote gives the collar's *total* width).
- Overlap is scored (md-eval's default; its ``-1`` option, used in Kaldi's callhome recipe,
  would skip overlapped reference regions): per frame with ``R``
  reference and ``H`` hypothesis speakers, of which ``C`` are matched under the speaker
  mapping, missed = ``max(0, R - H)``, false alarm = ``max(0, H - R)``, confusion =
  ``min(R, H) - C``; the total is ``R``. A reference with no overlap has ``R <= 1``.
- Speaker mapping: optimal one-to-one between reference and hypothesis speakers maximising the
  matched scored time (Hungarian algorithm, ``scipy.optimize.linear_sum_assignment``), computed
  per recording on the scored frames. Unmapped hypothesis speakers count as confusion.
- Scored region (UEM): the given one, else from the earliest to the latest time of reference
  and hypothesis together (as md-eval and pyannote do without a UEM).
- Recordings: every reference recording is scored; a missing hypothesis scores as empty
  (all speech missed). Hypothesis-only recordings are reported and not scored.

Overall DER sums the components over recordings (a time-weighted average), it is not the mean
of per-recording DERs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from funasr_lite.diar.rttm import Turn

FRAME = 0.01
COLLAR = 0.25


@dataclass
class DerResult:
    """Scored seconds of one recording (or a total) and the DER derived from them."""

    total: float = 0.0
    missed: float = 0.0
    false_alarm: float = 0.0
    confusion: float = 0.0
    scored: float = 0.0  # scored time (UEM minus collars), seconds
    mapping: dict[str, str | None] | None = None  # reference speaker -> hypothesis speaker

    @property
    def der(self) -> float:
        """DER as a fraction; ``inf`` with errors but no reference speech, 0 with neither."""
        err = self.missed + self.false_alarm + self.confusion
        if self.total <= 0:
            return 0.0 if err <= 0 else math.inf
        return err / self.total

    def __add__(self, other: DerResult) -> DerResult:
        return DerResult(
            self.total + other.total,
            self.missed + other.missed,
            self.false_alarm + other.false_alarm,
            self.confusion + other.confusion,
            self.scored + other.scored,
        )

    def as_dict(self) -> dict:
        d = asdict(self)
        d["der"] = self.der
        if d["mapping"] is None:
            del d["mapping"]
        return d


# ------------------------------------------------------------------ scoring
def _to_frames(t: float, frame: float) -> int:
    return int(round(t / frame))


def _activity(turns: Sequence[Turn], n: int, frame: float) -> tuple[list[str], np.ndarray]:
    """Speaker names and a (num_speakers, n) bool activity matrix."""
    names = sorted({t[2] for t in turns})
    index = {s: i for i, s in enumerate(names)}
    act = np.zeros((len(names), n), dtype=bool)
    for s, e, spk in turns:
        a, b = max(0, _to_frames(s, frame)), min(n, _to_frames(e, frame))
        if b > a:
            act[index[spk], a:b] = True
    return names, act


def score_recording(
    ref: Sequence[Turn],
    hyp: Sequence[Turn],
    collar: float = COLLAR,
    frame: float = FRAME,
    uem: Sequence[tuple[float, float]] | None = None,
) -> DerResult:
    """DER components (seconds) of one recording; see the module docstring for the rules."""
    if collar < 0 or frame <= 0:
        raise ValueError(f"need collar >= 0 and frame > 0, got {collar}, {frame}")
    for s, e, spk in list(ref) + list(hyp):
        if not e >= s:
            raise ValueError(f"turn ends before it starts: {(s, e, spk)}")
    times = [t for turn in list(ref) + list(hyp) for t in turn[:2]]
    if uem is not None:
        times += [t for seg in uem for t in seg]
    if not times:
        return DerResult(mapping={})
    n = _to_frames(max(times), frame) + 1
    scored = np.zeros(n, dtype=bool)
    if uem is None:
        scored[max(0, _to_frames(min(times), frame)) : _to_frames(max(times), frame)] = True
    else:
        for s, e in uem:
            scored[max(0, _to_frames(s, frame)) : _to_frames(e, frame)] = True
    c = _to_frames(collar, frame)
    if c > 0:
        for s, e, _ in ref:
            for t in (_to_frames(s, frame), _to_frames(e, frame)):
                scored[max(0, t - c) : t + c] = False

    ref_names, r = _activity(ref, n, frame)
    hyp_names, h = _activity(hyp, n, frame)
    r &= scored
    h &= scored
    n_ref = r.sum(0)
    n_hyp = h.sum(0)
    mapping: dict[str, str | None] = {name: None for name in ref_names}
    correct = np.zeros(n, dtype=np.int64)
    if ref_names and hyp_names:
        overlap = r.astype(np.int64) @ h.T.astype(np.int64)
        rows, cols = linear_sum_assignment(overlap, maximize=True)
        for i, j in zip(rows, cols):
            if overlap[i, j] > 0:
                mapping[ref_names[i]] = hyp_names[j]
                correct += r[i] & h[j]
    return DerResult(
        total=float(n_ref.sum()) * frame,
        missed=float(np.maximum(0, n_ref - n_hyp).sum()) * frame,
        false_alarm=float(np.maximum(0, n_hyp - n_ref).sum()) * frame,
        confusion=float((np.minimum(n_ref, n_hyp) - correct).sum()) * frame,
        scored=float(scored.sum()) * frame,
        mapping=mapping,
    )


def score_all(
    ref: Mapping[str, Sequence[Turn]],
    hyp: Mapping[str, Sequence[Turn]],
    collar: float = COLLAR,
    frame: float = FRAME,
    uem: Mapping[str, Sequence[tuple[float, float]]] | None = None,
) -> tuple[dict[str, DerResult], DerResult, list[str], list[str]]:
    """Per-recording results (reference order, sorted), the overall total, recordings with no
    hypothesis (scored as empty) and hypothesis-only recordings (not scored)."""
    per: dict[str, DerResult] = {}
    missing = sorted(k for k in ref if k not in hyp)
    extra = sorted(k for k in hyp if k not in ref)
    total = DerResult()
    for rec in sorted(ref):
        res = score_recording(ref[rec], hyp.get(rec, []), collar, frame, (uem or {}).get(rec))
        per[rec] = res
        total = total + res
    return per, total, missing, extra


def format_report(
    per: Mapping[str, DerResult],
    total: DerResult,
    collar: float,
    missing: Sequence[str] = (),
    extra: Sequence[str] = (),
) -> str:
    """Human-readable report: one line per recording, then the overall line (percentages)."""
    head = f"{'recording':<24} {'DER%':>7} {'miss%':>7} {'fa%':>7} {'conf%':>7} {'ref_s':>9}"
    lines = [f"# DER, md-eval rules, collar {collar:g} s each side, overlap scored, 10 ms frames", head]

    def row(name: str, r: DerResult) -> str:
        pct = (lambda x: 100.0 * x / r.total) if r.total > 0 else (lambda x: 0.0)
        return (
            f"{name:<24} {100 * r.der:7.2f} {pct(r.missed):7.2f} {pct(r.false_alarm):7.2f} "
            f"{pct(r.confusion):7.2f} {r.total:9.2f}"
        )

    lines += [row(k, v) for k, v in per.items()]
    lines.append(row("OVERALL", total))
    lines.append(
        f"%DER {100 * total.der:.2f} [ {total.missed + total.false_alarm + total.confusion:.2f} / "
        f"{total.total:.2f} s, {total.missed:.2f} miss, {total.false_alarm:.2f} fa, "
        f"{total.confusion:.2f} conf ] {len(per)} recordings"
    )
    if missing:
        lines.append(f"# {len(missing)} recording(s) without hypothesis, scored as all missed: {' '.join(missing)}")
    if extra:
        lines.append(f"# {len(extra)} hypothesis-only recording(s), not scored: {' '.join(extra)}")
    return "\n".join(lines) + "\n"
