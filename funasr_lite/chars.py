"""Character classes and the character tokenizer of transcripts: one owner each.

- :func:`is_wide` is the CJK test: East-Asian width W or F (Unicode UAX #11), i.e. Han
  ideographs, kana, Hangul, full-width forms and CJK punctuation. A wide character is a token
  of its own when scoring and in the output documents, and two columns on a terminal.
- :func:`is_han` is narrower, Han ideographs only; ``1best_recog/text`` drops the spaces next to them.
- :func:`split_chars` is the character tokenizer of training text: ``bin/make_tokens`` builds
  token lists with it, ``bin/check_data`` and the trainer map transcripts to tokens with it.

Kept apart on purpose, because each must give FunASR's answer: FunASR's ``isChinese``
(``postprocess/text.py``), its segment join (``pipeline.join_vad_texts``), CT-Transformer's
``split_words`` (``punc/words.py``) and its U+0E00 range (``punc/rules.py``). Token splitters
with their own job use these classes: CER tokens (``scoring/tokenize.py``, WeNet's rules),
document tokens paired with timestamps (``writers/schema.py``) and speaker split points
(``diar/assign.text_units``).
"""

from __future__ import annotations

import re
import unicodedata

_TOKEN = re.compile(r"[A-Za-z']+|\S")


def is_wide(ch: str) -> bool:
    """East-Asian width W (wide) or F (full-width): the CJK test."""
    return unicodedata.east_asian_width(ch) in ("W", "F")


def is_han(ch: str) -> bool:
    """A Han ideograph: CJK Unified Ideographs, Extension A, or a compatibility ideograph."""
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or "\uf900" <= ch <= "\ufaff"


def split_chars(text: str) -> list[str]:
    """One token per non-space character, except runs of ASCII letters and ``'``: one lower-cased word."""
    return [t.lower() for t in _TOKEN.findall(text)]
