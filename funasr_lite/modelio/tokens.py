"""Token lists: 1.x ``tokens.json`` (a JSON array) and 0.x ``tokens.txt`` (one token a line)."""

from __future__ import annotations

import json
from pathlib import Path

from funasr_lite.errors import ModelError


def read_token_list(path: str | Path, require_unk: bool = True) -> list[str]:
    """Read a token list; the index of a token is its id.

    Like FunASR's ``BaseTokenizer``, the reader is picked by extension: ``.json`` is a JSON
    array of strings, anything else is one token per line (right-stripped). A duplicate
    token, an empty list or (with ``require_unk``) a missing ``<unk>`` raise ``ModelError``.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ModelError(path, f"cannot read token list ({e.strerror or e})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ModelError(path, f"token list is not UTF-8 (byte {e.start})") from None
    if path.suffix == ".json":
        try:
            tokens = json.loads(text)
        except json.JSONDecodeError as e:
            raise ModelError(path, f"token list is not valid JSON (line {e.lineno}: {e.msg})") from None
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise ModelError(path, "tokens.json must be a JSON array of strings")
    else:
        tokens = [line.rstrip() for line in text.splitlines()]
        while tokens and tokens[-1] == "":
            tokens.pop()
    return check_token_list(tokens, path, require_unk)


def check_token_list(tokens: list[str], where: str | Path, require_unk: bool = True) -> list[str]:
    """Validate a token list read from a file or embedded in a 0.x config."""
    if not tokens:
        raise ModelError(where, "token list is empty")
    seen: dict[str, int] = {}
    for i, tok in enumerate(tokens):
        if tok in seen:
            raise ModelError(where, f"duplicate token {tok!r} at ids {seen[tok]} and {i}")
        seen[tok] = i
    if require_unk and "<unk>" not in seen:
        raise ModelError(where, "token list has no <unk> token")
    return list(tokens)
