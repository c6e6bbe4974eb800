"""How long a training run may go on: epochs, optimiser steps and minutes, as one object."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("train")

# scheduler_conf.total_steps: auto stands for this until the step time is measured
UNSET_TOTAL_STEPS = 10**9


class Budget:
    """Stop after ``max_epoch`` epochs, ``max_steps`` optimiser steps or ``max_minutes`` of training,
    whichever comes first (0: no limit on steps / minutes).

    Training time counts across resumes: a resumed run sets :attr:`elapsed_before` (the seconds
    stored in its checkpoint), and :meth:`start` starts the clock of this process.
    """

    def __init__(self, max_epoch: int, max_steps: int = 0, max_minutes: float = 0.0) -> None:
        self.max_epoch = int(max_epoch)
        self.max_steps = int(max_steps)
        self.seconds = float(max_minutes) * 60.0
        self.elapsed_before = 0.0
        self._t0 = time.monotonic()
        self._mark: tuple[int, float] | None = None  # (step, elapsed) where the step-time measurement began

    def start(self) -> None:
        """Start this process's clock (right before the first step)."""
        self._t0 = time.monotonic()

    def elapsed(self) -> float:
        """Training seconds so far, earlier runs included."""
        return self.elapsed_before + time.monotonic() - self._t0

    def steps_done(self, step: int) -> bool:
        return self.max_steps > 0 and step >= self.max_steps

    def time_done(self) -> bool:
        return self.seconds > 0 and self.elapsed() >= self.seconds

    def finished_before(self, step: int) -> bool:
        """True when the run being resumed had already spent its budget (then only the export is left)."""
        return self.steps_done(step) or (self.seconds > 0 and self.elapsed_before >= self.seconds)

    def planned_steps(self, steps_per_epoch: int) -> int:
        """Optimiser steps this run is expected to take in all: the step budget, else the epochs'."""
        return self.max_steps or self.max_epoch * max(1, steps_per_epoch)

    def another_epoch_fits(self, epochs_this_run: int) -> bool:
        """False when one more epoch, at this process's mean epoch time, would pass ``max_minutes``."""
        if self.seconds <= 0:
            return True
        per_epoch = (time.monotonic() - self._t0) / max(1, epochs_this_run)
        return self.elapsed() + per_epoch <= self.seconds

    def fit_steps(self, step: int, warmup_steps: int = 0) -> int | None:
        """``total_steps: auto``: the step count that fills ``max_minutes``, 10 % kept for dev evaluations.

        Call after every optimiser step until it returns a number. The step time is measured over at
        least 20 steps, after the first 20 (allocator, cudnn autotune) and no earlier than step 40
        or half the warm-up; then :attr:`max_steps` is set to the result.
        """
        if self._mark is None:
            if step >= 20:
                self._mark = (step, self.elapsed())
            return None
        if step - self._mark[0] < 20 or step < max(40, warmup_steps // 2):
            return None
        per_step = (self.elapsed() - self._mark[1]) / (step - self._mark[0])
        self.max_steps = step + int(0.9 * (self.seconds - self.elapsed()) / per_step)
        log.info("total_steps auto: %.3f s/step -> %d steps in %.1f min", per_step, self.max_steps, self.seconds / 60)
        return self.max_steps
