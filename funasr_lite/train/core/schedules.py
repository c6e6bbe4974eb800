"""Optimisers and learning-rate schedules of every trainer (FunASR names and conventions).

- ``warmuplr``: FunASR/ESPnet ``WarmupLR`` (``funasr/schedulers/warmup_lr.py``), stepped once per
  optimiser step: ``lr = base_lr * warmup_steps**0.5 * min(n**-0.5, n * warmup_steps**-1.5)`` with
  ``n = last_epoch + 1``. Constructing it already counts as the first step (``n = 1``, so the
  first optimiser step runs at ``base_lr / warmup_steps``); the peak ``base_lr`` is reached at
  ``n = warmup_steps``, i.e. after ``warmup_steps - 1`` calls of ``scheduler.step()``.
- ``warmup_cosine``: linear warm-up to ``lr`` over ``warmup_steps`` steps, then cosine decay to
  ``final_lr_ratio * lr`` at ``total_steps``; constant after that.
- :func:`warmup_cosine_lr`: the same cosine as a plain function of the step, with the warm-up given
  as a fraction of the steps; the CAM++ trainer sets it before every step (resume needs only the
  step count). Its warm-up rounds as it always did, so its values are not ``WarmupCosineLR``'s.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

_OPTIMIZERS: dict[str, tuple[type[torch.optim.Optimizer], set[str]]] = {
    "adam": (torch.optim.Adam, {"lr", "betas", "eps", "weight_decay", "amsgrad"}),
    "adamw": (torch.optim.AdamW, {"lr", "betas", "eps", "weight_decay", "amsgrad"}),
    "sgd": (torch.optim.SGD, {"lr", "momentum", "weight_decay", "nesterov", "dampening"}),
}
_SCHEDULER_KEYS: dict[str, tuple[set[str], set[str]]] = {  # name -> (required, optional)
    "warmuplr": (set(), {"warmup_steps"}),
    "warmup_cosine": ({"total_steps"}, {"warmup_steps", "final_lr_ratio"}),
}


def cosine_decay(step: int, warmup_steps: int, total_steps: int) -> float:
    """``0.5 * (1 + cos(pi * progress))``: 1 at the end of the warm-up, 0 at ``total_steps`` and after."""
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


class WarmupLR(LRScheduler):
    """FunASR's ``WarmupLR``, the same values at every step (see the module docstring)."""

    def __init__(self, optimizer: torch.optim.Optimizer, warmup_steps: float = 25000, last_epoch: int = -1) -> None:
        if warmup_steps <= 0:
            raise ValueError(f"warmup_steps must be > 0, got {warmup_steps}")
        self.warmup_steps = warmup_steps
        super().__init__(optimizer, last_epoch)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(warmup_steps={self.warmup_steps})"

    def factor(self, step_num: int) -> float:
        """The multiplier of ``base_lr`` at FunASR step number ``step_num`` (1-based)."""
        return self.warmup_steps**0.5 * min(step_num**-0.5, step_num * self.warmup_steps**-1.5)

    def get_lr(self) -> list[float]:
        n, w = self.last_epoch + 1, self.warmup_steps  # FunASR's operation order, for bit-equal floats
        return [lr * w**0.5 * min(n**-0.5, n * w**-1.5) for lr in self.base_lrs]


class WarmupCosineLR(LRScheduler):
    """Linear warm-up (``(s+1)/warmup_steps`` at 0-based step ``s``), then cosine to ``final_lr_ratio``."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        total_steps: int,
        warmup_steps: int = 0,
        final_lr_ratio: float = 0.01,
        last_epoch: int = -1,
    ) -> None:
        if total_steps <= 0 or warmup_steps < 0:
            raise ValueError(f"need total_steps > 0 and warmup_steps >= 0, got {total_steps}, {warmup_steps}")
        self.total_steps, self.warmup_steps = int(total_steps), int(warmup_steps)
        self.final_lr_ratio = float(final_lr_ratio)
        super().__init__(optimizer, last_epoch)

    def factor(self, step: int) -> float:
        """The multiplier of ``base_lr`` at 0-based step ``step``."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        r = self.final_lr_ratio
        return r + (1.0 - r) * cosine_decay(step, self.warmup_steps, self.total_steps)

    def get_lr(self) -> list[float]:
        f = self.factor(self.last_epoch)
        return [lr * f for lr in self.base_lrs]


def warmup_cosine_lr(step: int, total: int, lr: float, warmup_frac: float, min_lr_ratio: float) -> float:
    """The learning rate at 0-based ``step`` of ``total``: linear warm-up for ``warmup_frac`` of the
    steps (at least one), then :func:`cosine_decay` from ``lr`` to ``lr * min_lr_ratio``."""
    warm = max(1, int(round(warmup_frac * total)))
    if step < warm:
        return lr * (step + 1) / warm
    floor = lr * min_lr_ratio
    return floor + (lr - floor) * cosine_decay(step, warm, total)


def _check_keys(
    kind: str, name: str, conf: dict[str, Any], allowed: set[str], required: set[str] | None = None
) -> None:
    required = required or set()
    unknown = sorted(set(conf) - allowed - required)
    if unknown:
        raise ValueError(f"{kind} {name!r}: unknown key(s) {unknown} (allowed: {sorted(allowed | required)})")
    missing = sorted(required - set(conf))
    if missing:
        raise ValueError(f"{kind} {name!r}: missing key(s) {missing}")


def build_optimizer(name: str, params: Iterable[Any], conf: dict[str, Any] | None) -> torch.optim.Optimizer:
    """``adam`` / ``adamw`` / ``sgd`` with ``conf`` (FunASR ``optim_conf``) passed through after a key check."""
    key = str(name).lower()
    if key not in _OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r} (supported: {', '.join(_OPTIMIZERS)})")
    cls, allowed = _OPTIMIZERS[key]
    conf = dict(conf or {})
    _check_keys("optimizer", key, conf, allowed)
    if "betas" in conf:
        conf["betas"] = tuple(float(b) for b in conf["betas"])
    return cls(params, **conf)


def build_scheduler(name: str, optimizer: torch.optim.Optimizer, conf: dict[str, Any] | None) -> LRScheduler:
    """``warmuplr`` (FunASR's name, ``scheduler_conf: {warmup_steps}``) or ``warmup_cosine``
    (``{total_steps, warmup_steps, final_lr_ratio}``); an unknown name or key is a ``ValueError``."""
    key = str(name).lower()
    if key not in _SCHEDULER_KEYS:
        raise ValueError(f"unknown scheduler {name!r} (supported: {', '.join(_SCHEDULER_KEYS)})")
    conf = dict(conf or {})
    required, optional = _SCHEDULER_KEYS[key]
    _check_keys("scheduler", key, conf, optional, required)
    if key == "warmuplr":
        return WarmupLR(optimizer, **conf)
    return WarmupCosineLR(optimizer, **conf)
