"""What ``funasr-lite`` takes on its command line: audio files, folders of them, URLs, or one wav.scp.

``collect`` turns the inputs into wav.scp lines (key = the file name without its suffix); a
folder is searched recursively for files with an audio suffix (``AUDIO_SUFFIXES``). ``is_audio_file``
tells an audio file from a list by its content, so ``--wav_scp audio.wav`` gets a clear message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from funasr_lite.frontend.audio import container_format

# suffixes the loader reads (soundfile, ffmpeg for the rest; .pcm is headerless 16-bit PCM at --fs)
AUDIO_SUFFIXES = frozenset(
    ".wav .wave .flac .mp3 .ogg .oga .opus .m4a .mp4 .aac .aif .aiff .au .snd .caf .webm .wma .amr .pcm".split()
)
_HEAD_BYTES = 4096
_URL = re.compile(r"^https?://", re.IGNORECASE)


class InputsError(ValueError):
    """A command-line input that cannot be used (one line naming it and the problem)."""


def _is_text(head: bytes) -> bool:
    """Whether ``head`` (a file's first bytes) reads as UTF-8 text without NUL bytes."""
    if b"\0" in head:
        return False
    for cut in range(4):  # the head may end inside a multi-byte character
        try:
            head[: len(head) - cut].decode("utf-8")
            return True
        except UnicodeDecodeError:
            continue
    return False


def is_audio_file(path: str | Path) -> bool:
    """Whether ``path`` holds audio rather than a text list: binary content that starts with a
    container signature (RIFF, fLaC, OggS, ID3, ...) or an MPEG frame sync, or has an audio suffix."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except OSError:
        return False
    if not head or _is_text(head):
        return False
    sync = len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0
    return container_format(head) is not None or sync or Path(path).suffix.lower() in AUDIO_SUFFIXES


@dataclass
class Inputs:
    """The command line's inputs: ``wav_scp`` (a list given as is) or ``entries`` (key, source)."""

    wav_scp: str | None
    entries: list[tuple[str, str]]


def _key_of(name: str) -> str:
    """A wav.scp key from a file name: its stem, whitespace replaced by ``_``."""
    return re.sub(r"\s+", "_", name) or "audio"


def _audio_in(folder: Path) -> list[Path]:
    """Audio files under ``folder`` (recursively, hidden ones skipped), sorted by path."""
    found = [
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in AUDIO_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    return sorted(found)


def collect(inputs: list[str]) -> Inputs:
    """Audio files, folders and URLs -> wav.scp entries, or a single list file passed on as is.

    Keys are file stems; a stem seen before gets ``-2``, ``-3``, ... Raises ``InputsError`` for an
    input that does not exist, a folder without audio, a list mixed with other inputs, or a path
    that wav.scp cannot hold (ends in ``|``).
    """
    sources: list[tuple[str, str]] = []  # (stem, source)
    lists: list[str] = []
    for given in inputs:
        if _URL.match(given):
            name = given.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
            sources.append((Path(name).stem or "url", given))
            continue
        path = Path(given)
        if path.is_dir():
            found = _audio_in(path)
            if not found:
                raise InputsError(f"{given}: folder has no audio files ({', '.join(sorted(AUDIO_SUFFIXES))})")
            sources.extend((p.stem, str(p.resolve())) for p in found)
        elif path.is_file():
            if path.suffix.lower() in AUDIO_SUFFIXES or is_audio_file(path):
                sources.append((path.stem, str(path.resolve())))
            else:
                lists.append(given)
        else:
            raise InputsError(f"{given}: no such file or folder")
    if lists and (sources or len(lists) > 1):
        raise InputsError(f"{lists[0]}: a wav.scp list must be the only input (got {len(inputs)} inputs)")
    if lists:
        return Inputs(lists[0], [])
    entries: list[tuple[str, str]] = []
    used: set[str] = set()
    for stem, source in sources:
        if source.endswith("|") or source != source.strip() or "\n" in source or "\r" in source:
            raise InputsError(f"{source!r}: a wav.scp line cannot hold this path (ends in '|', a blank or a newline)")
        key = base = _key_of(stem)
        number = 1
        while key in used:
            number += 1
            key = f"{base}-{number}"
        used.add(key)
        entries.append((key, source))
    return Inputs(None, entries)
