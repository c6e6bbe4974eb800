"""Error-rate scoring (CER/WER) of Kaldi ``text`` files, WeNet/Kaldi compute-wer style.

Modules, one job each: ``tokenize`` (text -> tokens), ``normalize`` (text clean-up
before tokenising), ``align`` (Levenshtein alignment and C/S/D/I counts), ``fileio``
(read Kaldi text files, write outputs atomically), ``cer`` (score two key->text maps),
``report`` (render the WeNet/Kaldi text report and the JSON summary).
"""

from funasr_lite.scoring.align import AlignedPair, ErrorCounts, align, count_ops
from funasr_lite.scoring.cer import MODES, CerReport, UttScore, score_files, score_texts
from funasr_lite.scoring.normalize import TAG_KINDS, NormalizeOptions, normalize
from funasr_lite.scoring.report import format_report, summary_dict
from funasr_lite.scoring.tokenize import tokenize

__all__ = [
    "AlignedPair",
    "CerReport",
    "ErrorCounts",
    "MODES",
    "NormalizeOptions",
    "TAG_KINDS",
    "UttScore",
    "align",
    "count_ops",
    "format_report",
    "normalize",
    "score_files",
    "score_texts",
    "summary_dict",
    "tokenize",
]
