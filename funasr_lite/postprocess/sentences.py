"""Sentences from punctuation ids and per-word timestamps (FunASR's ``timestamp_sentence``).

Words are the ASR result's words (CJK characters, merged English words) with one
``[start_ms, end_ms]`` each; ``punc_ids`` has one CT-Transformer id per word (1 = none,
2 = ``，``, 3 = ``。``, 4 = ``？``, 5 = ``、``). A sentence closes at **every** id > 1, so
FunASR's "sentences" are really clauses. English words get a space before them, and a word
after an English word gets one too. FunASR's ``zip_longest`` behaviour on length mismatches
is kept: missing ids count as 1, missing timestamps keep the previous end.

Difference from FunASR 1.4.16's pipeline (not from this function): FunASR passes it text
joined without spaces across VAD segments, so the first word of a segment merges with the
last of the previous one and sentence texts shift by a word. ``build_sentences`` is always
given the words themselves (see ``docs/compatibility.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import zip_longest
from typing import Any

PUNC_MARKS = ("，", "。", "？", "、")


def _is_latin(ch: str) -> bool:
    return "a" <= ch <= "z" or "A" <= ch <= "Z"


def build_sentences(
    punc_ids: Sequence[int] | None,
    timestamps: Sequence[Sequence[int]],
    words: Sequence[str],
    return_raw_text: bool = False,
) -> list[dict[str, Any]]:
    """``[{"text", "start", "end", "timestamp"[, "raw_text"]}, ...]`` as FunASR's ``timestamp_sentence``."""
    if not timestamps or not words:
        return []
    if punc_ids is None or len(punc_ids) == 0:
        return [
            {
                "text": list(words),
                "start": timestamps[0][0],
                "end": timestamps[-1][1],
                "timestamp": [list(t) for t in timestamps],
            }
        ]
    sentences: list[dict[str, Any]] = []
    text, raw, ts_list = "", "", []
    start: int | None = timestamps[0][0]
    end = timestamps[0][1]
    for punc_id, ts, word in zip_longest(punc_ids, timestamps, words, fillvalue=None):
        if start is None and ts is not None:
            start = ts[0]
        if word is not None:
            if _is_latin(word[0]) or (text and _is_latin(text[-1])):
                text += " " + word
            else:
                text += word
            raw += word + " "
        ts_list.append(None if ts is None else list(ts))
        end = ts[1] if ts is not None else end
        raw = raw[:-1] if raw.endswith(" ") else raw
        pid = int(punc_id) if punc_id is not None else 1
        if pid > 1:
            text += PUNC_MARKS[pid - 2]
            sentence = {"text": text, "start": start, "end": end, "timestamp": ts_list}
            if return_raw_text:
                sentence["raw_text"] = raw
            sentences.append(sentence)
            text, raw, ts_list, start = "", "", [], None
    return sentences
