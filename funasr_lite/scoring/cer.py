"""Score a hypothesis Kaldi text against a reference: per-utterance and total C/S/D/I.

Missing-hypothesis policy (``mode``, Kaldi ``compute-wer --mode`` names):

* ``all`` (default): a reference utterance without a hypothesis is scored against an
  empty hypothesis, i.e. all its tokens are deletions (N = D = its length);
* ``present``: such utterances are skipped (the result is marked partial);
* ``strict``: any missing hypothesis is an ``InputError``.

Hypotheses whose key is not in the reference are ignored in every mode and counted.
Utterances are reported in reference-file order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from funasr_lite.errors import InputError
from funasr_lite.scoring.align import AlignedPair, ErrorCounts, align, count_ops
from funasr_lite.scoring.fileio import PathLike, read_kaldi_text
from funasr_lite.scoring.normalize import NormalizeOptions, normalize
from funasr_lite.scoring.tokenize import tokenize

MODES: tuple[str, ...] = ("all", "present", "strict")


@dataclass
class UttScore:
    """One scored utterance: its alignment, counts, and whether the hypothesis was missing."""

    key: str
    pairs: list[AlignedPair]
    counts: ErrorCounts
    missing_hyp: bool = False


@dataclass
class CerReport:
    """All scored utterances, their total, and the key bookkeeping."""

    utts: list[UttScore] = field(default_factory=list)
    total: ErrorCounts = field(default_factory=ErrorCounts)
    missing_hyp: list[str] = field(default_factory=list)
    extra_hyp: list[str] = field(default_factory=list)
    mode: str = "all"

    @property
    def sentence_errors(self) -> int:
        """Number of scored utterances with at least one error."""
        return sum(1 for u in self.utts if u.counts.errors > 0)

    @property
    def partial(self) -> bool:
        """True when reference utterances were skipped (``present`` mode with missing hyps)."""
        return self.mode == "present" and bool(self.missing_hyp)


def score_pair(key: str, ref: str, hyp: str | None, opts: NormalizeOptions, char: bool) -> UttScore:
    """Normalise, tokenise and align one utterance (``hyp=None``: missing, scored as empty)."""
    ref_tokens = tokenize(normalize(ref, opts), char=char)
    hyp_tokens = tokenize(normalize(hyp, opts), char=char) if hyp is not None else []
    pairs = align(ref_tokens, hyp_tokens)
    return UttScore(key, pairs, count_ops(pairs), missing_hyp=hyp is None)


def score_texts(
    ref: dict[str, str],
    hyp: dict[str, str],
    opts: NormalizeOptions = NormalizeOptions(),
    char: bool = False,
    mode: str = "all",
    hyp_name: str = "hyp",
) -> CerReport:
    """Score key->text maps; ``hyp_name`` names the hypothesis source in ``strict`` errors."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    report = CerReport(mode=mode)
    report.missing_hyp = [k for k in ref if k not in hyp]
    report.extra_hyp = [k for k in hyp if k not in ref]
    if mode == "strict" and report.missing_hyp:
        first = report.missing_hyp[0]
        raise InputError(
            hyp_name,
            f"{len(report.missing_hyp)} reference utterance(s) have no hypothesis (first: {first}); "
            "use --mode all or --mode present",
        )
    for key, ref_text in ref.items():
        hyp_text = hyp.get(key)
        if hyp_text is None and mode == "present":
            continue
        utt = score_pair(key, ref_text, hyp_text, opts, char)
        report.utts.append(utt)
        report.total += utt.counts
    return report


def score_files(
    ref_path: PathLike,
    hyp_path: PathLike,
    opts: NormalizeOptions = NormalizeOptions(),
    char: bool = False,
    mode: str = "all",
) -> CerReport:
    """Read two Kaldi text files and score them (see ``score_texts``)."""
    ref = read_kaldi_text(ref_path)
    hyp = read_kaldi_text(hyp_path)
    return score_texts(ref, hyp, opts=opts, char=char, mode=mode, hyp_name=str(hyp_path))
