"""What ``AutoModel.generate(input=...)`` accepts, resolved to ``(key, item)`` pairs.

FunASR's ``prepare_data_iterator`` rules: a path whose suffix (any case) is ``.scp``, ``.txt``,
``.json``, ``.jsonl`` or ``.text`` is a list. A ``.jsonl`` line is a JSON object with ``source``
(and optional ``key``); every other list line is ``key data`` or just ``data`` (note: FunASR reads
``.json`` lists line by line too, not as one JSON document). ``.scp`` lists go through the Kaldi
``wav.scp`` reader (``frontend/audio.load_wav_scp``: pipes, clear per-line errors). A line with no
key gets the data's file name (FunASR: a random ``rand_key_...``); blank lines are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from funasr_lite.errors import InputError
from funasr_lite.frontend.audio import AudioResult, load_audio, load_wav_scp

LIST_SUFFIXES = (".scp", ".txt", ".json", ".jsonl", ".text")


def is_list_file(x: Any) -> bool:
    """Whether ``x`` names an existing list file (FunASR's suffixes, any case)."""
    return isinstance(x, (str, Path)) and Path(x).suffix.lower() in LIST_SUFFIXES and Path(x).is_file()


def read_list(path: str | Path) -> list[tuple[str | None, str]]:
    """``(key or None, data)`` per non-blank line of a ``.txt``/``.json``/``.jsonl``/``.text`` list."""
    out: list[tuple[str | None, str]] = []
    as_json = str(path).endswith(".jsonl")  # FunASR's test is case-sensitive
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            if as_json:
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(where, f"not a JSON object ({e.msg})") from None
                if not isinstance(obj, dict) or "source" not in obj:
                    raise InputError(where, 'a .jsonl line needs {"source": ..., "key": ...}')
                out.append((None if obj.get("key") is None else str(obj["key"]), obj["source"]))
                continue
            fields = line.strip().split(maxsplit=1)
            out.append((fields[0], fields[1]) if len(fields) > 1 else (None, fields[0]))
    return out


def default_key(source: Any, index: int) -> str:
    """The file name without extension, each whitespace character replaced by ``_`` (``my meeting.wav``
    -> ``my_meeting``: keys are single fields in Kaldi lists and RTTM); ``utt0003`` for other inputs."""
    if isinstance(source, (str, Path)) and not str(source).rstrip().endswith("|"):
        stem = Path(str(source).split("?")[0]).stem
        return "".join("_" if ch.isspace() else ch for ch in stem) or f"utt{index:04d}"
    return f"utt{index:04d}"


def keyed_items(input: Any, key: str | list[str] | None, path_keys: bool = True) -> list[tuple[str, Any]]:
    """``(key, source)`` for a single input, a list of inputs or a (non-``.scp``) list file.

    ``path_keys=False`` (text inputs) keys items ``utt0000``... instead of by file name.
    """
    if is_list_file(input) and Path(input).suffix.lower() != ".scp":
        listed = read_list(input)
        if key is not None:
            raise ValueError("key= cannot be combined with a list file: put the keys in the list")
        keys: list[str | None] = [k for k, _ in listed]
        sources = [d for _, d in listed]
    else:
        sources = list(input) if isinstance(input, (list, tuple)) else [input]
        keys = [key] if isinstance(key, str) else (list(key) if key is not None else [None] * len(sources))
        if len(keys) != len(sources):
            raise ValueError(f"got {len(keys)} keys for {len(sources)} inputs")
    items = []
    seen: set[str] = set()
    for i, (k, src) in enumerate(zip(keys, sources)):
        if k is None:
            k = default_key(src, i) if path_keys else f"utt{i:04d}"
        if k in seen:
            k = f"{k}_{i}"
        seen.add(k)
        items.append((k, src))
    return items


def load_audio_inputs(
    input: Any, fs: int | None, key: str | list[str] | None, audio_options: dict[str, Any]
) -> list[tuple[str, AudioResult]]:
    """Every audio item of ``input`` decoded (``load_audio`` options); a bad item raises ``InputError``."""
    if is_list_file(input) and Path(input).suffix.lower() == ".scp":
        items = []
        for k, res in load_wav_scp(input, fs=fs, **audio_options):
            if isinstance(res, InputError):
                raise res
            items.append((k, res))
        return items
    return [(k, load_audio(src, fs=fs, key=k, **audio_options)) for k, src in keyed_items(input, key)]
