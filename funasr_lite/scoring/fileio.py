"""Read Kaldi ``text`` files (``<key> <transcript>``) and write report files atomically."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Union

from funasr_lite.data.kaldi_lists import read_text

PathLike = Union[str, os.PathLike]


def read_kaldi_text(path: PathLike) -> dict[str, str]:
    """Map key -> transcript, in file order (the project's one Kaldi list reader).

    Delegates to ``funasr_lite.data.kaldi_lists.read_text``: key = first field (space/tab
    separated), transcript = rest of the line (may be empty); blank lines skipped; BOM
    and CRLF tolerated; ``InputError`` naming ``<file>:<line>`` for a missing file,
    non-UTF-8 bytes or a duplicate key.
    """
    return read_text(path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and ``os.replace``."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
