"""One rule for the ``device`` option everywhere (``AutoModel``, ``bin/*``): FunASR's fallback.

FunASR's ``AutoModel.build_model`` runs on the CPU when the requested accelerator (``cuda``,
``xpu``, ``mps``, ``npu``) is not available; funasr_lite does the same, with a warning, instead
of failing later inside torch.
"""

from __future__ import annotations

import logging

import torch

log = logging.getLogger(__name__)

_KINDS = ("cpu", "cuda", "mps", "xpu", "npu")


def _available(kind: str, index: int | None) -> bool:
    """Whether torch can run on ``kind`` (and device number ``index``) here."""
    if kind == "cpu":
        return True
    if kind == "cuda":
        return torch.cuda.is_available() and (index is None or index < torch.cuda.device_count())
    if kind == "mps":
        return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if kind == "xpu":
        return hasattr(torch, "xpu") and torch.xpu.is_available()
    return False  # npu needs torch_npu, which funasr_lite does not support


def resolve_device(device: str | torch.device | None, what: str = "device") -> str:
    """``device`` if this machine has it, else ``"cpu"`` with a warning (FunASR's fallback).

    ``None`` or ``""`` means ``cpu``. A string that is no device at all (``"gpu"``) raises a
    one-line ``ValueError`` naming ``what`` (the option it came from).
    """
    if device is None or str(device).strip() == "":
        return "cpu"
    text = str(device).strip()
    kind, _, number = text.partition(":")
    kind = kind.lower()
    if kind not in _KINDS or (number and not number.isdigit()):
        raise ValueError(f"{what}={text!r} is not a device: use cpu, cuda, cuda:N or mps")
    index = int(number) if number else None
    if _available(kind, index):
        return text
    log.warning("%s=%s is not available on this machine; running on the CPU (as FunASR does)", what, text)
    return "cpu"
