"""One transcript document (schema version 1) built from a pipeline result dict.

Input: FunASR's result dict ``{"key", "text", "timestamp": [[s, e], ...], "sentence_info":
[{"text", "start", "end", "timestamp", "spk"?}], "raw_text"?}`` (times in ms), optionally with
``duration_ms``. Output: a plain dict every writer renders from (docs/outputs.md)::

    {"schema_version": 1, "key", "text", "raw_text" | None, "duration_ms" | None,
     "timestamp": [[s, e], ...],
     "sentences": [{"text", "start_ms", "end_ms", "speaker" | None,
                    "chars": [{"token", "start_ms", "end_ms"}, ...]}]}

A token is one CJK character or one run of other letters/digits (a Latin word or a number such
as ``3.5``); punctuation and spaces belong to no token. ``chars`` pairs the sentence's tokens with its timestamps and is empty
when their counts differ (times are never guessed in the document). Without ``sentence_info`` the
sentences are the clauses of ``text`` (closed at each punctuation mark, like FunASR's
``timestamp_sentence``) timed from ``timestamp`` when the token count matches.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from typing import Any

from funasr_lite.chars import is_wide

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_WORD_EXTRA = "'’_-"


@dataclass(frozen=True)
class Token:
    """A token of a sentence text: ``text[start:stop]`` is the token, ``text[start:end]`` adds its punctuation."""

    token: str
    start: int
    stop: int
    end: int


def is_cjk(ch: str) -> bool:
    """A character that is one token on its own: a wide letter or digit (ideographs, kana, hangul, full-width letters)."""
    return unicodedata.category(ch)[0] in "LN" and is_wide(ch)


def join_text(a: str, b: str) -> str:
    """Concatenate two text pieces: no space if either side of the seam is wide (CJK), else one space."""
    if not a or not b:
        return a + b
    return a + b if is_wide(a[-1]) or is_wide(b[0]) else f"{a} {b}"


def _is_word_char(ch: str) -> bool:
    return not is_cjk(ch) and (unicodedata.category(ch)[0] in "LNM" or ch in _WORD_EXTRA)


def _in_number(text: str, j: int) -> bool:
    """A decimal point or digit separator between digits ("3.5", "1,000", "10:30")."""
    return text[j] in ".,:" and 0 < j < len(text) - 1 and text[j - 1].isdigit() and text[j + 1].isdigit()


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; each token's ``end`` extends over the punctuation and spaces after it."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if is_cjk(ch):
            j = i + 1
        elif _is_word_char(ch) and ch not in _WORD_EXTRA:
            j = i + 1
            while j < n and (_is_word_char(text[j]) or _in_number(text, j)):
                j += 1
        else:  # punctuation or space: attach to the previous token (leading ones are dropped)
            if tokens:
                last = tokens[-1]
                tokens[-1] = Token(last.token, last.start, last.stop, i + 1)
            i += 1
            continue
        tokens.append(Token(text[i:j], i, j, j))
        i = j
    return tokens


def _ms(value: Any) -> int | None:
    return None if value is None else round(float(value))


def _chars(tokens: list[Token], stamps: list[Any] | None, where: str) -> list[dict[str, Any]]:
    if not stamps:
        return []
    if len(stamps) != len(tokens):
        log.warning("%s: %d tokens but %d timestamps; no character times", where, len(tokens), len(stamps))
        return []
    return [{"token": t.token, "start_ms": _ms(s[0]), "end_ms": _ms(s[1])} for t, s in zip(tokens, stamps)]


def _sentence(text: str, start: Any, end: Any, spk: Any, chars: list[dict[str, Any]]) -> dict[str, Any]:
    start_ms, end_ms = _ms(start), _ms(end)
    if chars:
        start_ms = chars[0]["start_ms"] if start_ms is None else start_ms
        end_ms = chars[-1]["end_ms"] if end_ms is None else end_ms
    return {
        "text": text,
        "start_ms": start_ms,
        "end_ms": end_ms,
        "speaker": spk if spk is None or isinstance(spk, str) else int(spk),
        "chars": chars,
    }


def _clauses(text: str) -> list[tuple[str, int, int]]:
    """``(clause text, first token index, token count)``, a clause ending at each punctuation run."""
    tokens = tokenize(text)
    out: list[tuple[str, int, int]] = []
    first = 0
    for i, tok in enumerate(tokens):
        closes = text[tok.stop : tok.end].strip() != ""
        if closes or i == len(tokens) - 1:
            out.append((text[tokens[first].start : tok.end].strip(), first, i + 1 - first))
            first = i + 1
    return out


def _sentences_from_text(result: dict[str, Any], key: str) -> list[dict[str, Any]]:
    text = result.get("text") or ""
    stamps = result.get("timestamp") or []
    tokens = tokenize(text)
    timed = len(stamps) == len(tokens) and bool(tokens)
    if stamps and not timed:
        log.warning("%s: %d tokens but %d timestamps; one untimed-by-character sentence", key, len(tokens), len(stamps))
        return [_sentence(text.strip(), stamps[0][0], stamps[-1][1], None, [])] if text.strip() else []
    out = []
    for clause, first, count in _clauses(text):
        chars = _chars(tokens[first : first + count], stamps[first : first + count], key) if timed else []
        out.append(_sentence(clause, None, None, None, chars))
    return out


def build_document(result: dict[str, Any], duration_ms: float | None = None) -> dict[str, Any]:
    """The schema-1 document for one pipeline result dict (see the module docstring)."""
    key = str(result["key"])
    if "sentence_info" in result and result["sentence_info"] is not None:
        sentences = []
        for n, info in enumerate(result["sentence_info"]):
            text = (info.get("text") if info.get("text") is not None else info.get("sentence", "")).strip()
            if not text:
                continue
            chars = _chars(tokenize(text), info.get("timestamp"), f"{key} sentence {n}")
            sentences.append(_sentence(text, info.get("start"), info.get("end"), info.get("spk"), chars))
    else:
        sentences = _sentences_from_text(result, key)
    duration = duration_ms if duration_ms is not None else result.get("duration_ms")
    return {
        "schema_version": SCHEMA_VERSION,
        "key": key,
        "text": result.get("text") or "",
        "raw_text": result.get("raw_text"),
        "duration_ms": _ms(duration),
        "timestamp": [[_ms(s), _ms(e)] for s, e in (result.get("timestamp") or [])],
        "sentences": sentences,
    }


def ensure_document(doc_or_result: dict[str, Any]) -> dict[str, Any]:
    """A schema document as is, or one built from a result dict."""
    if doc_or_result.get("schema_version") is not None:
        if doc_or_result["schema_version"] != SCHEMA_VERSION:
            raise ValueError(f"unsupported transcript schema_version {doc_or_result['schema_version']!r}")
        return doc_or_result
    return build_document(doc_or_result)
