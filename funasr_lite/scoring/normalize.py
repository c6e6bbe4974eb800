"""Text normalisation applied to reference and hypothesis before tokenising.

Steps, in this order, each switchable (defaults in brackets):

1. ``fold_width`` [on]: full-width ASCII forms U+FF01..U+FF5E (``！``..``～``, ``Ａ``,
   ``１``, ``，``, ``？``) become their ASCII twins, U+3000 (ideographic space) becomes a
   space, and U+FFE0..U+FFE6 (``￠￡￢￣￤￥￦``) become ``¢£¬¯¦¥₩``. Nothing else is
   touched: unlike NFKC, CJK ideographs, kana, radicals and compatibility ideographs stay
   as written.
2. ``lowercase`` [on]: ``str.lower()`` (a no-op on CJK).
3. ``remove_tags`` [angle, square]: drop bracketed tags of the chosen kinds, each
   replaced by a space: ``angle`` ``<unk>``, ``square`` ``[noise]``, ``round``
   ``(laugh)``, ``curly`` ``{breath}``. A tag is the shortest span from an opening to a
   closing bracket of the same kind (spaces allowed inside, no nesting). ``round`` is off
   by default because Chinese text uses parentheses for ordinary content.
4. ``strip_punct`` [on]: every Unicode punctuation character (categories ``P*``: CJK
   ``，。？！、；：“”《》…—`` and ASCII ``!"#%&'()*,-./:;?@[\\]_{}``) and the ASCII
   symbols ``` ` ^ | ~ ``` become spaces, except an apostrophe (``'`` or ``’``) between two
   letters/digits, which is kept as ``'`` (``don't`` stays one word). Other symbols
   (``$ + < = > %``... ``%`` is punctuation, ``+`` is not) are kept.
5. ``strip_spaces`` [off]: delete all whitespace, like the Mandarin recipes'
   ``tr -d " "``. This glues Latin words together (``hello world`` -> ``helloworld``),
   so it only makes sense for pure-CJK text or with character tokenisation.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

TAG_KINDS: dict[str, str] = {
    "angle": r"<[^<>]*>",
    "square": r"\[[^\[\]]*\]",
    "round": r"\([^()]*\)",
    "curly": r"\{[^{}]*\}",
}
DEFAULT_TAG_KINDS: tuple[str, ...] = ("angle", "square")

_EXTRA_PUNCT = frozenset("`^|~")
_APOSTROPHES = frozenset("'\u2019")
_WIDTH_MAP: dict[int, str] = {cp: chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)}
_WIDTH_MAP[0x3000] = " "
_WIDTH_MAP.update({0xFFE0 + k: ch for k, ch in enumerate("\u00a2\u00a3\u00ac\u00af\u00a6\u00a5\u20a9")})


@dataclass(frozen=True)
class NormalizeOptions:
    """Which normalisation steps to apply (see the module docstring for each)."""

    fold_width: bool = True
    lowercase: bool = True
    remove_tags: tuple[str, ...] = field(default=DEFAULT_TAG_KINDS)
    strip_punct: bool = True
    strip_spaces: bool = False

    def __post_init__(self) -> None:
        unknown = [k for k in self.remove_tags if k not in TAG_KINDS]
        if unknown:
            raise ValueError(f"unknown tag kind(s) {unknown}; choose from {sorted(TAG_KINDS)}")


def fold_width(text: str) -> str:
    """Map full-width ASCII forms and the ideographic space to their narrow forms."""
    return text.translate(_WIDTH_MAP)


def remove_tags(text: str, kinds: tuple[str, ...]) -> str:
    """Replace bracketed tags of the given kinds by a space."""
    for kind in kinds:
        text = re.sub(TAG_KINDS[kind], " ", text)
    return text


def is_punct(ch: str) -> bool:
    """True for Unicode punctuation (``P*``) and the ASCII symbols `` ` ^ | ~ ``."""
    return ch in _EXTRA_PUNCT or unicodedata.category(ch).startswith("P")


def strip_punct(text: str) -> str:
    """Replace punctuation by spaces, keeping word-internal apostrophes as ``'``."""
    out = []
    last = len(text) - 1
    for k, ch in enumerate(text):
        if not is_punct(ch):
            out.append(ch)
        elif ch in _APOSTROPHES and 0 < k < last and text[k - 1].isalnum() and text[k + 1].isalnum():
            out.append("'")
        else:
            out.append(" ")
    return "".join(out)


def normalize(text: str, opts: NormalizeOptions = NormalizeOptions()) -> str:
    """Apply the enabled steps of ``opts`` to ``text`` (see module docstring for the order)."""
    if opts.fold_width:
        text = fold_width(text)
    if opts.lowercase:
        text = text.lower()
    if opts.remove_tags:
        text = remove_tags(text, opts.remove_tags)
    if opts.strip_punct:
        text = strip_punct(text)
    if opts.strip_spaces:
        text = "".join(text.split())
    return text
