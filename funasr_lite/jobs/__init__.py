"""Job fan-out for the batch CLIs (``--nj``), with no path into a source checkout.

The list splitter (``split_scp.py``, Kaldi's ``split_scp.pl`` sizes) and Kaldi's local job runner
(``run.pl``) ship in this folder, so an installed package splits and runs jobs as a checkout does;
a checkout's ``utils/run.pl`` and ``utils/split_scp.py`` are links to them (docs/jobs.md).
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

from funasr_lite.jobs.split_scp import SplitError, read_lines, split_lines, write_chunk

RUN_PL = Path(__file__).resolve().with_name("run.pl")

__all__ = ["RUN_PL", "SplitError", "run_jobs", "runpl_quote", "split_list", "write_chunk", "write_split"]


def split_list(path: str | Path, nj: int) -> list[list[str]]:
    """The ``nj`` contiguous chunks of ``path``'s lines (Kaldi sizes); ``SplitError`` if one would be empty."""
    return split_lines(read_lines(str(path)), nj, None, str(path))


def write_split(path: str | Path, outs: list[Path]) -> None:
    """Write the ``len(outs)`` chunks of ``path`` to ``outs``."""
    for out, lines in zip(outs, split_list(path, len(outs))):
        write_chunk(str(out), lines)


def run_jobs(cmd: str | None, nj: int, log: str | Path, command: list[str]) -> int:
    """Run ``command`` as jobs ``JOB=1:nj`` through the Kaldi runner ``cmd`` (with its options, e.g.
    ``utils/slurm.pl --gpu 1``; default: the packaged ``run.pl``); ``JOB`` in ``log`` and ``command``
    becomes the job number. Returns the runner's exit status (non-zero if any job failed)."""
    runner = shlex.split(cmd) if cmd else ["perl", str(RUN_PL)]  # perl: package data may lose its x bit
    return subprocess.run([*runner, f"JOB=1:{nj}", str(log), *(runpl_quote(a) for a in command)]).returncode


def runpl_quote(arg: str) -> str:
    """``arg`` prepared for Kaldi's run.pl/slurm.pl, which pass an argument without whitespace to
    bash as is and wrap one with whitespace in ``'...'`` when it has a ``"``, else in ``"..."``;
    bash then gives back exactly ``arg`` ($, `, ;, | ... in file names stay literal)."""
    if not re.search(r"[ \t\n\r\f\v]", arg):
        return shlex.quote(arg)  # no whitespace in the quoted form either: passed as is
    if '"' in arg:
        return arg.replace("'", "'\\''")  # run.pl adds the outer '...'
    return re.sub(r"([\\$`])", r"\\\1", arg)  # run.pl adds the outer "..."
