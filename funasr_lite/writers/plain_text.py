"""``txt/<key>.txt``: the punctuated transcript, as one paragraph or one sentence per line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from funasr_lite.fileio import write_text_atomic
from funasr_lite.writers.schema import ensure_document, join_text
from funasr_lite.writers.subtitles import SENTENCE_END, format_time


def _lines(doc: dict[str, Any]) -> list[tuple[str, Any, int | None, int | None]]:
    """Clauses joined into sentences: a line ends at ``。？！`` or where the speaker changes."""
    lines: list[list[Any]] = []
    closed = True
    for s in doc["sentences"]:
        if lines and not closed and s["speaker"] == lines[-1][1]:
            line = lines[-1]
            line[0] = join_text(line[0], s["text"])
            line[3] = s["end_ms"] if s["end_ms"] is not None else line[3]
        else:
            lines.append([s["text"], s["speaker"], s["start_ms"], s["end_ms"]])
        closed = s["text"].rstrip()[-1:] in SENTENCE_END
    return [tuple(line) for line in lines]


def render_text(
    doc_or_result: dict[str, Any],
    sentence_per_line: bool = False,
    speakers: bool = True,
    times: bool = False,
    speaker_label: str = "SPEAKER_{spk}",
) -> str:
    """The transcript text.

    Default: the punctuated ``text`` as one line. ``sentence_per_line``: one sentence per line
    (clauses joined up to ``。？！`` or a speaker change), prefixed ``[SPEAKER_0] `` when the
    sentence has a speaker and ``speakers`` is true, and ``[00:00:01.234 --> 00:00:03.000] ``
    when ``times`` is true and the sentence is timed.
    """
    doc = ensure_document(doc_or_result)
    if not sentence_per_line:
        text = doc["text"].strip()
        return f"{text}\n" if text else ""
    out = []
    for text, spk, start, end in _lines(doc):
        prefix = ""
        if times and start is not None and end is not None:
            prefix += f"[{format_time(start, '.')} --> {format_time(end, '.')}] "
        if speakers and spk is not None:
            prefix += f"[{speaker_label.format(spk=spk, n=spk + 1 if isinstance(spk, int) else spk)}] "
        out.append(prefix + text + "\n")
    return "".join(out)


def write_text(doc_or_result: dict[str, Any], path: str | Path, **options: Any) -> None:
    """Write :func:`render_text` output atomically (``options`` as for ``render_text``)."""
    write_text_atomic(path, render_text(doc_or_result, **options))
