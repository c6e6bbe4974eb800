"""Token -> text: FunASR's ``sentence_postprocess`` and ``abbr_dispose`` (``funasr/utils/postprocess_utils.py``).

Rules (``sentence_postprocess`` in ``funasr/utils/postprocess_utils.py``), reproduced with their quirks:

- ``<s>``, ``</s>``, ``<unk>``, ``<OOV>`` are dropped from the words, but **not** from the
  timestamps: the timestamp list is indexed by position in the filtered word list, so after an
  ``<unk>`` words and timestamps drift apart (FunASR behaviour, kept).
- "Chinese" means CJK U+4E00..U+9FFF, ASCII digits or ``@``, compared as *strings* (a
  multi-character token is compared lexicographically, as FunASR does).
- All-Chinese: one word per token. Otherwise ``xx@@`` pieces are glued to the next alpha piece
  (a trailing unfinished piece is dropped); an English word is followed by a space unless a
  Chinese token comes next; runs of single letters ``a b c`` become one upper-case word ``ABC``.
- With timestamps the text is the words joined by single spaces; without, the words joined
  with no separator (English words keep their trailing space), stripped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

_DROPPED = ("<s>", "</s>", "<unk>", "<OOV>")


@dataclass
class TextResult:
    """``text``; ``timestamps`` (``None`` when none were given); ``words`` (the non-space words)."""

    text: str
    timestamps: list[list[int]] | None = None
    words: list[str] = field(default_factory=list)


def ids_to_tokens(ids: Sequence[int], token_list: Sequence[str]) -> list[str]:
    """Token strings for ids (``CharTokenizer.ids2tokens``)."""
    return [token_list[i] for i in ids]


def is_chinese(ch: str) -> bool:
    """FunASR's ``isChinese``: string comparison against CJK, ``0``-``9`` and ``@``."""
    return "\u4e00" <= ch <= "\u9fff" or "\u0030" <= ch <= "\u0039" or ch == "@"


def _clean(word: str) -> str:
    for junk in (" ", "</s>", "<s>", "<unk>", "<OOV>"):
        word = word.replace(junk, "")
    return word


def is_all_chinese(words: Sequence[str] | str) -> bool:
    """FunASR's ``isAllChinese`` (iterates a string character by character)."""
    cleaned = [_clean(w) for w in words]
    return bool(cleaned) and all(is_chinese(w) for w in cleaned)


def is_all_alpha(words: Sequence[str] | str) -> bool:
    """FunASR's ``isAllAlpha``: every entry alphabetic (or ``'``) and not "Chinese"."""
    cleaned = [_clean(w) for w in words]
    if not cleaned:
        return False
    for w in cleaned:
        if not w.isalpha() and w != "'":
            return False
        if w.isalpha() and is_chinese(w):
            return False
    return True


def _single_ascii_letter(word: str) -> bool:
    return len(word) == 1 and word.encode("utf-8").isalpha()


def abbr_dispose(words: list[str], timestamps: list[list[int]] | None = None) -> tuple[list[str], list[list[int]]]:
    """Merge single letters separated by ``" "`` into one upper-case word; merge their timestamps.

    ``timestamps`` are indexed by non-space word position. Returns (words, timestamps); the
    timestamp list is empty when ``timestamps`` is ``None``.
    """
    n = len(words)
    abbr_begin: list[int] = []
    abbr_end: list[int] = []
    last = -1
    for start in range(n):
        if start <= last or not _single_ascii_letter(words[start]):
            continue
        if start + 2 < n and words[start + 1] == " " and _single_ascii_letter(words[start + 2]):
            abbr_begin.append(start)
            num = start + 2
            abbr_end.append(num)
            while True:
                num += 1
                if num < n and words[num] == " ":
                    num += 1
                    if num < n and _single_ascii_letter(words[num]):
                        abbr_end[-1] = num
                        last = num
                    else:
                        break
                else:
                    break
    ts_index: list[int] = []  # word position -> timestamp index
    k = 0
    for w in words:
        ts_index.append(k)
        if w != " ":
            k += 1
    out_words: list[str] = []
    out_ts: list[list[int]] = []
    last = -1
    for start in range(n):
        if start <= last:
            continue
        if start in abbr_begin:
            begin = timestamps[ts_index[start]][0] if timestamps is not None else None
            word = words[start].upper()
            num = start + 1
            while num < n:
                if num in abbr_end:
                    word += words[num].upper()
                    last = num
                    break
                if words[num].encode("utf-8").isalpha():
                    word += words[num].upper()
                num += 1
            out_words.append(word)
            if timestamps is not None and ts_index[num] < len(timestamps):
                out_ts.append([begin, timestamps[ts_index[num]][1]])  # type: ignore[list-item]
        else:
            out_words.append(words[start])
            if timestamps is not None and ts_index[start] < len(timestamps) and words[start] != " ":
                out_ts.append([timestamps[ts_index[start]][0], timestamps[ts_index[start]][1]])
    return out_words, out_ts


def _split_words(middle: list[str], timestamps: list[list[int]] | None) -> tuple[list[str], list[list[int]]]:
    """The three branches of ``sentence_postprocess``: all-Chinese, all-alpha, mixed."""
    words: list[str] = []
    ts: list[list[int]] = []
    if is_all_chinese(middle):
        words = [w.replace(" ", "") for w in middle]
        return words, list(timestamps) if timestamps is not None else []

    def at(i: int) -> list[int]:
        return timestamps[i]  # type: ignore[index]

    item = ""
    begin: int = -1
    end: int = -1
    take_begin = True
    if is_all_alpha(middle):
        for i, piece in enumerate(middle):
            if take_begin and timestamps is not None:
                begin, end = at(i)[0], at(i)[1]
            if "@@" in piece:
                item += piece.replace("@@", "")
                if timestamps is not None:
                    take_begin = False
                    end = at(i)[1]
            else:
                item += piece
                words += [item, " "]
                item = ""
                if timestamps is not None:
                    take_begin = True
                    end = at(i)[1]
                    ts.append([begin, end])
                    begin = end
        return words, ts
    alpha_blank = False
    for i, piece in enumerate(middle):
        if take_begin and timestamps is not None:
            begin, end = at(i)[0], at(i)[1]
        if is_all_chinese(piece):
            if alpha_blank:
                words.pop()
            words.append(piece)
            alpha_blank = False
            if timestamps is not None:
                take_begin = True
                ts.append([begin, end])
                begin = end
        elif "@@" in piece:
            item += piece.replace("@@", "")
            alpha_blank = False
            if timestamps is not None:
                take_begin = False
                end = at(i)[1]
        elif is_all_alpha(piece):
            item += piece
            words += [item, " "]
            item = ""
            alpha_blank = True
            if timestamps is not None:
                take_begin = True
                end = at(i)[1]
                ts.append([begin, end])
                begin = end
        else:
            words.append(piece)
    return words, ts


def tokens_to_text(tokens: Sequence[str | bytes], timestamps: list[list[int]] | None = None) -> TextResult:
    """FunASR's ``sentence_postprocess(tokens[, timestamps])`` as a :class:`TextResult`.

    With timestamps FunASR returns ``(text, timestamps, words)``; without, ``(text, words)``.
    """
    middle = []
    for t in tokens:
        word = t if isinstance(t, str) else t.decode("utf-8")
        if word not in _DROPPED:
            middle.append(word)
    words, ts = _split_words(middle, timestamps)
    if timestamps is not None:
        words, ts = abbr_dispose(words, ts)
        real = [w for w in words if w != " "]
        return TextResult(" ".join(real).strip(), ts, real)
    words, _ = abbr_dispose(words)
    return TextResult("".join(words).strip(), None, [w for w in words if w != " "])
