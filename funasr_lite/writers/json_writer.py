"""``json/<key>.json``: the transcript document of ``schema.py``, one file per utterance, written atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from funasr_lite.fileio import write_text_atomic
from funasr_lite.writers.schema import ensure_document


def render_json(doc_or_result: dict[str, Any]) -> str:
    """The document as JSON text: one top-level field per line, one sentence per line, CJK unescaped."""
    doc = ensure_document(doc_or_result)
    fields = []
    for name, value in doc.items():
        if name == "sentences" and value:
            inner = ",\n".join(f"    {_dumps(s)}" for s in value)
            fields.append(f'  "sentences": [\n{inner}\n  ]')
        else:
            fields.append(f"  {_dumps(name)}: {_dumps(value)}")
    return "{\n" + ",\n".join(fields) + "\n}\n"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def write_json(doc_or_result: dict[str, Any], path: str | Path) -> None:
    """Write the document to ``path`` atomically."""
    write_text_atomic(path, render_json(doc_or_result))


def read_json(path: str | Path) -> dict[str, Any]:
    """Load a document written by :func:`write_json` (checks ``schema_version``)."""
    with open(path, encoding="utf-8") as f:
        return ensure_document(json.load(f))
