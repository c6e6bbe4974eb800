"""Word splitting for CT-Transformer (FunASR ``ct_transformer/utils.py``), without jieba itself.

The character-level model splits on whitespace, then every non-ASCII character is a word and
every run of ASCII characters is one word. The word-level (jieba) model keeps English words
(``^[a-zA-Z']+$``) as they are and joins every run of other space-separated pieces into one
string for the segmenter (``cut``, e.g. ``jieba.Tokenizer().cut(s, HMM=False)``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
_ENGLISH = re.compile("^[a-zA-Z']+$")


def is_english(word: str) -> bool:
    """FunASR's ``isEnglish``: only ASCII letters and apostrophes."""
    return _ENGLISH.search(word) is not None


def is_ascii_char(c: str) -> bool:
    """FunASR's ``len(c.encode()) == 1`` test (one UTF-8 byte)."""
    return ord(c) < 0x80


def split_char_level(text: str) -> list[str]:
    """FunASR's character-level ``split_words`` (not ``funasr_lite.chars.split_chars``): whitespace, then each non-ASCII char alone, ASCII runs together."""
    words: list[str] = []
    for seg in text.split():
        current = ""
        for c in seg:
            if is_ascii_char(c):
                current += c
            else:
                if current:
                    words.append(current)
                    current = ""
                words.append(c)
        if current:
            words.append(current)
    return words


def split_jieba(text: str, cut: Callable[[str], Iterable[str]]) -> list[str]:
    """Word-level split: English runs kept word by word, other runs joined (no spaces) and ``cut``."""
    words: list[str] = []
    group: list[str] = []
    group_english: bool | None = None
    for piece in text.split():
        english = is_english(piece)
        if group and english != group_english:
            words.extend(group if group_english else cut("".join(group)))
            group = []
        group.append(piece)
        group_english = english
    if group:
        words.extend(group if group_english else cut("".join(group)))
    return words


def split_words(text: str, cut: Callable[[str], Iterable[str]] | None = None) -> list[str]:
    """FunASR's ``split_words``: jieba-style when ``cut`` is given, else character-level."""
    return split_jieba(text, cut) if cut is not None else split_char_level(text)


def split_to_mini_sentence(words: list[T], word_limit: int = 20) -> list[list[T]]:
    """Consecutive chunks of ``word_limit`` (the last one shorter); ``[words]`` if it fits in one."""
    if word_limit <= 1:
        raise ValueError(f"split_size must be > 1, got {word_limit}")
    if len(words) <= word_limit:
        return [list(words)]
    return [list(words[i : i + word_limit]) for i in range(0, len(words), word_limit)]
