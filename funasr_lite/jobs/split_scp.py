#!/usr/bin/env python3
"""Split a Kaldi scp/list file into contiguous, near-equal chunks (Kaldi split_scp.pl conventions).

Usage:
  utils/split_scp.py [--utt2spk FILE] in.scp out.1 out.2 ... out.N
  utils/split_scp.py [--utt2spk FILE] -j N JOB [--one-based] in.scp [out]

The first form writes every chunk; the second writes only chunk JOB of N (to stdout
without ``out``). JOB counts from 0 as in Kaldi, from 1 with ``--one-based``.
Without --utt2spk, L lines give chunks of floor(L/N) lines, the first L mod N chunks
one line more. With --utt2spk, a speaker's lines are never split: whole speakers go
to chunks, contiguous in file order, with each boundary put at the speaker boundary
nearest to an equal share of lines. A speaker's lines must be contiguous in the input.
Exit status: 1 if a chunk would be empty (fewer lines/speakers than chunks), a key
is missing from utt2spk, or a file cannot be read; 2 on usage errors.
Standard library only, so it runs without the funasr_lite package. It ships in the package
(funasr_lite/jobs/split_scp.py; utils/split_scp.py links here), which splits lists with it in-process.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

PROG = "split_scp.py"


class SplitError(Exception):
    """Input that cannot be split as asked (reported as one line, exit 1)."""


def read_lines(path: str) -> list[str]:
    """Non-blank lines of ``path`` ('-': stdin), newline kept."""
    try:
        if path == "-":
            lines = sys.stdin.readlines()
        else:
            with open(path, encoding="utf-8", errors="surrogateescape") as handle:
                lines = handle.readlines()
    except OSError as err:
        raise SplitError(f"{path}: cannot read ({err.strerror})") from None
    return [ln if ln.endswith("\n") else ln + "\n" for ln in lines if ln.strip()]


def read_utt2spk(path: str) -> dict[str, str]:
    """utt -> speaker from a two-column file."""
    table: dict[str, str] = {}
    for lineno, line in enumerate(read_lines(path), start=1):
        fields = line.split()
        if len(fields) != 2:
            raise SplitError(f"{path} line {lineno}: expected '<utt> <spk>', got {len(fields)} fields")
        table[fields[0]] = fields[1]
    return table


def even_sizes(total: int, parts: int) -> list[int]:
    """Kaldi sizes: floor(total/parts) each, the first ``total % parts`` one more."""
    base, extra = divmod(total, parts)
    return [base + (1 if k < extra else 0) for k in range(parts)]


def group_by_speaker(lines: list[str], utt2spk: dict[str, str], scp: str) -> list[list[str]]:
    """Lines grouped into contiguous per-speaker runs, in file order."""
    groups: list[list[str]] = []
    seen: set[str] = set()
    last: str | None = None
    for lineno, line in enumerate(lines, start=1):
        key = line.split()[0]
        if key not in utt2spk:
            raise SplitError(f"{scp} line {lineno}: key {key} not found in utt2spk")
        spk = utt2spk[key]
        if spk != last:
            if spk in seen:
                raise SplitError(f"{scp} line {lineno}: speaker {spk} is not contiguous (sort by speaker first)")
            seen.add(spk)
            groups.append([])
            last = spk
        groups[-1].append(line)
    return groups


def speaker_chunks(groups: list[list[str]], parts: int) -> list[list[str]]:
    """Contiguous speaker groups -> ``parts`` non-empty chunks of near-equal line counts."""
    n_spk = len(groups)
    if n_spk < parts:
        raise SplitError(f"refusing to split {n_spk} speaker(s) into {parts} chunks: a chunk would be empty")
    prefix = [0]
    for g in groups:
        prefix.append(prefix[-1] + len(g))
    total = prefix[-1]
    bounds = [0]
    for k in range(1, parts):
        lo, hi = bounds[-1] + 1, n_spk - (parts - k)
        target = total * k / parts
        bounds.append(min(range(lo, hi + 1), key=lambda b: (abs(prefix[b] - target), b)))
    bounds.append(n_spk)
    return [[ln for g in groups[a:b] for ln in g] for a, b in zip(bounds, bounds[1:])]


def split_lines(lines: list[str], parts: int, utt2spk: dict[str, str] | None, scp: str) -> list[list[str]]:
    """All ``parts`` chunks of ``lines``."""
    if parts < 1:
        raise SplitError("number of chunks must be at least 1")
    if utt2spk is not None:
        return speaker_chunks(group_by_speaker(lines, utt2spk, scp), parts)
    if len(lines) < parts:
        raise SplitError(f"refusing to split {len(lines)} line(s) of {scp} into {parts} chunks: a chunk would be empty")
    chunks, start = [], 0
    for size in even_sizes(len(lines), parts):
        chunks.append(lines[start : start + size])
        start += size
    return chunks


def write_chunk(path: str | None, lines: list[str]) -> None:
    """Write lines to ``path`` (None or '-': stdout)."""
    if path is None or path == "-":
        sys.stdout.writelines(lines)
        return
    try:
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.writelines(lines)
    except OSError as err:
        raise SplitError(f"{path}: cannot write ({err.strerror})") from None


def get_parser() -> argparse.ArgumentParser:
    """Command-line parser."""
    p = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--utt2spk", metavar="FILE", default=None, help="keep each speaker's lines in one chunk")
    p.add_argument("-j", nargs=2, type=int, metavar=("N", "JOB"), default=None, help="write only chunk JOB of N")
    p.add_argument("--one-based", action="store_true", help="with -j: JOB counts from 1 (default: from 0)")
    p.add_argument("files", nargs="+", metavar="FILE", help="in.scp, then output file(s)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = get_parser()
    args = parser.parse_args(argv)
    scp, outs = args.files[0], args.files[1:]
    if args.j is None:
        if not outs:
            parser.error("give at least one output file, or -j N JOB")
        parts, job = len(outs), None
    else:
        parts, job = args.j
        job -= 1 if args.one_based else 0
        if len(outs) > 1:
            parser.error("with -j give at most one output file")
        if parts < 1 or not 0 <= job < parts:
            parser.error(
                f"job id {args.j[1]} out of range for {parts} jobs ({'1-based' if args.one_based else '0-based'})"
            )
    try:
        utt2spk = read_utt2spk(args.utt2spk) if args.utt2spk else None
        chunks = split_lines(read_lines(scp), parts, utt2spk, scp)
        if job is None:
            for path, chunk in zip(outs, chunks):
                write_chunk(path, chunk)
        else:
            write_chunk(outs[0] if outs else None, chunks[job])
    except SplitError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
