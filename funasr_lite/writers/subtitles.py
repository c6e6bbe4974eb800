"""SRT and WebVTT subtitles with CJK-aware cue splitting.

Cues are built from the document's sentences (``schema.py``) in three steps:

1. **Punctuation first.** Each sentence is cut after every token followed by punctuation into
   clauses, so a cue boundary falls on punctuation whenever one is near.
2. **Length and duration.** A clause wider than ``max_chars`` or longer than ``max_duration_ms``
   is cut between tokens into as few pieces as the limits allow, of near-equal width. A Latin
   word is one token and never cut (a single word wider than the limit gets its own cue).
3. **Joining.** Consecutive clauses of one speaker are joined into one cue while the result fits
   both limits, the pause between them is at most ``merge_gap_ms``, and the earlier one does not
   end a sentence (``。？！?!…``).

Width is display width counted in CJK characters: a wide or full-width character (Chinese
character, ``，``) counts 1, any other character (Latin letter, digit, space) 0.5. A cue's times
come from its own first and last character. If a sentence's characters have no times (token and
timestamp counts differed), the sentence span is shared among its tokens by width, an estimate.
Then cues are made non-overlapping and in order, and one shorter than ``min_duration_ms`` is
extended into the following silence, never past the next cue or the audio end.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from funasr_lite.chars import is_wide
from funasr_lite.fileio import write_text_atomic
from funasr_lite.writers.schema import Token, ensure_document, join_text, tokenize

log = logging.getLogger(__name__)

SENTENCE_END = "。？！?!…．."
SPEAKER_STYLES = ("label", "dash", "voice", "none")


@dataclass(frozen=True)
class CueOptions:
    """Cue splitting and speaker display; see the module docstring."""

    max_chars: float = 20
    max_duration_ms: int = 6000
    min_duration_ms: int = 1000
    merge_gap_ms: int = 1000
    speaker_style: str = "label"  # "label": "[SPEAKER_0] text"; "dash": "- text" when the speaker changes;
    # "voice": WebVTT "<v SPEAKER_0>text" (SRT falls back to "label"); "none"
    speaker_label: str = "SPEAKER_{spk}"  # fields: {spk} as given, {n} = spk + 1 for integer ids

    def __post_init__(self) -> None:
        if self.speaker_style not in SPEAKER_STYLES:
            raise ValueError(f"speaker_style must be one of {SPEAKER_STYLES}, got {self.speaker_style!r}")
        if self.max_chars <= 0 or self.max_duration_ms <= 0:
            raise ValueError("max_chars and max_duration_ms must be positive")


@dataclass
class Cue:
    """One subtitle: times in ms, text without speaker prefix."""

    start_ms: int
    end_ms: int
    text: str
    speaker: Any = None


@dataclass
class _Piece:
    text: str
    start_ms: int
    end_ms: int
    speaker: Any
    hard_end: bool
    sentence: int  # index of its sentence
    span: tuple[int, int]  # character span in the sentence text


def display_width(text: str) -> float:
    """Width in CJK characters: wide/full-width characters 1, others 0.5, combining marks 0."""
    width = 0.0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 1.0 if is_wide(ch) else 0.5
    return width


def _timed_tokens(sentence: dict[str, Any]) -> list[tuple[Token, int, int]]:
    """The sentence's tokens with (start_ms, end_ms): from ``chars``, else spread over the sentence span."""
    text = sentence["text"]
    tokens = tokenize(text)
    chars = sentence.get("chars") or []
    if chars and len(chars) == len(tokens):
        return [(t, int(c["start_ms"]), int(c["end_ms"])) for t, c in zip(tokens, chars)]
    start, end = sentence.get("start_ms"), sentence.get("end_ms")
    if start is None or end is None or not tokens:
        if tokens:
            log.warning("sentence %r has no times; left out of the subtitles", text)
        return []
    widths = [display_width(t.token) for t in tokens]
    total = sum(widths) or 1.0
    out, acc = [], 0.0
    for tok, w in zip(tokens, widths):
        s = start + round((end - start) * acc / total)
        acc += w
        out.append((tok, s, start + round((end - start) * acc / total)))
    return out


def _greedy(
    text: str, toks: list[tuple[Token, int, int]], limit: float, max_ms: int
) -> list[list[tuple[Token, int, int]]]:
    pieces: list[list[tuple[Token, int, int]]] = []
    for item in toks:
        if pieces:
            cur = pieces[-1]
            width = display_width(text[cur[0][0].start : item[0].end].strip())
            if width <= limit + 1e-9 and item[2] - cur[0][1] <= max_ms:
                cur.append(item)
                continue
        pieces.append([item])
    return pieces


def _split_clause(
    text: str, toks: list[tuple[Token, int, int]], opts: CueOptions
) -> list[list[tuple[Token, int, int]]]:
    """Cut a clause into the fewest pieces within the limits, as even in width as possible."""
    width = display_width(text[toks[0][0].start : toks[-1][0].end].strip())
    duration = toks[-1][2] - toks[0][1]
    if width <= opts.max_chars and duration <= opts.max_duration_ms:
        return [toks]
    fewest = len(_greedy(text, toks, opts.max_chars, opts.max_duration_ms))
    limit = min(math.ceil(2 * width / fewest) / 2, opts.max_chars)
    while True:  # smallest half-character limit that still needs no more pieces than plain greedy
        pieces = _greedy(text, toks, limit, opts.max_duration_ms)
        if len(pieces) <= fewest or limit >= opts.max_chars:
            return pieces
        limit = min(limit + 0.5, opts.max_chars)


def _pieces(sentence: dict[str, Any], index: int, opts: CueOptions) -> list[_Piece]:
    text = sentence["text"]
    toks = _timed_tokens(sentence)
    clauses: list[list[tuple[Token, int, int]]] = [[]]
    for item in toks:
        clauses[-1].append(item)
        if text[item[0].stop : item[0].end].strip():
            clauses.append([])
    out = []
    for clause in filter(None, clauses):
        for piece in _split_clause(text, clause, opts):
            first, last = piece[0][0], piece[-1][0]
            tail = text[last.stop : last.end]
            out.append(
                _Piece(
                    text[first.start : last.end].strip(),
                    piece[0][1],
                    piece[-1][2],
                    sentence.get("speaker"),
                    any(c in SENTENCE_END for c in tail),
                    index,
                    (first.start, last.end),
                )
            )
    return out


def build_cues(doc_or_result: dict[str, Any], opts: CueOptions | None = None) -> list[Cue]:
    """Cues for one transcript document (or result dict): in order, non-overlapping, never empty."""
    opts = opts or CueOptions()
    doc = ensure_document(doc_or_result)
    cues: list[Cue] = []
    last: _Piece | None = None
    cue_sentence = -1  # sentence of the current cue's first piece
    first_span = (0, 0)  # span of the current cue's first piece, for joins inside one sentence
    for index, sentence in enumerate(doc["sentences"]):
        for p in _pieces(sentence, index, opts):
            if cues and last is not None and not last.hard_end and p.speaker == cues[-1].speaker:
                cur = cues[-1]
                if last.sentence == p.sentence and cue_sentence == p.sentence:  # keep the original spacing
                    joined = sentence["text"][first_span[0] : p.span[1]].strip()
                else:
                    joined = join_text(cur.text, p.text)
                if (
                    p.start_ms - cur.end_ms <= opts.merge_gap_ms
                    and display_width(joined) <= opts.max_chars
                    and p.end_ms - cur.start_ms <= opts.max_duration_ms
                ):
                    cur.text, cur.end_ms = joined, max(cur.end_ms, p.end_ms)
                    last = p
                    continue
            cues.append(Cue(p.start_ms, p.end_ms, p.text, p.speaker))
            last, first_span, cue_sentence = p, p.span, p.sentence
    return _fix_times([c for c in cues if c.text.strip()], opts, doc.get("duration_ms"))


def _fix_times(cues: list[Cue], opts: CueOptions, duration_ms: int | None) -> list[Cue]:
    cues.sort(key=lambda c: c.start_ms)
    audio_end = duration_ms if duration_ms else math.inf
    for i, cue in enumerate(cues):
        if i:
            cue.start_ms = max(cue.start_ms, cues[i - 1].end_ms)
        bound = cues[i + 1].start_ms if i + 1 < len(cues) else audio_end
        wanted = max(cue.end_ms, cue.start_ms + opts.min_duration_ms)
        cue.end_ms = int(max(cue.start_ms + 1, min(wanted, bound)))
    return cues


def format_time(ms: int, sep: str = ",") -> str:
    """``HH:MM:SS,mmm`` (SRT) or with ``sep="."`` (WebVTT); hours grow past two digits if needed."""
    ms = max(0, int(ms))
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{sep}{millis:03d}"


def _label(spk: Any, opts: CueOptions) -> str:
    return opts.speaker_label.format(spk=spk, n=spk + 1 if isinstance(spk, int) else spk)


def _with_speaker(cues: list[Cue], opts: CueOptions, vtt: bool) -> list[str]:
    out, prev = [], object()
    for cue in cues:
        text = _vtt_escape(cue.text) if vtt else cue.text
        style = "label" if opts.speaker_style == "voice" and not vtt else opts.speaker_style
        if cue.speaker is not None:
            if style == "label":
                text = f"[{_label(cue.speaker, opts)}] {text}"
            elif style == "voice":
                text = f"<v {_vtt_escape(_label(cue.speaker, opts))}>{text}"
            elif style == "dash" and cue.speaker != prev:
                text = f"- {text}"
        prev = cue.speaker
        out.append(text)
    return out


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_srt(doc_or_result: dict[str, Any], opts: CueOptions | None = None) -> str:
    """SubRip text: numbered cues, ``00:00:01,234 --> 00:00:02,000``, a blank line after each."""
    opts = opts or CueOptions()
    cues = build_cues(doc_or_result, opts)
    texts = _with_speaker(cues, opts, vtt=False)
    return "".join(
        f"{n}\n{format_time(c.start_ms)} --> {format_time(c.end_ms)}\n{t}\n\n"
        for n, (c, t) in enumerate(zip(cues, texts), 1)
    )


def render_vtt(doc_or_result: dict[str, Any], opts: CueOptions | None = None) -> str:
    """WebVTT text: ``WEBVTT`` header, cues ``00:00:01.234 --> 00:00:02.000`` (no cue ids)."""
    opts = opts or CueOptions()
    cues = build_cues(doc_or_result, opts)
    texts = _with_speaker(cues, opts, vtt=True)
    return "WEBVTT\n\n" + "".join(
        f"{format_time(c.start_ms, '.')} --> {format_time(c.end_ms, '.')}\n{t}\n\n" for c, t in zip(cues, texts)
    )


def write_srt(doc_or_result: dict[str, Any], path: str | Path, opts: CueOptions | None = None) -> None:
    """Write SRT atomically."""
    write_text_atomic(path, render_srt(doc_or_result, opts))


def write_vtt(doc_or_result: dict[str, Any], path: str | Path, opts: CueOptions | None = None) -> None:
    """Write WebVTT atomically."""
    write_text_atomic(path, render_vtt(doc_or_result, opts))
