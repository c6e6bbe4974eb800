"""Render a ``CerReport`` as WeNet/Kaldi-style text and as a JSON-able summary.

Text layout (per utterance blocks only with ``per_utt=True``)::

    utt: BAC009S0764W0121
    WER: 8.33 % N=12 C=11 S=1 D=0 I=0
    lab: 甚 至 出 现 ...
    rec: 甚 至 出 线 ...

    ===========================================================================

    Overall -> 8.33 % N=12 C=11 S=1 D=0 I=0
    %WER 8.33 [ 1 / 12, 0 ins, 0 del, 1 sub ]
    %SER 100.00 [ 1 / 1 ]
    Scored 1 sentences, 0 not present in hyp (scored as deletions), 0 hypotheses without reference (ignored).

``lab:``/``rec:`` columns are padded to the display width of the wider token (CJK and
other East-Asian wide characters count 2 columns); the empty side of a deletion or an
insertion is blank (or ``_`` with ``padding="_"``). A rate is ``x.xx``; when N=0 and
there are errors (insertions against an empty reference) it is ``inf``.
"""

from __future__ import annotations

from typing import Any

from funasr_lite.chars import is_wide
from funasr_lite.scoring.align import ErrorCounts
from funasr_lite.scoring.cer import CerReport, UttScore

RULE = "=" * 75
_MISSING_POLICY = {"all": "scored as deletions", "present": "skipped", "strict": "none allowed"}


def display_width(text: str) -> int:
    """Terminal columns of ``text``: 2 for East-Asian wide/full-width characters, else 1."""
    return sum(2 if is_wide(ch) else 1 for ch in text)


def format_rate(rate: float | None) -> str:
    """``x.xx``, or ``inf`` for an undefined rate (errors against zero reference tokens)."""
    return "inf" if rate is None else f"{rate:.2f}"


def format_counts(counts: ErrorCounts) -> str:
    """``x.xx % N=.. C=.. S=.. D=.. I=..`` (WeNet)."""
    return f"{format_rate(counts.rate)} % N={counts.n} C={counts.c} S={counts.s} D={counts.d} I={counts.i}"


def format_alignment(utt: UttScore, padding: str = " ") -> tuple[str, str]:
    """The ``lab:`` and ``rec:`` lines of one utterance, columns aligned."""
    lab, rec = ["lab:"], ["rec:"]
    for pair in utt.pairs:
        ref_tok, hyp_tok = pair.ref or "", pair.hyp or ""
        width = max(display_width(ref_tok), display_width(hyp_tok))
        lab.append(ref_tok + padding * (width - display_width(ref_tok)))
        rec.append(hyp_tok + padding * (width - display_width(hyp_tok)))
    return " ".join(lab).rstrip(), " ".join(rec).rstrip()


def format_utt(utt: UttScore, padding: str = " ") -> str:
    """The four-line WeNet block of one utterance."""
    lab, rec = format_alignment(utt, padding)
    return f"utt: {utt.key}\nWER: {format_counts(utt.counts)}\n{lab}\n{rec}\n"


def kaldi_wer_line(report: CerReport) -> str:
    """``%WER x.xx [ E / N, I ins, D del, S sub ]`` plus `` [PARTIAL]`` when utterances were skipped."""
    t = report.total
    line = f"%WER {format_rate(t.rate)} [ {t.errors} / {t.n}, {t.i} ins, {t.d} del, {t.s} sub ]"
    return line + " [PARTIAL]" if report.partial else line


def kaldi_ser_line(report: CerReport) -> str:
    """``%SER x.xx [ errors / sentences ]``."""
    n_sent, n_err = len(report.utts), report.sentence_errors
    ser = 100.0 * n_err / n_sent if n_sent else 0.0
    return f"%SER {ser:.2f} [ {n_err} / {n_sent} ]"


def keys_line(report: CerReport) -> str:
    """How many sentences were scored, references lacked a hypothesis, hypotheses lacked a reference."""
    return (
        f"Scored {len(report.utts)} sentences, {len(report.missing_hyp)} not present in hyp "
        f"({_MISSING_POLICY[report.mode]}), {len(report.extra_hyp)} hypotheses without reference (ignored)."
    )


def format_report(report: CerReport, per_utt: bool = True, padding: str = " ") -> str:
    """The whole text report: per-utterance blocks, a rule, then the summary lines."""
    parts = [format_utt(u, padding) + "\n" for u in report.utts] if per_utt else []
    parts.append(f"{RULE}\n\n")
    parts.append(f"Overall -> {format_counts(report.total)}\n")
    parts.append(kaldi_wer_line(report) + "\n")
    parts.append(kaldi_ser_line(report) + "\n")
    parts.append(keys_line(report) + "\n")
    return "".join(parts)


def summary_dict(report: CerReport) -> dict[str, Any]:
    """Totals for ``--json``: ``cer`` (percent, None when undefined), counts, sentence and key stats."""
    t = report.total
    n_sent = len(report.utts)
    rate = t.rate
    return {
        "cer": None if rate is None else round(rate, 4),
        "n": t.n,
        "c": t.c,
        "s": t.s,
        "d": t.d,
        "i": t.i,
        "errors": t.errors,
        "sentences": n_sent,
        "sentence_errors": report.sentence_errors,
        "ser": round(100.0 * report.sentence_errors / n_sent, 4) if n_sent else 0.0,
        "missing_hyp": len(report.missing_hyp),
        "extra_hyp": len(report.extra_hyp),
        "mode": report.mode,
        "partial": report.partial,
    }
