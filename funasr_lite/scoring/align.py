"""Levenshtein alignment of a reference and a hypothesis token sequence.

All edits cost 1 (substitution, deletion, insertion). Several alignments can share
the minimum cost and differ in their S/D/I split (``a b`` vs ``b c`` is either two
substitutions or one deletion plus one insertion), so the tie-break is fixed to give
Kaldi ``compute-wer``'s split: its ``LevenshteinEditDistance(ref, hyp, &ins, &del, &sub)``
(``src/util/edit-distance-inl.h``) keeps, per cell, the counts of one predecessor chosen
as: the diagonal (correct or substitution) only if strictly cheaper than both deletion
and insertion, else the deletion if strictly cheaper than the insertion, else the
insertion. Every cell's cost is the true minimum whatever the choice, so tracing back
from the end with the same per-cell rule walks exactly the path whose counts Kaldi
reports: ``a b`` vs ``b c`` is ``D C I``. (Kaldi's ``LevenshteinAlignment``, used by
``align-text`` and ``compute-wer``'s detail output, breaks ties the other way round and
can disagree with its own counts; we show the alignment that the counts come from.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

CORRECT, SUB, DEL, INS = "C", "S", "D", "I"


@dataclass(frozen=True)
class AlignedPair:
    """One alignment column: ``op`` is C/S/D/I; ``ref``/``hyp`` is None on the empty side."""

    op: str
    ref: str | None
    hyp: str | None


@dataclass
class ErrorCounts:
    """Token counts: ``n`` reference tokens = ``c + s + d``; ``i`` insertions."""

    n: int = 0
    c: int = 0
    s: int = 0
    d: int = 0
    i: int = 0

    @property
    def errors(self) -> int:
        """Edit distance: ``s + d + i``."""
        return self.s + self.d + self.i

    @property
    def rate(self) -> float | None:
        """Error rate in percent; 0.0 when there are no errors; None (undefined) when n == 0 < errors."""
        if self.errors == 0:
            return 0.0
        if self.n == 0:
            return None
        return 100.0 * self.errors / self.n

    def __iadd__(self, other: ErrorCounts) -> ErrorCounts:
        self.n += other.n
        self.c += other.c
        self.s += other.s
        self.d += other.d
        self.i += other.i
        return self


def _cost_table(ref: Sequence[str], hyp: Sequence[str]) -> list[list[int]]:
    """``e[i][j]`` = edit distance between ``ref[:i]`` and ``hyp[:j]``."""
    n_hyp = len(hyp)
    table = [list(range(n_hyp + 1))]
    for i, r in enumerate(ref, start=1):
        prev = table[-1]
        cur = [i] + [0] * n_hyp
        for j in range(1, n_hyp + 1):
            cur[j] = min(prev[j - 1] + (r != hyp[j - 1]), prev[j] + 1, cur[j - 1] + 1)
        table.append(cur)
    return table


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Levenshtein distance between two token sequences (a string is a sequence of characters)."""
    return _cost_table(ref, hyp)[-1][-1]


def align(ref: Sequence[str], hyp: Sequence[str]) -> list[AlignedPair]:
    """Minimum-cost alignment of ``ref`` against ``hyp`` with Kaldi ``compute-wer``'s S/D/I split.

    Per cell: diagonal if strictly cheaper than both others, else deletion if strictly cheaper
    than insertion, else insertion (see the module docstring).
    """
    e = _cost_table(ref, hyp)
    i, j = len(ref), len(hyp)
    out: list[AlignedPair] = []
    while i > 0 or j > 0:
        if i > 0 and j > 0:
            same = ref[i - 1] == hyp[j - 1]
            diag = e[i - 1][j - 1] + (0 if same else 1)
            dele = e[i - 1][j] + 1
            ins = e[i][j - 1] + 1
            if diag < dele and diag < ins:
                out.append(AlignedPair(CORRECT if same else SUB, ref[i - 1], hyp[j - 1]))
                i, j = i - 1, j - 1
                continue
            if dele < ins:
                out.append(AlignedPair(DEL, ref[i - 1], None))
                i -= 1
                continue
            out.append(AlignedPair(INS, None, hyp[j - 1]))
            j -= 1
        elif i > 0:
            out.append(AlignedPair(DEL, ref[i - 1], None))
            i -= 1
        else:
            out.append(AlignedPair(INS, None, hyp[j - 1]))
            j -= 1
    out.reverse()
    return out


def count_ops(pairs: Iterable[AlignedPair]) -> ErrorCounts:
    """C/S/D/I counts of an alignment (``n = c + s + d``)."""
    counts = ErrorCounts()
    for pair in pairs:
        if pair.op == CORRECT:
            counts.c += 1
        elif pair.op == SUB:
            counts.s += 1
        elif pair.op == DEL:
            counts.d += 1
        elif pair.op == INS:
            counts.i += 1
        else:
            raise ValueError(f"unknown alignment op {pair.op!r}")
    counts.n = counts.c + counts.s + counts.d
    return counts
