"""Split normalised text into scoring tokens.

Default (mixed CJK/Latin) rules, scanning left to right:

* whitespace separates tokens and is never a token;
* ``<tag>`` / ``[tag]`` without whitespace inside (tags that survived normalisation)
  is one token, as in WeNet's ``compute-wer.py``;
* every *wide* character (Unicode East-Asian width W or F: Han ideographs, kana,
  Hangul syllables, CJK punctuation) is one token, so CJK is scored per character;
* a run of letters/digits (``str.isalnum``), combining marks and apostrophes that are
  not wide forms one token: ``Hello``, ``don't``, ``2024``, ``café``; so ``GPT4很好``
  gives ``GPT4 很 好``;
* any other character (``+``, ``=``, ``$``...) is a token of its own.

``char=True`` makes every non-whitespace character a token (English scored per
letter too).
"""

from __future__ import annotations

import re
import unicodedata

from funasr_lite.chars import is_wide

_TAG = re.compile(r"<[^<>\s]+>|\[[^\[\]\s]+\]")


def is_word_char(ch: str) -> bool:
    """Part of a Latin-style word: letter, digit, combining mark or apostrophe, and not wide."""
    if is_wide(ch):
        return False
    return ch.isalnum() or ch in "'\u2019" or unicodedata.category(ch).startswith("M")


def tokenize(text: str, char: bool = False) -> list[str]:
    """Tokens of ``text``: CJK per character, Latin words whole (``char=True``: all per character)."""
    if char:
        return [ch for ch in text if not ch.isspace()]
    tokens: list[str] = []
    k, end = 0, len(text)
    while k < end:
        ch = text[k]
        if ch.isspace():
            k += 1
            continue
        tag = _TAG.match(text, k)
        if tag:
            tokens.append(tag.group())
            k = tag.end()
        elif is_word_char(ch):
            start = k
            while k < end and is_word_char(text[k]):
                k += 1
            tokens.append(text[start:k])
        else:
            tokens.append(ch)
            k += 1
    return tokens
