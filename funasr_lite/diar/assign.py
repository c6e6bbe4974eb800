"""Speaker labels for sentences and characters from speaker turns.

- :func:`distribute_spk` is FunASR 1.4.16's ``campplus/utils.distribute_spk`` (one label per
  sentence): the turn with the largest overlap wins, ties go to the earlier turn, default 0. Its
  quirk is kept: whenever a turn of the currently chosen speaker overlaps (including the turn that
  just became the maximum), its overlap is *added* to the running maximum, so a later turn of
  another speaker has to beat the sum (e.g. twice the first overlap).
- :func:`char_speakers`: one label per character/word timestamp — the turn with the largest
  overlap (ties: earlier turn), or, without any overlap, the nearest turn (ties: earlier turn).
- :func:`split_sentences_at_speaker_change`: a sentence whose characters belong to more than one
  speaker is cut into pieces at the changes (FunASR keeps one label per sentence).

Sentences are FunASR ``sentence_info`` dicts (``start``/``end`` and ``timestamp`` in ms); turns are
``(start_s, end_s, spk)`` from :func:`funasr_lite.diar.postprocess.labels_to_turns`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np

Turn = tuple[float, float, int]
_UNIT = re.compile(r"<[^<>\s]+>|[A-Za-z][A-Za-z'\-]*|\S")


def sentence_speaker(start_ms: float, end_ms: float, turns: Sequence[Turn]) -> int:
    """FunASR's label for one sentence (largest overlap with the accumulation quirk; default 0)."""
    spk_best, max_overlap = 0, 0
    for st, ed, spk in turns:
        overlap = max(min(end_ms, ed * 1000) - max(start_ms, st * 1000), 0)
        if overlap > max_overlap:
            max_overlap = overlap
            spk_best = spk
        if overlap > 0 and spk_best == spk:
            max_overlap += overlap
    return int(spk_best)


def distribute_spk(sentences: list[dict[str, Any]], turns: Sequence[Turn]) -> list[dict[str, Any]]:
    """Set ``spk`` on every sentence dict in place, as FunASR; returns the same list."""
    for d in sentences:
        d["spk"] = sentence_speaker(d["start"], d["end"], turns)
    return sentences


def char_speakers(timestamps: Sequence[Sequence[float] | None], turns: Sequence[Turn]) -> list[int]:
    """One speaker per ``[start_ms, end_ms]``: largest overlap, else nearest turn; ``None`` entries
    take the previous character's label (the next one's at the start); no turns → all 0."""
    if not turns:
        return [0] * len(timestamps)
    t_st = np.array([t[0] for t in turns], dtype=np.float64) * 1000
    t_ed = np.array([t[1] for t in turns], dtype=np.float64) * 1000
    t_spk = [int(t[2]) for t in turns]
    labels: list[int | None] = []
    for ts in timestamps:
        if ts is None:
            labels.append(None)
            continue
        s, e = float(ts[0]), float(ts[1])
        overlap = np.minimum(e, t_ed) - np.maximum(s, t_st)
        if overlap.max() > 0:
            labels.append(t_spk[int(np.argmax(overlap))])
        else:
            gap = np.maximum(t_st - e, s - t_ed)
            labels.append(t_spk[int(np.argmin(gap))])
    return _fill_none(labels)


def _fill_none(labels: list[int | None]) -> list[int]:
    known = [x for x in labels if x is not None]
    prev = known[0] if known else 0
    out = []
    for x in labels:
        prev = prev if x is None else x
        out.append(prev)
    return out


def text_units(text: str) -> list[tuple[int, int, str]]:
    """``(begin, end, word)`` spans of the words of a sentence text (CJK char, English word,
    ``<unk>``-like token); punctuation is attached to the preceding word's span."""
    units: list[tuple[int, int, str]] = []
    for m in _UNIT.finditer(text):
        tok = m.group()
        if len(tok) == 1 and unicodedata.category(tok).startswith("P") and units:
            b, _, w = units[-1]
            units[-1] = (b, m.end(), w)
        else:
            units.append((m.start(), m.end(), tok))
    return units


def _runs(labels: Sequence[int], min_chars: int) -> list[tuple[int, int, int]]:
    """``(first, last+1, spk)`` runs of equal labels; runs shorter than ``min_chars`` join a neighbour."""
    runs: list[list[int]] = []
    for i, spk in enumerate(labels):
        if runs and runs[-1][2] == spk:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1, spk])
    merged: list[list[int]] = []
    for r in runs:
        if merged and (r[1] - r[0] < min_chars or merged[-1][2] == r[2]):
            merged[-1][1] = r[1]
        elif merged and merged[-1][1] - merged[-1][0] < min_chars:
            merged[-1][1], merged[-1][2] = r[1], r[2]
        else:
            merged.append(list(r))
    return [tuple(r) for r in merged]


def split_sentence(sentence: dict[str, Any], turns: Sequence[Turn], min_chars: int = 1) -> list[dict[str, Any]]:
    """Pieces of one sentence, one per speaker run of its characters (a single piece, keeping
    FunASR's sentence label, when all characters agree or the text cannot be aligned to the
    timestamps)."""
    ts = sentence.get("timestamp") or []
    text = sentence.get("text", "")
    whole = dict(sentence)
    whole["spk"] = sentence_speaker(sentence["start"], sentence["end"], turns)
    units = text_units(text) if isinstance(text, str) else []
    if len(ts) < 2 or len(units) != len(ts):
        return [whole]
    runs = _runs(char_speakers(ts, turns), min_chars)
    if len(runs) < 2:
        return [whole]
    pieces = []
    for n, (a, b, spk) in enumerate(runs):
        cut_a = units[a][0]
        cut_b = units[runs[n + 1][0]][0] if n + 1 < len(runs) else len(text)
        stamps = [t for t in ts[a:b] if t is not None]
        piece = dict(sentence)
        piece.update(
            text=text[cut_a:cut_b].strip(),
            timestamp=list(ts[a:b]),
            spk=int(spk),
            start=stamps[0][0] if stamps else sentence["start"],
            end=stamps[-1][1] if stamps else sentence["end"],
        )
        if "sentence" in sentence:
            piece["sentence"] = piece["text"]
        if "raw_text" in sentence:
            piece["raw_text"] = "".join(u[2] for u in units[a:b])
        pieces.append(piece)
    return pieces


def split_sentences_at_speaker_change(
    sentences: Sequence[dict[str, Any]], turns: Sequence[Turn], min_chars: int = 1
) -> list[dict[str, Any]]:
    """New sentence list with ``spk`` set; sentences spanning a speaker change are split
    (``text``, ``start``, ``end``, ``timestamp``, ``spk`` per piece)."""
    return [piece for s in sentences for piece in split_sentence(s, turns, min_chars)]
