"""Chunk labels → speaker turns (FunASR 1.4.16's ``campplus/utils.postprocess``); RTTM is ``diar/rttm.py``.

The chain, exactly as FunASR (times in seconds):

1. ``correct_labels``: relabel in order of first appearance (0, 1, …; a −1 becomes a speaker too);
2. one ``[start, end, label]`` per chunk; ``merge_seque`` joins consecutive entries of the same
   label that touch or overlap (next start ≤ current end);
3. overlap between neighbours (end > next start + 1e-4): both boundaries move to the midpoint;
4. ``smooth(mindur=0.7)``: round start/end to 2 decimals (Python ``round``) walking left to right;
   a turn shorter than 0.7 s takes its nearer neighbour's label (the first takes the next one's,
   the last the previous one's; the distance to the next turn uses its still unrounded start),
   then ``merge_seque`` again. With fewer than 2 turns nothing is rounded.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Turn = tuple[float, float, int]  # (start s, end s, speaker)
MIN_DUR = 0.7


def correct_labels(labels: Sequence[int] | np.ndarray) -> np.ndarray:
    """Relabel in order of first appearance: ``[3, 3, 1, 3, 0]`` → ``[0, 0, 1, 0, 2]``."""
    mapping: dict[int, int] = {}
    return np.array([mapping.setdefault(int(x), len(mapping)) for x in labels], dtype=np.int64)


def merge_seque(turns: list[list]) -> list[list]:
    """Join consecutive same-speaker entries that touch or overlap (end := the later entry's end)."""
    out = [turns[0]]
    for t in turns[1:]:
        if t[2] != out[-1][2] or t[0] > out[-1][1]:
            out.append(t)
        else:
            out[-1][1] = t[1]
    return out


def split_overlaps(turns: list[list]) -> list[list]:
    """Where a turn ends after the next one starts (by > 1e-4 s), both meet at the midpoint."""
    for i in range(1, len(turns)):
        if turns[i - 1][1] > turns[i][0] + 1e-4:
            p = (turns[i][0] + turns[i - 1][1]) / 2
            turns[i][0] = p
            turns[i - 1][1] = p
    return turns


def smooth(turns: list[list], mindur: float = MIN_DUR) -> list[list]:
    """Round to 10 ms and give turns shorter than ``mindur`` the nearer neighbour's speaker."""
    if len(turns) < 2:
        return turns
    for i, t in enumerate(turns):
        t[0] = round(t[0], 2)
        t[1] = round(t[1], 2)
        if t[1] - t[0] < mindur:
            if i == 0:
                t[2] = turns[i + 1][2]
            elif i == len(turns) - 1 or t[0] - turns[i - 1][1] <= turns[i + 1][0] - t[1]:
                t[2] = turns[i - 1][2]
            else:
                t[2] = turns[i + 1][2]
    return merge_seque(turns)


def labels_to_turns(
    chunk_times: Sequence[Sequence[float]], labels: Sequence[int] | np.ndarray, mindur: float = MIN_DUR
) -> list[Turn]:
    """FunASR's ``postprocess``: chunk ``(start_s, end_s)`` (sorted by start) + labels → turns."""
    if len(chunk_times) != len(labels):
        raise ValueError(f"{len(chunk_times)} chunks but {len(labels)} labels")
    if len(labels) == 0:
        return []
    fixed = correct_labels(labels)
    turns = [[float(t[0]), float(t[1]), int(s)] for t, s in zip(chunk_times, fixed)]
    turns = smooth(split_overlaps(merge_seque(turns)), mindur)
    return [(t[0], t[1], int(t[2])) for t in turns]
