"""Job fan-out for the batch CLIs (``--nj``), with no path into a source checkout.

The list splitter (``split_scp.py``, Kaldi's ``split_scp.pl`` sizes) and Kaldi's local job runner
(``run.pl``) and the Slurm runner (``slurm.pl``) ship in this folder, so an installed package splits and runs jobs as a checkout does;
a checkout's ``utils/run.pl``, ``utils/slurm.pl`` and ``utils/split_scp.py`` are links to them (docs/jobs.md).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

from funasr_lite.jobs.split_scp import SplitError, read_lines, split_lines, write_chunk

RUN_PL = Path(__file__).resolve().with_name("run.pl")

__all__ = [
    "RUN_PL",
    "RunnerError",
    "SplitError",
    "resolve_runner",
    "run_jobs",
    "runpl_quote",
    "split_list",
    "write_chunk",
    "write_split",
]


class RunnerError(ValueError):
    """A ``--cmd`` whose job runner cannot be found (one line naming it and where it was looked for)."""


def split_list(path: str | Path, nj: int) -> list[list[str]]:
    """The ``nj`` contiguous chunks of ``path``'s lines (Kaldi sizes); ``SplitError`` if one would be empty."""
    return split_lines(read_lines(str(path)), nj, None, str(path))


def write_split(path: str | Path, outs: list[Path]) -> None:
    """Write the ``len(outs)`` chunks of ``path`` to ``outs``."""
    for out, lines in zip(outs, split_list(path, len(outs))):
        write_chunk(str(out), lines)


def resolve_runner(cmd: str | None, cwd: str | Path | None = None) -> list[str]:
    """The argv prefix that runs the Kaldi job runner ``cmd`` (with its options), from ``cwd``.

    ``None`` or empty: the packaged ``run.pl``. A path (``utils/run.pl``, ``./slurm.pl``) is used
    when it exists from ``cwd``; a relative one that does not, but whose file name is a runner
    shipped in this folder (``run.pl``), is that packaged runner, so ``--cmd utils/run.pl`` works
    from any directory. A bare name (``run.pl``) is looked up on ``PATH``, then in this folder.
    Packaged runners are started with ``perl`` (package data may lose its executable bit).
    Raises ``RunnerError`` when the runner is found nowhere.
    """
    try:
        parts = shlex.split(cmd or "")
    except ValueError as err:
        raise RunnerError(f"--cmd {cmd!r}: {err}") from None
    if not parts:
        return ["perl", str(RUN_PL)]
    runner, options = parts[0], parts[1:]
    base = Path(cwd) if cwd is not None else Path.cwd()
    packaged = RUN_PL.with_name(Path(runner).name)
    shipped = packaged.suffix == ".pl" and packaged.is_file()
    if "/" in runner:
        path = base / runner
        if path.is_file():
            perl = ["perl"] if path.suffix == ".pl" and not os.access(path, os.X_OK) else []
            return [*perl, str(path) if cwd is not None else runner, *options]
        if shipped and not os.path.isabs(runner):
            return ["perl", str(packaged), *options]
        raise RunnerError(f"--cmd: job runner {runner} not found (looked from {base})")
    if shutil.which(runner):
        return [runner, *options]
    if shipped:
        return ["perl", str(packaged), *options]
    raise RunnerError(f"--cmd: job runner {runner} not found on PATH nor in {RUN_PL.parent}")


def run_jobs(cmd: str | None, nj: int, log: str | Path, command: list[str]) -> int:
    """Run ``command`` as jobs ``JOB=1:nj`` through the Kaldi runner ``cmd`` (with its options, e.g.
    ``utils/slurm.pl --gpu 1``; default: the packaged ``run.pl``; found by ``resolve_runner``);
    ``JOB`` in ``log`` and ``command`` becomes the job number. Returns the runner's exit status
    (non-zero if any job failed); ``RunnerError`` if the runner is not found."""
    runner = resolve_runner(cmd)
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
