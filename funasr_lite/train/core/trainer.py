"""The skeleton of every training run: named steps, called in one order by :meth:`Trainer.run`.

A trainer (``train/asr/trainer.py``, ``train/spk/trainer.py``) fills in the steps; the order, the
checkpoint directory, the seed, the budget and the one progress bar are the same for all:

1. ``load_checkpoint``: the newest complete checkpoint, or ``None`` for a fresh run;
2. ``set_seed(seed)``, then ``init_data``, ``init_model``, ``init_optim``;
3. ``resume(state)`` (weights, optimiser, position, RNG states) or ``start()``;
4. per epoch until the :class:`~funasr_lite.train.core.budget.Budget` is spent: ``train_one_epoch``
   (optimiser steps; it may stop mid-epoch) then ``end_epoch`` (evaluate, ``save``, next epoch);
5. ``finish``: export the model; its return value is the run's summary.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from funasr_lite.seeding import set_seed
from funasr_lite.train.core.budget import Budget
from funasr_lite.train.core.checkpoint import CheckpointManager
from funasr_lite.train.core.distributed import DistInfo

log = logging.getLogger("train")


class Trainer:
    """Base class of the trainers: :meth:`run` and the steps every run shares."""

    def __init__(
        self,
        out: Path,
        seed: int,
        budget: Budget,
        checkpoints: CheckpointManager,
        info: DistInfo | None = None,
        progress: bool = True,
    ) -> None:
        self.out = out
        self.seed = seed
        self.budget = budget
        self.checkpoints = checkpoints
        self.info = info or DistInfo(0, 1, 0, torch.device("cpu"))
        self.progress = progress and self.info.is_main
        self.epoch = 1  # the epoch being trained (1-based)
        self.step = 0  # optimiser steps taken
        self.stopped = False  # the budget ran out before max_epoch
        self.ckpt: dict[str, Any] | None = None  # the checkpoint being resumed, until resume() has run
        self.bar: Any = None

    # ------------------------------------------------------------------ the run
    def run(self) -> dict[str, Any]:
        """Train (or resume) until the budget is spent, then :meth:`finish`; every rank calls this."""
        self.ckpt = self.load_checkpoint()
        set_seed(self.seed)
        self.init_data()
        self.init_model()
        self.init_optim()
        if self.ckpt is not None:
            self.resume(self.ckpt)
        else:
            self.start()
        self.ckpt = None
        self.budget.start()
        # a run killed after its last checkpoint (while exporting): export only, no extra step
        self.stopped = self.budget.finished_before(self.step)
        if self.stopped:
            log.info("step %d: training had finished; exporting only", self.step)
        planned = self.budget.planned_steps(self.steps_per_epoch())
        # one bar over the optimiser steps of the whole run, so tqdm's ETA is the run's
        self.bar = tqdm(
            total=planned,
            initial=min(self.step, planned),
            desc="train steps",
            unit="step",
            disable=not self.progress,
            dynamic_ncols=True,
        )
        while not self.stopped and self.epoch <= self.budget.max_epoch:
            self.train_one_epoch()
            self.end_epoch()
        self.bar.close()
        return self.finish()

    # ------------------------------------------------------------------ shared steps
    def load_checkpoint(self) -> dict[str, Any] | None:
        """The newest complete checkpoint (``torch.load(weights_only=True)``), or ``None``."""
        return self.checkpoints.load_latest()

    def save(self, tag: str, value: float | None = None) -> None:
        """Write checkpoint ``tag`` with the dev metric ``value`` (every rank calls; rank 0 writes)."""
        state = self.state_dict()
        if state is not None:
            self.checkpoints.save(tag, state, value)

    # ------------------------------------------------------------------ filled in by each trainer
    def init_data(self) -> None:
        raise NotImplementedError

    def init_model(self) -> None:
        raise NotImplementedError

    def init_optim(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        """A fresh run: nothing to restore."""

    def resume(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def steps_per_epoch(self) -> int:
        raise NotImplementedError

    def train_one_epoch(self) -> None:
        raise NotImplementedError

    def end_epoch(self) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any] | None:
        """What a checkpoint holds (``None`` on ranks that do not write)."""
        raise NotImplementedError

    def finish(self) -> dict[str, Any]:
        raise NotImplementedError
