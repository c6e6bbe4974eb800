"""Read Kaldi ``text`` files (``<key> <transcript>``) and write report files atomically."""

from __future__ import annotations

import os

from funasr_lite.data.kaldi_lists import read_text
from funasr_lite.fileio import write_text_atomic

PathLike = str | os.PathLike


def read_kaldi_text(path: PathLike) -> dict[str, str]:
    """Map key -> transcript, in file order (the project's one Kaldi list reader).

    Delegates to ``funasr_lite.data.kaldi_lists.read_text``: key = first field (space/tab
    separated), transcript = rest of the line (may be empty); blank lines skipped; BOM
    and CRLF tolerated; ``InputError`` naming ``<file>:<line>`` for a missing file,
    non-UTF-8 bytes or a duplicate key.
    """
    return read_text(path)


def write_atomic(path: PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and ``os.replace``."""
    write_text_atomic(path, text)
