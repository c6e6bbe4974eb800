"""Text side of CT-Transformer punctuation: word splitting, windowing and surface-text rules.

Pure functions on strings and label ids, reproducing FunASR 1.4.16
(``funasr/models/ct_transformer/{model.py,utils.py}``); the network is in
``funasr_lite.models.ct_transformer``.
"""

from funasr_lite.punc.rules import (
    WindowCut,
    expand_punc_array,
    find_cut,
    finish_text,
    normalize_punc_list,
    render_window,
)
from funasr_lite.punc.words import is_english, split_to_mini_sentence, split_words

__all__ = [
    "WindowCut",
    "expand_punc_array",
    "find_cut",
    "finish_text",
    "is_english",
    "normalize_punc_list",
    "render_window",
    "split_to_mini_sentence",
    "split_words",
]
