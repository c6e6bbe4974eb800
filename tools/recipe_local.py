"""Make the recipes' shared ``local/`` modules importable from code outside ``egs/``.

The corpus code is recipe code, not part of the ``funasr_lite`` package: ``egs/synth/local``
(espeak-ng corpus, speakers, meetings, homophone floor; shared by ``egs/synth/asr`` and
``egs/synth/spk``) and ``egs/aishell/local`` (AISHELL-1 data preparation). Its modules import each
other by plain name, as a script run from that folder does. Tests (``tests/conftest.py``), tools
and benchmarks call :func:`add_recipe_local` once, then ``import synth_corpus`` and so on.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECIPE_LOCAL = {"synth": REPO / "egs" / "synth" / "local", "aishell": REPO / "egs" / "aishell" / "local"}


def add_recipe_local(*corpora: str) -> None:
    """Put ``egs/<corpus>/local`` of each of ``corpora`` (default: all) on ``sys.path``, once."""
    for name in corpora or tuple(RECIPE_LOCAL):
        path = str(RECIPE_LOCAL[name])
        if path not in sys.path:
            sys.path.insert(0, path)


def local_script(corpus: str, name: str) -> Path:
    """The path of the command-line script ``egs/<corpus>/local/<name>.py`` (for subprocesses)."""
    return RECIPE_LOCAL[corpus] / f"{name}.py"
