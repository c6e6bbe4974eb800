"""The training core shared by both trainers: the budget, keep-newest checkpoints, adopting an
index-less run dir, RNG states of older CAM++ checkpoints, and the shared cosine."""

from __future__ import annotations

import math
import random

import numpy as np
import torch

from funasr_lite.seeding import rng_state, set_rng_state, set_seed
from funasr_lite.train.core import budget as budget_mod
from funasr_lite.train.core.budget import Budget
from funasr_lite.train.core.checkpoint import CheckpointManager
from funasr_lite.train.core.schedules import warmup_cosine_lr


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_budget_steps_minutes_and_resume(monkeypatch) -> None:
    clock = Clock()
    monkeypatch.setattr(budget_mod.time, "monotonic", clock)
    b = Budget(max_epoch=3, max_steps=10, max_minutes=1.0)
    b.elapsed_before = 50.0  # a resumed run: 50 s were trained before
    b.start()
    assert not b.finished_before(9) and b.finished_before(10)
    assert b.planned_steps(4) == 10 and Budget(3).planned_steps(4) == 12 and Budget(3).planned_steps(0) == 3
    clock.t += 9.0
    assert b.elapsed() == 59.0 and not b.time_done()
    clock.t += 1.0
    assert b.time_done() and not Budget(3).time_done()
    assert Budget(1, max_minutes=1.0).finished_before(0) is False
    b.elapsed_before = 60.0
    assert b.finished_before(0)


def test_budget_another_epoch_fits(monkeypatch) -> None:
    clock = Clock()
    monkeypatch.setattr(budget_mod.time, "monotonic", clock)
    b = Budget(max_epoch=10, max_minutes=1.0)
    b.start()
    clock.t += 20.0  # two epochs of 10 s: a third ends at 30 s, fits; after 5 epochs a sixth (60 s) still fits
    assert b.another_epoch_fits(2)
    clock.t += 30.0
    assert b.another_epoch_fits(5)
    clock.t += 1.0
    assert not b.another_epoch_fits(5)
    assert Budget(10).another_epoch_fits(1)


def test_budget_fits_total_steps_to_the_minutes(monkeypatch) -> None:
    clock = Clock()
    monkeypatch.setattr(budget_mod.time, "monotonic", clock)
    b = Budget(max_epoch=100, max_minutes=10.0)
    b.start()
    got = None
    for step in range(1, 100):
        clock.t += 0.5  # 0.5 s per step
        got = b.fit_steps(step, warmup_steps=60)
        if got is not None:
            break
    # measured from step 20 on, over >= 20 steps and no earlier than half the warm-up (30) or step 40
    assert step == 40
    assert got == 40 + int(0.9 * (600.0 - 20.0) / 0.5) and b.max_steps == got


def test_manager_keeps_the_newest_n_and_adopts_unindexed_files(tmp_path) -> None:
    mgr = CheckpointManager(tmp_path, keep_nbest=0, keep_latest=2)
    for epoch in (1, 2, 3):
        mgr.save(f"epoch_{epoch}", {"step": epoch}, None)
    assert [e["tag"] for e in mgr.entries()] == ["epoch_2", "epoch_3"]
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["epoch_2.pt", "epoch_3.pt"]
    old = tmp_path / "old"
    old.mkdir()
    for epoch in (1, 2):
        torch.save({"step": epoch}, old / f"epoch_{epoch}.pt")
    legacy = CheckpointManager(old)
    assert legacy.load_latest() is None  # no index: nothing to resume from
    legacy.adopt([old / "epoch_1.pt", old / "epoch_2.pt"])
    assert legacy.load_latest() == {"step": 2} and legacy.latest() == old / "epoch_2.pt"


def test_rng_states_of_older_cam_checkpoints_restore() -> None:
    """CAM++ checkpoints before the shared rng_state held {"torch", "python": random.getstate()} only."""
    set_seed(3)
    old = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy_batch": {}}
    want_py, want_torch = random.random(), torch.rand(2)
    np.random.seed(9)
    np_next = np.random.rand()
    np.random.seed(9)
    set_rng_state(old)
    assert random.random() == want_py and torch.equal(torch.rand(2), want_torch)
    assert np.random.rand() == np_next  # numpy's global RNG is left alone
    set_rng_state(rng_state())  # the full form round-trips too


def test_warmup_cosine_lr_equals_the_old_cam_formula() -> None:
    def old(step: int, total: int, lr: float, warmup_frac: float, min_lr_ratio: float) -> float:
        warm = max(1, int(round(warmup_frac * total)))
        if step < warm:
            return lr * (step + 1) / warm
        progress = min(1.0, (step - warm) / max(1, total - warm))
        floor = lr * min_lr_ratio
        return floor + 0.5 * (lr - floor) * (1.0 + math.cos(math.pi * progress))

    rng = random.Random(0)
    for _ in range(20000):
        total = rng.randint(1, 50000)
        args = (
            rng.randint(0, total + 5),
            total,
            rng.choice([1e-3, 1e-2, rng.random()]),
            rng.random() * 0.3,
            rng.choice([0.01, rng.random()]),
        )
        assert warmup_cosine_lr(*args) == old(*args), args
