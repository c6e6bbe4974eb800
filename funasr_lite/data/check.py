"""Checks of a Kaldi data dir beyond its format (``utils/validate_data_dir.sh`` does the format).

``check_data_dir`` returns one line per problem, ``<file>:<line>: utt <key>: <problem>``
(``rec <key>`` for a recording): missing audio files, duplicate keys, keys of ``text`` or
``utt2spk`` that are not utterances (and the reverse), empty transcripts, characters outside a
token list, and (``audio=True``) undecodable audio.

The utterances are the keys of ``segments`` when the dir has one (``wav.scp`` is then keyed by
recording id, as in Kaldi), else of ``wav.scp``. Each ``segments`` line is checked as the loader
reads it (``kaldi_lists.parse_segment``: 4 fields, numeric times, ``0 <= start < end`` or
``end == -1``, unique ids) and its recording must be in ``wav.scp``; recordings without segments
are only counted (an info line), as ``utils/validate_data_dir.sh`` only warns about them.
Transcripts are split into tokens by ``funasr_lite.chars.split_chars``, as ``bin/make_tokens`` does.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import soundfile

from funasr_lite.chars import split_chars
from funasr_lite.data.kaldi_lists import PathLike, parse_segment, read_lines, read_scp, read_text
from funasr_lite.errors import InputError

MAX_OOV_LINES = 10  # OOV utterances listed one by one; the rest are summarised


@dataclass
class CheckResult:
    """Problems (each one line) and informational lines (audio summary)."""

    problems: list[str] = field(default_factory=list)
    info: list[str] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)  # summary problems, listed after the sorted ones


def line_numbers(path: PathLike) -> dict[str, int]:
    """``key -> line number`` of its first line (numbering as ``kaldi_lists``)."""
    lines: dict[str, int] = {}
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(text.split("\n"), start=1):
        fields = line.lstrip("\ufeff").split(maxsplit=1)
        if fields:
            lines.setdefault(fields[0], number)
    return lines


def _is_local(source: str) -> bool:
    return not source.rstrip().endswith("|") and "://" not in source


def _read(path: Path, reader, problems: list[str]) -> dict[str, str] | None:
    """Read a list, turning its ``InputError`` (duplicate key, no value, ...) into a problem."""
    try:
        return reader(path)
    except InputError as e:
        problems.append(str(e))
        return None


def check_data_dir(data_dir: PathLike, tokens: list[str] | None = None, audio: bool = False) -> CheckResult:
    """Check ``data_dir/{wav.scp,segments,text,utt2spk}``; see the module docstring."""
    res = CheckResult()
    d = Path(data_dir)
    wav_path, seg_path, text_path, spk_path = d / "wav.scp", d / "segments", d / "text", d / "utt2spk"
    wavs = _read(wav_path, read_scp, res.problems)
    wav_lines = line_numbers(wav_path) if wavs is not None else {}
    wav_kind = "rec" if seg_path.exists() else "utt"
    if seg_path.exists():
        utt_path, utt_lines = seg_path, _check_segments(seg_path, wavs, res)
    else:
        utt_path, utt_lines = wav_path, (wav_lines if wavs is not None else None)
    missing: set[str] = set()
    for key, src in (wavs or {}).items():
        if _is_local(src) and not Path(src).is_file():
            missing.add(key)
            res.problems.append(f"{wav_path}:{wav_lines[key]}: {wav_kind} {key}: audio file not found: {src}")
    texts = _read(text_path, read_text, res.problems) if text_path.exists() else {}
    text_lines = line_numbers(text_path) if texts else {}
    if texts and utt_lines is not None:
        _compare_keys(text_path, text_lines, utt_path, utt_lines, res)
    spks = _read(spk_path, read_scp, res.problems) if spk_path.exists() else None
    if spks is not None and utt_lines is not None:
        _compare_keys(spk_path, line_numbers(spk_path), utt_path, utt_lines, res)
    if texts:
        _check_text(text_path, texts, text_lines, tokens, res)
    if audio and wavs is not None:
        _check_audio(wav_path, {k: v for k, v in wavs.items() if k not in missing}, wav_lines, wav_kind, res)
    res.problems.sort(key=_problem_order)
    res.problems += res.tail
    return res


def _compare_keys(
    path: Path, lines: dict[str, int], utt_path: Path, utt_lines: dict[str, int], res: CheckResult
) -> None:
    """Keys of ``path`` that are not utterances, and utterances missing from ``path``."""
    for key in lines.keys() - utt_lines.keys():
        res.problems.append(f"{path}:{lines[key]}: utt {key}: in {path.name} but not in {utt_path.name}")
    for key in utt_lines.keys() - lines.keys():
        res.problems.append(f"{utt_path}:{utt_lines[key]}: utt {key}: in {utt_path.name} but not in {path.name}")


def _check_segments(path: Path, wavs: dict[str, str] | None, res: CheckResult) -> dict[str, int] | None:
    """Check every ``segments`` line; returns ``segment id -> line`` (bad lines included), None if unreadable."""
    try:
        numbered = list(read_lines(path))
    except InputError as e:
        res.problems.append(str(e))
        return None
    lines: dict[str, int] = {}
    used: set[str] = set()
    for number, line in numbered:
        key = line.split()[0]
        where = f"{path}:{number}: utt {key}"
        if key in lines:
            res.problems.append(f"{where}: duplicate segment id (first on line {lines[key]})")
            continue
        lines[key] = number
        try:
            _, seg = parse_segment(line, where)
        except InputError as e:
            res.problems.append(str(e))
            continue
        used.add(seg.reco_id)
        if wavs is not None and seg.reco_id not in wavs:
            res.problems.append(f"{where}: recording {seg.reco_id} is not in wav.scp")
    unused = len((wavs or {}).keys() - used)
    if unused:
        res.info.append(f"wav.scp: {unused} recording(s) have no segments")
    return lines


def _problem_order(line: str) -> tuple[str, int]:
    """Sort problems by file, then line number."""
    m = re.match(r"(.*?):(\d+): ", line)
    return (m.group(1), int(m.group(2))) if m else (line, 0)


def _check_text(
    path: Path, texts: dict[str, str], lines: dict[str, int], tokens: list[str] | None, res: CheckResult
) -> None:
    """Empty transcripts and out-of-vocabulary characters."""
    vocab = set(tokens or ())
    oov_utts, oov_chars = 0, Counter()
    for key, text in texts.items():
        where = f"{path}:{lines[key]}: utt {key}"
        if not text.strip():
            res.problems.append(f"{where}: empty transcript")
            continue
        if tokens is None:
            continue
        oov = [c for c in dict.fromkeys(split_chars(text)) if c not in vocab]
        if oov:
            oov_utts += 1
            oov_chars.update(oov)
            if oov_utts <= MAX_OOV_LINES:
                res.problems.append(f"{where}: not in token list: {' '.join(map(repr, oov))}")
    if oov_utts > MAX_OOV_LINES:
        top = ", ".join(f"{c!r} x{n}" for c, n in oov_chars.most_common(10))
        res.tail.append(
            f"{path}: {oov_utts - MAX_OOV_LINES} more utterances with tokens outside "
            f"the list ({len(oov_chars)} distinct; most common: {top})"
        )


def _check_audio(path: Path, wavs: dict[str, str], lines: dict[str, int], kind: str, res: CheckResult) -> None:
    """Decode every file; report failures as problems, rates/channels/durations as info."""
    from funasr_lite.frontend.audio import load_audio  # lazy: text-only checks stay light

    rates, channels, durations = Counter(), Counter(), []
    for key, src in wavs.items():
        try:
            result = load_audio(src, key=key)
        except InputError as e:
            res.problems.append(f"{path}:{lines[key]}: {kind} {key}: {e.problem}")
            continue
        rates[result.sample_rate_orig] += 1
        durations.append(result.duration_s)
        try:
            channels[soundfile.info(src).channels if _is_local(src) else "?"] += 1
        except (RuntimeError, OSError):  # decoded by ffmpeg: channel count unknown here
            channels["?"] += 1
    if durations:
        res.info.append("sample rates: " + ", ".join(f"{r} Hz x{n}" for r, n in sorted(rates.items())))
        res.info.append("channels: " + ", ".join(f"{c} x{n}" for c, n in sorted(channels.items(), key=str)))
        res.info.append(
            f"durations: {len(durations)} files, total {sum(durations):.1f} s ({sum(durations) / 3600:.2f} h), "
            f"min {min(durations):.2f} s, mean {sum(durations) / len(durations):.2f} s, "
            f"max {max(durations):.2f} s"
        )
