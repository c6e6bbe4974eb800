"""``--output_format`` dispatch: ``<out_dir>/<format>/<key>.<ext>`` for json, srt, vtt, txt and rttm.

``rttm`` is written only for results that carry ``speaker_turns`` (a pipeline run with a speaker
model): one ``SPEAKER`` line per turn, duration in field 5, speakers ``spk0``, ``spk1``, ...
(``funasr_lite.diar.rttm``). A key that cannot be an RTTM field (whitespace) raises
``ValueError`` before any file of that result is written.

Every file is rewritten atomically on each call (resuming is the caller's business).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from funasr_lite.diar.rttm import rttm_text
from funasr_lite.fileio import write_text_atomic
from funasr_lite.writers.json_writer import render_json
from funasr_lite.writers.plain_text import render_text
from funasr_lite.writers.schema import build_document
from funasr_lite.writers.subtitles import CueOptions, render_srt, render_vtt

FORMATS = ("json", "srt", "vtt", "txt", "rttm")


def parse_formats(spec: str | Iterable[str]) -> list[str]:
    """``"json,srt"``, ``"all"`` or a list of names -> ordered unique list; unknown names raise ``ValueError``."""
    names = spec.replace(",", " ").split() if isinstance(spec, str) else [str(n).strip() for n in spec]
    if "all" in names:
        return list(FORMATS)
    bad = [n for n in names if n not in FORMATS]
    if bad:
        raise ValueError(f"unknown output format(s) {bad}; choose from {', '.join(FORMATS)} or all")
    return [f for f in FORMATS if f in names]


NAME_MAX_BYTES = 255  # the longest file name Linux/macOS file systems take


def check_file_key(key: str) -> str:
    """``key`` if ``<key>.<format>`` is a plain file name inside the format folder, else ``ValueError``.

    Refused: empty, ``.``/``..``, a ``/`` or NUL (a key must never reach outside ``out_dir``), and
    names too long for the file system.
    """
    if not key or key in (".", "..") or "/" in key or "\0" in key:
        raise ValueError(f"utterance key {key!r} cannot be a file name (empty, '.', '..', or has '/' or NUL)")
    if len(f"{key}.json".encode("utf-8", "surrogateescape")) > NAME_MAX_BYTES:
        raise ValueError(f"utterance key {key[:40]!r}... cannot be a file name ({len(key)} characters, too long)")
    return key


def write_outputs(
    results: Iterable[dict[str, Any]],
    out_dir: str | Path,
    formats: str | Iterable[str] = FORMATS,
    *,
    cue_options: CueOptions | None = None,
    text_options: dict[str, Any] | None = None,
) -> dict[str, list[Path]]:
    """Write each result dict (or schema document) in each format; returns the paths per format.

    ``cue_options`` controls SRT/VTT cue splitting; ``text_options`` are ``render_text`` keyword
    arguments for txt (e.g. ``{"sentence_per_line": True}``).
    """
    fmts = parse_formats(formats)
    out = Path(out_dir)
    for fmt in fmts:
        (out / fmt).mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Path]] = {fmt: [] for fmt in fmts}
    renderers = {
        "json": render_json,
        "srt": lambda d: render_srt(d, cue_options),
        "vtt": lambda d: render_vtt(d, cue_options),
        "txt": lambda d: render_text(d, **(text_options or {})),
    }
    for result in results:
        doc = result if result.get("schema_version") is not None else build_document(result)
        key = check_file_key(doc["key"])
        texts = {}  # every format is rendered before the first is written
        for fmt in fmts:
            if fmt != "rttm":
                texts[fmt] = renderers[fmt](doc)
            elif "speaker_turns" in result:
                turns = [(s / 1000, e / 1000, spk) for s, e, spk in result["speaker_turns"]]
                texts[fmt] = rttm_text(key, turns, speaker_prefix="spk")
        for fmt, text in texts.items():
            path = out / fmt / f"{key}.{fmt}"
            write_text_atomic(path, text)
            written[fmt].append(path)
    return written
