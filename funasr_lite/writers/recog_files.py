"""``<out>/1best_recog/{text,token,score,rtf,time_stamp}``: crash-safe and resumable.

Each finished utterance is appended as one JSON line to ``1best_recog/.journal.jsonl`` and
flushed to disk. A rerun reads the journal (ignoring a torn last line from a crash) and skips
utterances already done. ``finalize`` then writes every Kaldi-style file atomically from the
journal, so a reader never sees a partial file and a killed job loses at most the batch in
flight.

File formats, one ``key value`` line per utterance, in input order:

- ``text``: the transcript **without punctuation** (the ASR text, as FunASR's own
  ``1best_recog/text``: its ASR model writes it, the punctuation model writes no file), with no
  spaces between CJK characters (spaces kept between Latin words), ready for CER scoring;
- ``token``: the tokens, space-separated;
- ``score``: the greedy path log-probability, a plain number (``%.4f``);
- ``rtf``: compute seconds / audio seconds of the utterance (``%.4f``), then a last line
  ``TOTAL rtf=<x> compute_s=<c> audio_s=<a> utts=<n>``;
- ``time_stamp``: ``[[start_ms, end_ms], ...]`` per word, only for models with a timestamp head;
- ``text_with_punc``: the punctuated text as the punctuation model wrote it (pipeline runs with a
  punctuation model only).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from funasr_lite.chars import is_han
from funasr_lite.fileio import write_text_atomic

log = logging.getLogger(__name__)

FILES = ("text", "token", "score", "rtf", "time_stamp")


def recog_record(
    result: dict[str, Any], seg_results: Sequence[Any], audio_s: float, punctuated: bool
) -> dict[str, Any]:
    """One :class:`RecogWriter` record for a pipeline result and its segment results
    (``pipeline.SegmentResult``: ``.rec`` is the segment's ``asr.Recognition``).

    ``text`` is the recognised text joined over the segments, never punctuated (``result["text"]``
    is punctuated when a punctuation model ran); that punctuated text goes to ``text_with_punc``.
    """
    compute = sum(r.rec.compute_s for r in seg_results)
    rec = {
        "key": result["key"],
        "text": " ".join(t for t in (r.rec.text for r in seg_results) if t.strip()) if punctuated else result["text"],
        "tokens": [t for r in seg_results for t in r.rec.tokens],
        "score": sum(r.rec.score for r in seg_results),
        "compute_s": compute,
        "audio_s": audio_s,
        "rtf": compute / audio_s if audio_s else 0.0,
        "timestamp": result.get("timestamp"),
    }
    if punctuated:
        rec["text_with_punc"] = result["text"]
    return rec


class RecogWriter:
    """Collects per-utterance results in a journal and writes the 1best_recog files."""

    def __init__(self, out_dir: str | Path) -> None:
        self.dir = Path(out_dir) / "1best_recog"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.journal = self.dir / ".journal.jsonl"
        self.done: dict[str, dict[str, Any]] = _read_journal(self.journal)
        if self.done:
            log.info("resuming: %d utterances already decoded in %s", len(self.done), self.journal)
        self._fh = None

    def add(self, results: Iterable[dict[str, Any]]) -> None:
        """Record finished utterances (dicts with key, text, tokens, score, rtf, audio_s, compute_s[, timestamp])."""
        if self._fh is None:
            torn = self.journal.is_file() and self.journal.stat().st_size > 0 and not _ends_with_newline(self.journal)
            self._fh = open(self.journal, "a", encoding="utf-8")
            if torn:  # a crash cut the last line: start on a fresh line so new records stay readable
                self._fh.write("\n")
        for rec in results:
            self._fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            self.done[rec["key"]] = rec
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def finalize(self, keys: list[str]) -> None:
        """Write every 1best_recog file atomically for ``keys`` that are done, in that order."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        recs = [self.done[k] for k in keys if k in self.done]
        write_text_atomic(self.dir / "text", "".join(f"{_kv(r['key'], cer_ready_text(r['text']))}\n" for r in recs))
        write_text_atomic(self.dir / "token", "".join(f"{_kv(r['key'], ' '.join(r['tokens']))}\n" for r in recs))
        write_text_atomic(self.dir / "score", "".join(f"{r['key']} {r['score']:.4f}\n" for r in recs))
        compute = sum(r["compute_s"] for r in recs)
        audio = sum(r["audio_s"] for r in recs)
        rtf_lines = [f"{r['key']} {r['rtf']:.4f}\n" for r in recs]
        rtf_lines.append(
            f"TOTAL rtf={compute / audio if audio else 0.0:.4f} compute_s={compute:.3f} "
            f"audio_s={audio:.3f} utts={len(recs)}\n"
        )
        write_text_atomic(self.dir / "rtf", "".join(rtf_lines))
        if any("text_with_punc" in r for r in recs):
            write_text_atomic(
                self.dir / "text_with_punc", "".join(f"{_kv(r['key'], r.get('text_with_punc', ''))}\n" for r in recs)
            )
        if any(r.get("timestamp") is not None for r in recs):
            write_text_atomic(
                self.dir / "time_stamp", "".join(f"{r['key']} {json.dumps(r.get('timestamp') or [])}\n" for r in recs)
            )


def cer_ready_text(text: str) -> str:
    """Drop spaces next to Han characters, keep single spaces between other words."""
    words = text.split()
    out = ""
    for word in words:
        if out and not (is_han(out[-1]) or is_han(word[0])):
            out += " "
        out += word
    return out


def _kv(key: str, value: str) -> str:
    return f"{key} {value}" if value else key


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def _read_journal(path: Path) -> dict[str, dict[str, Any]]:
    done: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return done
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            try:
                rec = json.loads(line)
                done[rec["key"]] = rec
            except (json.JSONDecodeError, KeyError, TypeError):
                log.warning("%s:%d: ignoring a torn or bad journal line", path, n)
    return done
