"""SeACo-Paraformer hotwords: FunASR's ``hotword`` argument -> token-id lists for the bias encoder.

FunASR 1.4.16's ``SeacoParaformer.generate_hotwords_list`` (``funasr/models/seaco_paraformer/model.py``),
rule by rule:

- ``None`` -> ``None`` (no biasing).
- An existing path whose name ends in ``.txt``: one hotword per line (``line.strip()``); a line's
  space-separated words are tokenised one after another into one hotword (``"今天 天气"`` is one
  hotword of four characters).
- A string starting with ``http``: FunASR downloads it; funasr_lite downloads nothing, so this is
  an ``InputError`` (save the list as a local ``.txt`` file).
- Any other string not ending in ``.txt``: every whitespace-separated word is one hotword. An
  empty string gives no word, so only ``<s>`` is in the list: biasing still runs (not ``None``).
- A ``.txt`` name that does not exist: ``None``, as FunASR (funasr_lite also logs a warning).
- Tokenising a word (``seg_tokenize``, only when the model folder has a ``seg_dict``): lower-cased;
  a ``seg_dict`` entry gives its pieces; otherwise a word of CJK characters (U+4E00..U+9FA5) and
  digits is split into characters, each looked up in ``seg_dict`` (``<unk>`` if absent); any
  other word is ``<unk>``. Without ``seg_dict`` the whole word is one token. Tokens not in the
  token list are ``<unk>``.
- ``[sos]`` is appended as the last hotword.

One deliberate difference: an empty line of a file (a hotword with no token) is skipped; FunASR
passes it to the LSTM, which raises.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

from funasr_lite.errors import InputError

log = logging.getLogger(__name__)

_CJK_OR_DIGITS = re.compile(r"^[\u4E00-\u9FA50-9]+$")  # FunASR's seg_tokenize pattern
UNK = "<unk>"


def read_seg_dict(path: str | Path) -> dict[str, str]:
    """FunASR's ``load_seg_dict``: ``word piece piece ...`` per line -> ``{word: "piece piece"}`` (UTF-8)."""
    seg: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.strip().split()
            if parts:  # FunASR raises on an empty line
                seg[parts[0]] = " ".join(parts[1:])
    return seg


def seg_tokenize(words: Sequence[str], seg_dict: dict[str, str]) -> list[str]:
    """FunASR's ``seg_tokenize``: words -> tokens through ``seg_dict`` (see the module docstring)."""
    out = ""
    for word in words:
        word = word.lower()
        if word in seg_dict:
            out += seg_dict[word] + " "
        elif _CJK_OR_DIGITS.match(word):
            for char in word:
                out += (seg_dict[char] if char in seg_dict else UNK) + " "
        else:
            out += UNK + " "
    return out.strip().split()


class HotwordTokenizer:
    """Turns FunASR's ``hotword`` argument into token-id lists for one model folder."""

    def __init__(self, token_list: Sequence[str], seg_dict: dict[str, str] | None, sos: int) -> None:
        self.token2id = {t: i for i, t in enumerate(token_list)}
        self.unk_id = self.token2id.get(UNK)
        self.seg_dict = seg_dict
        self.sos = sos

    @classmethod
    def for_model_dir(cls, model_dir: str | Path, token_list: Sequence[str], sos: int) -> HotwordTokenizer:
        """FunASR reads ``seg_dict`` next to the CMVN file, i.e. in the model folder; without it words are not split."""
        path = Path(model_dir) / "seg_dict"
        return cls(token_list, read_seg_dict(path) if path.is_file() else None, sos)

    def ids(self, tokens: Sequence[str]) -> list[int]:
        """FunASR's ``tokens2ids``: unknown tokens become ``<unk>``."""
        out = []
        for t in tokens:
            i = self.token2id.get(t, self.unk_id)
            if i is None:
                raise InputError("hotword", f"token {t!r} is not in the token list, which has no {UNK}")
            out.append(i)
        return out

    def word_ids(self, words: Sequence[str]) -> list[int]:
        return self.ids(seg_tokenize(words, self.seg_dict) if self.seg_dict is not None else list(words))

    def __call__(self, hotword: str | os.PathLike | None) -> list[list[int]] | None:
        """FunASR's ``generate_hotwords_list``: a list of token-id lists ending with ``[sos]``, or ``None``."""
        if hotword is None:
            return None
        if isinstance(hotword, os.PathLike):
            hotword = os.fspath(hotword)
        if not isinstance(hotword, str):
            raise InputError(
                "hotword", f"must be a string of space-separated words or a .txt file, not {type(hotword).__name__}"
            )
        if os.path.exists(hotword) and hotword.endswith(".txt"):
            try:
                with open(hotword, encoding="utf-8") as f:
                    lines = f.readlines()
            except (OSError, UnicodeDecodeError) as e:
                raise InputError(hotword, f"cannot read the hotword file ({e})") from None
            hotwords = [self.word_ids(line.strip().split()) for line in lines]
            hotwords = [h for h in hotwords if h]  # an empty line: FunASR's LSTM raises
        elif hotword.startswith("http"):
            raise InputError(hotword, "funasr_lite downloads nothing: save the hotword list as a local .txt file")
        elif not hotword.endswith(".txt"):
            hotwords = [self.word_ids(hw.strip().split()) for hw in hotword.strip().split()]
        else:
            log.warning("hotword file %s does not exist: decoding without hotwords (as FunASR)", hotword)
            return None
        hotwords.append([self.sos])
        return hotwords
