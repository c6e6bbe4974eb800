"""The one YAML file reader: model configs, training configs, frontend configs, ``--config`` defaults.

An empty file (or one holding only comments) is an empty mapping, ``{}``: an empty YAML document
sets nothing. A caller that needs keys says so itself (a model folder refuses an empty config,
``modelio/model_dir.py``). Every other problem is a ``ModelError`` naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from funasr_lite.errors import ModelError


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The YAML mapping in ``path``; ``{}`` for an empty file; ``ModelError`` naming the file on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError(path, "config file does not exist") from None
    except OSError as e:
        raise ModelError(path, f"cannot read config ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise ModelError(path, f"config is not UTF-8 (byte {e.start})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ModelError(path, f"config is not valid YAML ({where}{getattr(e, 'problem', e)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ModelError(path, f"config must be a YAML mapping, got {type(data).__name__}")
    return data
