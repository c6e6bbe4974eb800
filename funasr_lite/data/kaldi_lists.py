"""Readers and an atomic writer for Kaldi data-dir lists (``wav.scp``, ``text``, ``segments``).

Every line is ``<key><whitespace><value>``: the key ends at the first space or tab, the value is
the rest of the line with surrounding whitespace removed, so values may contain spaces (paths
with spaces, piped commands, transcripts). CRLF line ends and a UTF-8 byte-order mark are
tolerated and blank lines are skipped. Every problem raises ``InputError`` whose item is
``<file>:<line>``, so the message points at the line to fix.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import NamedTuple, Union

from funasr_lite.errors import InputError
from funasr_lite.fileio import write_text_atomic

PathLike = Union[str, "os.PathLike[str]"]
_BLANKS = " \t\r"  # Kaldi separates fields with ASCII spaces and tabs only
_FIELD_SEP = re.compile(r"[ \t]+")


class Segment(NamedTuple):
    """One ``segments`` line: recording id and times in seconds (``end_s == -1``: to the end)."""

    reco_id: str
    start_s: float
    end_s: float


class SegmentSource(NamedTuple):
    """A cut of a recording: the recording's ``wav.scp`` value and times in seconds."""

    source: str
    start_s: float
    end_s: float


def read_lines(path: PathLike) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` for the non-blank lines of a UTF-8 file, ends stripped."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, expected a list file") from None
    except OSError as err:
        raise InputError(path, f"cannot read: {err.strerror or err}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise InputError(f"{path}:{line}", f"not valid UTF-8 (byte offset {err.start})") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.strip(_BLANKS)
        if line:
            yield number, line


def _read_table(path: PathLike, allow_empty_value: bool) -> dict[str, str]:
    """Parse ``key value`` lines into a dict, refusing duplicate keys."""
    table: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for number, line in read_lines(path):
        key, value = (_FIELD_SEP.split(line, maxsplit=1) + [""])[:2]
        value = value.lstrip(_BLANKS)  # "key \r value" (a stray CR): the value has no blank around it either
        if not value and not allow_empty_value:
            raise InputError(f"{path}:{number}", f"key {key!r} has no value")
        if key in table:
            raise InputError(f"{path}:{number}", f"duplicate key {key!r} (first on line {first_line[key]})")
        table[key] = value
        first_line[key] = number
    return table


def read_scp(path: PathLike) -> dict[str, str]:
    """Read a ``key value`` list (``wav.scp``, ``utt2spk``, ...); every key needs a value."""
    return _read_table(path, allow_empty_value=False)


def read_text(path: PathLike) -> dict[str, str]:
    """Read a Kaldi ``text`` file; an empty transcript is returned as ``""`` (checked elsewhere)."""
    return _read_table(path, allow_empty_value=True)


def _parse_time(field: str, what: str, item: str) -> float:
    """Parse a finite float time field or raise ``InputError``."""
    try:
        value = float(field)
    except ValueError:
        raise InputError(item, f"{what} time {field!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(item, f"{what} time {field!r} is not finite")
    return value


def parse_segment(line: str, item: str) -> tuple[str, Segment]:
    """One ``segments`` line -> ``(seg_id, Segment)``; ``InputError(item, ...)`` if malformed.

    Times are seconds; ``start >= 0``; ``end > start``, or ``end == -1`` meaning the end of the
    recording (Kaldi's rule). Kaldi's optional fifth (channel) column is refused: pick a channel
    with ``load_audio(..., channel=i)`` instead.
    """
    fields = _FIELD_SEP.split(line.strip(_BLANKS))
    if len(fields) == 5:
        raise InputError(item, "a channel column is not supported; expected 4 fields")
    if len(fields) != 4:
        raise InputError(item, f"expected '<seg-id> <reco-id> <start> <end>', got {len(fields)} fields")
    seg_id, reco_id = fields[0], fields[1]
    start = _parse_time(fields[2], "start", item)
    end = _parse_time(fields[3], "end", item)
    if start < 0:
        raise InputError(item, f"start time {start} is negative")
    if end != -1 and end <= start:
        raise InputError(item, f"end time {end} is not after start time {start}")
    return seg_id, Segment(reco_id, start, end)


def read_segments(path: PathLike) -> dict[str, Segment]:
    """Read a ``segments`` file: ``<seg-id> <reco-id> <start> <end>`` per line (see ``parse_segment``)."""
    segments: dict[str, Segment] = {}
    first_line: dict[str, int] = {}
    for number, line in read_lines(path):
        item = f"{path}:{number}"
        seg_id, segment = parse_segment(line, item)
        if seg_id in segments:
            raise InputError(item, f"duplicate segment id {seg_id!r} (first on line {first_line[seg_id]})")
        segments[seg_id] = segment
        first_line[seg_id] = number
    return segments


def write_scp(path: PathLike, items: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
    """Write ``key value`` lines atomically (a temporary file in the same folder, then rename).

    Keys must be non-empty and free of whitespace; values must be single-line. An empty value
    writes the key alone, which ``read_text`` reads back as ``""``.
    """
    pairs = items.items() if isinstance(items, Mapping) else items
    lines = []
    for key, value in pairs:
        if not key or any(ch.isspace() for ch in key):
            raise InputError(path, f"key {key!r} is empty or contains whitespace")
        if "\n" in value or "\r" in value:
            raise InputError(path, f"value for key {key!r} contains a line break")
        lines.append(f"{key} {value}\n" if value else f"{key}\n")
    try:
        write_text_atomic(path, "".join(lines))
    except OSError as err:
        raise InputError(path, f"cannot write: {err.strerror or err}") from None


def iter_wav_scp(wav_scp: PathLike, segments: PathLike | None = None) -> Iterator[tuple[str, str | SegmentSource]]:
    """Yield ``(key, source)`` for ``load_audio``: one per ``wav.scp`` line, or per segment.

    Without ``segments`` the source is the ``wav.scp`` value (a path, URL or ``cmd |``). With
    ``segments`` the key is the segment id and the source a ``SegmentSource``. Both lists are
    read and cross-checked before the first item, so a list-level error raises at once.
    """
    recordings = read_scp(wav_scp)
    if segments is None:
        yield from recordings.items()
        return
    table = read_segments(segments)
    for seg_id, seg in table.items():
        if seg.reco_id not in recordings:
            raise InputError(segments, f"segment {seg_id!r}: recording {seg.reco_id!r} is not in {wav_scp}")
    for seg_id, seg in table.items():
        yield seg_id, SegmentSource(recordings[seg.reco_id], seg.start_s, seg.end_s)
