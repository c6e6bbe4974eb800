"""RTTM, the project's one reader and writer (diarization output, reference turns, DER input).

A ``SPEAKER`` line has 10 whitespace-separated fields (NIST RTTM; what pyannote.database's
``load_rttm``, dscore and md-eval read)::

    SPEAKER <recording> <channel> <onset> <duration> <NA> <NA> <speaker> <NA> <NA>

Onset and duration are seconds with 3 decimals. A recording id or speaker label that is empty or
contains whitespace cannot be one field, so the writer refuses it with ``ValueError`` naming the
value; it never rewrites it (a rewritten id would no longer match the key of the recording's
other outputs). Keys that ``AutoModel`` makes from file names have their whitespace replaced by
``_`` where they are made (docs/outputs.md), so ``my meeting.wav`` gives ``my_meeting`` in
every output. The reader refuses ``SPEAKER`` lines with other than 9 or 10 fields (9: the older
layout without the last ``<NA>``): 11 fields are the mark of an id with a space in it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path

from funasr_lite.errors import InputError
from funasr_lite.fileio import write_text_atomic

Turn = tuple[float, float, str]  # (start s, end s, speaker)
SPEAKER_FIELDS = (9, 10)


def check_field(value: str, what: str) -> str:
    """``value`` if it can be one RTTM field (non-empty, no whitespace), else ``ValueError``."""
    if not value or any(ch.isspace() for ch in value):
        raise ValueError(
            f"RTTM {what} {value!r} is empty or contains whitespace, so it cannot be one "
            "RTTM field; use an id without spaces (e.g. replace them with '_')"
        )
    return value


def rttm_lines(
    rec: str, turns: Iterable[tuple[float, float, object]], channel: int = 1, speaker_prefix: str = ""
) -> list[str]:
    """One ``SPEAKER`` line per turn ``(start_s, end_s, speaker)``, sorted by start, end, speaker.

    The speaker field is ``speaker_prefix + str(speaker)`` (``"spk"`` and ``0`` give ``spk0``).
    """
    check_field(rec, "recording id")
    rows = sorted(
        ((s, e, check_field(f"{speaker_prefix}{spk}", "speaker label")) for s, e, spk in turns),
        key=lambda t: (t[0], t[1], t[2]),
    )
    return [f"SPEAKER {rec} {channel} {s:.3f} {e - s:.3f} <NA> <NA> {spk} <NA> <NA>" for s, e, spk in rows]


def rttm_text(
    rec: str, turns: Iterable[tuple[float, float, object]], channel: int = 1, speaker_prefix: str = ""
) -> str:
    """:func:`rttm_lines` as file text (each line ends with a newline; empty for no turns)."""
    return "".join(f"{line}\n" for line in rttm_lines(rec, turns, channel, speaker_prefix))


def write_rttm(
    path: str | os.PathLike, rec: str, turns: Iterable[tuple[float, float, object]], speaker_prefix: str = ""
) -> None:
    """Write :func:`rttm_text` to ``path`` atomically (nothing is written if a field is refused)."""
    write_text_atomic(path, rttm_text(rec, turns, speaker_prefix=speaker_prefix))


def read_rttm(path: str | Path) -> dict[str, list[Turn]]:
    """``SPEAKER`` lines -> turns ``(start_s, end_s, speaker)`` per recording, in file order.

    Lines of other types (``SPKR-INFO`` ...), blank lines and ``;;`` comments are skipped.
    Raises ``InputError`` naming the line on malformed input (field count, times)."""
    out: dict[str, list[Turn]] = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, f"cannot read RTTM: {e}") from e
    for n, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0] != "SPEAKER":
            continue
        if len(fields) not in SPEAKER_FIELDS:
            raise InputError(
                path,
                f"line {n}: a SPEAKER line has 10 fields, this one {len(fields)} "
                f"(a recording id or speaker label with a space?): {line!r}",
            )
        try:
            onset, dur = float(fields[3]), float(fields[4])
        except ValueError:
            raise InputError(path, f"line {n}: onset/duration are not numbers: {line!r}") from None
        if not (math.isfinite(onset) and math.isfinite(dur)) or onset < 0 or dur < 0:
            raise InputError(path, f"line {n}: need onset >= 0 and duration >= 0: {line!r}")
        out.setdefault(fields[1], []).append((onset, onset + dur, fields[7]))
    return out
