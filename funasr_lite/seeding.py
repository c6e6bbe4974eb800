"""Random number generators: one seed for all of them (``AutoModel``, ``bin/inference``, training)
and their states, which training checkpoints hold."""

from __future__ import annotations

import logging
import random
from typing import Any

import numpy as np
import torch

log = logging.getLogger(__name__)


def set_seed(seed: int) -> None:
    """Seed python ``random``, numpy's global RNG and torch (CPU and every CUDA device).

    The order and calls of FunASR's ``AutoModel`` build; numpy takes ``seed % 2**32`` (its range).
    """
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """RNG states of python ``random``, numpy's global RNG, torch CPU and every CUDA device,
    as lists / ints / floats / ByteTensors (loadable with ``weights_only=True``)."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": [version, list(internal), gauss],
        "numpy": [str(name), [int(k) for k in keys], int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
        "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned (CUDA states for as many devices as both have).

    Generators missing from ``state`` are left alone: CAM++ checkpoints of older versions hold
    only ``python`` (as ``random.getstate()`` returns it) and ``torch``.
    """
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((int(version), tuple(int(x) for x in internal), gauss))
    if "numpy" in state:
        name, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), int(pos), int(has_gauss), float(cached)))
    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu().to(torch.uint8))
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available():
        n = min(len(cuda), torch.cuda.device_count())
        if n != len(cuda) or n != torch.cuda.device_count():
            log.warning(
                "restoring CUDA RNG states of %d device(s): saved %d, present %d",
                n,
                len(cuda),
                torch.cuda.device_count(),
            )
        for i in range(n):
            torch.cuda.set_rng_state(cuda[i].cpu().to(torch.uint8), device=i)
