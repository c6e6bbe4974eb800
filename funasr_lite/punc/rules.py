"""CT-Transformer windowing and surface-text rules (FunASR ``CTTransformer.inference``).

Labels are indices into ``punc_list`` = ``<unk> _ ， 。 ？ 、`` (ASCII ``,``/``?`` in old configs
are normalised by :func:`normalize_punc_list`).
"""

from __future__ import annotations

from dataclasses import dataclass

from funasr_lite.punc.words import is_ascii_char

CACHE_POP_TRIGGER_LIMIT = 200  # FunASR: windows longer than this may be cut at a comma
_ENDS = ("。", "？")
_ASCII_PUNC = {"，": ",", "。": ".", "？": "?"}


def normalize_punc_list(punc_list: list[str]) -> list[str]:
    """``,`` -> ``，`` and ``?`` -> ``？`` (idempotent), as 0.x ``Text2Punc`` and funasr_onnx do.

    FunASR 1.x compares labels with the full-width marks; the 1.x model configs store them
    full-width, 0.x configs ASCII.
    """
    return ["，" if p == "," else "？" if p == "?" else str(p) for p in punc_list]


@dataclass(frozen=True)
class WindowCut:
    """Where a non-final window is cut: emit ``words[:keep]``, carry ``words[keep:]``.

    ``forced``: no 。/？ was found and the window (> 200 words) is cut at its last comma, whose
    label must then become ``sentence_end_id``.
    """

    keep: int
    forced: bool = False


def find_cut(labels: list[int], punc_list: list[str], limit: int = CACHE_POP_TRIGGER_LIMIT) -> WindowCut:
    """FunASR's search from index ``len-2`` down to 2 for the last 。/？ (then the last ，).

    Index 0, 1 and the last word are never cut points. Without any, the whole window is
    carried over (``keep == 0``).
    """
    sentence_end = -1
    last_comma = -1
    for i in range(len(labels) - 2, 1, -1):
        mark = punc_list[labels[i]]
        if mark in _ENDS:
            sentence_end = i
            break
        if last_comma < 0 and mark == "，":
            last_comma = i
    if sentence_end < 0 and len(labels) > limit and last_comma >= 0:
        return WindowCut(last_comma + 1, forced=True)
    return WindowCut(sentence_end + 1)


def render_window(words: list[str], labels: list[int], punc_list: list[str]) -> str:
    """Surface text of one emitted window (capitalisation, spaces, marks).

    - An ASCII-initial word is ``capitalize()``d (rest lower-cased) when it opens the window or
      follows 。/？ (window-local: a window boundary mid-sentence also capitalises).
    - A space goes before an ASCII-initial word that opens the window or follows another
      ASCII-initial word.
    - The mark follows unless the label is ``_``; after an ASCII-initial word ，。？ become ,.?
      (``<unk>`` and 、 are written as they are).
    """
    out: list[str] = []
    for i, (word, label) in enumerate(zip(words, labels)):
        ascii_word = is_ascii_char(word[0])
        if ascii_word and (i == 0 or punc_list[labels[i - 1]] in _ENDS):
            word = word.capitalize()
        if ascii_word and (i == 0 or is_ascii_char(words[i - 1][0])):
            word = " " + word
        out.append(word)
        mark = punc_list[label]
        if mark != "_":
            out.append(_ASCII_PUNC.get(mark, mark) if ascii_word else mark)
    return "".join(out)


def finish_text(text: str) -> tuple[str, bool]:
    """End fix-up after the final window: ``(text, last_label_becomes_sentence_end)``.

    A trailing ，/、 becomes 。, a trailing ``,`` becomes ``.``; otherwise a final non-ASCII char
    other than 。/？ gets 。 appended and a final ASCII char other than ``.``/``?`` gets ``.``.
    """
    last = text[-1]
    if last in ("，", "、"):
        return text[:-1] + "。", True
    if last == ",":
        return text[:-1] + ".", True
    if not is_ascii_char(last):
        return (text, False) if last in _ENDS else (text + "。", True)
    return (text, False) if last in (".", "?") else (text + ".", True)


def _expands(word: str) -> bool:
    # FunASR tests "\u0e00" <= c <= "\u9fa5" -- a typo for \u4e00 that it ships; kept as is.
    return "\u0e00" <= word[0] <= "\u9fa5" and len(word) > 1


def expand_punc_array(words: list[str], labels: list[int]) -> list[int]:
    """Word-level labels -> one per character for the jieba model.

    Each extra character of a word whose FIRST char is in ``[\\u0e00, \\u9fa5]`` gets label 1
    (``_``) in front, so the word's mark stays on its last character. Other words (English,
    digits, ``2024``, ``鿐鿐`` above \\u9fa5) keep one label.
    """
    out: list[int] = []
    for word, label in zip(words, labels):
        if _expands(word):
            out.extend([1] * (len(word) - 1))
        out.append(label)
    return out
