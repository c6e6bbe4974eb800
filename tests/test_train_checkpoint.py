"""ASR training: LR schedules, optimisers, atomic checkpoints, the checkpoint index, averaging, RNG states."""

from __future__ import annotations

import itertools
import json
import logging
import math
import random

import numpy as np
import pytest
import torch

from funasr_lite.bin import average_checkpoints as avg_cli
from funasr_lite.seeding import rng_state, set_rng_state
from funasr_lite.train.core.checkpoint import CheckpointManager, average_checkpoints, save_atomic
from funasr_lite.train.core.schedules import WarmupCosineLR, WarmupLR, build_optimizer, build_scheduler


def _opt(lr: float = 5e-4) -> torch.optim.Optimizer:
    return torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))], lr=lr)


def _lrs(opt: torch.optim.Optimizer, sched: torch.optim.lr_scheduler.LRScheduler, n: int) -> list[float]:
    """lr used by optimiser steps 1..n (the scheduler is stepped after each optimiser step)."""
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


# ------------------------------------------------------------------ schedules
def test_warmuplr_matches_funasr_formula() -> None:
    # FunASR WarmupLR: lr = base * w**0.5 * min(n**-0.5, n * w**-1.5), n = last_epoch + 1,
    # and constructing the scheduler is the first step (n = 1 for the first optimiser step).
    base, w = 5e-4, 300
    opt = _opt(base)
    lrs = _lrs(opt, WarmupLR(opt, warmup_steps=w), 1000)
    hand = {
        1: base / w,
        2: 2 * base / w,
        150: base / 2,
        300: base,
        301: base * math.sqrt(300 / 301),
        900: base * math.sqrt(300 / 900),
        1000: base * math.sqrt(0.3),
    }
    for n, expected in hand.items():
        assert lrs[n - 1] == pytest.approx(expected, rel=1e-12), n
    assert max(lrs) == pytest.approx(base, rel=1e-12) and lrs.index(max(lrs)) == w - 1


def test_warmuplr_resumes_from_state_dict(tmp_path) -> None:
    opt = _opt()
    sched = build_scheduler("WarmupLR", opt, {"warmup_steps": 50})
    _lrs(opt, sched, 70)
    save_atomic({"opt": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "s.pt")
    state = torch.load(tmp_path / "s.pt", weights_only=True)
    opt2 = _opt()
    sched2 = build_scheduler("warmuplr", opt2, {"warmup_steps": 50})
    opt2.load_state_dict(state["opt"])
    sched2.load_state_dict(state["sched"])
    assert _lrs(opt2, sched2, 20) == _lrs(opt, sched, 20)


def test_warmup_cosine() -> None:
    base = 1e-3
    opt = _opt(base)
    sched = build_scheduler("warmup_cosine", opt, {"warmup_steps": 10, "total_steps": 110, "final_lr_ratio": 0.1})
    assert isinstance(sched, WarmupCosineLR)
    lrs = _lrs(opt, sched, 130)
    assert lrs[0] == pytest.approx(base / 10) and lrs[9] == pytest.approx(base)
    assert lrs[60] == pytest.approx(base * (0.1 + 0.45 * (1 + math.cos(math.pi * 0.5))))
    assert lrs[110] == pytest.approx(0.1 * base) and lrs[129] == pytest.approx(0.1 * base)
    assert all(a >= b for a, b in itertools.pairwise(lrs[9:]))


def test_builders_refuse_unknown_names_and_keys() -> None:
    params = [torch.nn.Parameter(torch.zeros(1))]
    opt = build_optimizer("adam", params, {"lr": 1e-3, "betas": [0.9, 0.98], "eps": 1e-8, "weight_decay": 0.0})
    assert opt.param_groups[0]["betas"] == (0.9, 0.98)
    assert isinstance(build_optimizer("AdamW", params, {"lr": 1e-3}), torch.optim.AdamW)
    assert isinstance(build_optimizer("sgd", params, {"lr": 0.1, "momentum": 0.9}), torch.optim.SGD)
    with pytest.raises(ValueError, match="rmsprop"):
        build_optimizer("rmsprop", params, {"lr": 1e-3})
    with pytest.raises(ValueError, match="'lrate'"):
        build_optimizer("adam", params, {"lrate": 1e-3})
    with pytest.raises(ValueError, match="'momentum'"):
        build_optimizer("adam", params, {"lr": 1e-3, "momentum": 0.9})
    with pytest.raises(ValueError, match="noamlr"):
        build_scheduler("noamlr", opt, {})
    with pytest.raises(ValueError, match="'warmup_step'"):
        build_scheduler("warmuplr", opt, {"warmup_step": 100})
    with pytest.raises(ValueError, match="total_steps"):
        build_scheduler("warmup_cosine", opt, {"warmup_steps": 100})


# ------------------------------------------------------------------ atomic save
def test_save_atomic_failure_keeps_old_file(tmp_path, monkeypatch) -> None:
    path = tmp_path / "ep1.pt"
    save_atomic({"w": torch.arange(5.0)}, path)
    before = path.read_bytes()
    real_save = torch.save

    def failing_save(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        f.truncate(10)  # a partial file, then the "disk is full"
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="No space"):
        save_atomic({"w": torch.ones(1000)}, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ep1.pt"]


# ------------------------------------------------------------------ manager
def _state(step: int) -> dict:
    return {"model": {"w": torch.full((3,), float(step))}, "step": step}


def test_manager_keeps_newest_and_n_best(tmp_path) -> None:
    mgr = CheckpointManager(tmp_path, keep_nbest=2, metric="acc")
    assert mgr.mode == "max" and CheckpointManager(tmp_path, metric="loss").mode == "min"
    assert mgr.latest() is None and mgr.load_latest() is None and mgr.best(3) == []
    for i, acc in enumerate([0.5, 0.9, 0.7, 0.8, 0.6], start=1):
        mgr.save(f"ep{i}", _state(i), acc)
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["ep2.pt", "ep4.pt", "ep5.pt"]
    index = json.loads((tmp_path / "checkpoints.json").read_text())
    assert [e["tag"] for e in index] == ["ep2", "ep4", "ep5"]
    assert set(index[0]) == {"tag", "file", "metric", "value", "time", "step"} and index[0]["step"] == 2
    assert mgr.best(2) == [tmp_path / "ep2.pt", tmp_path / "ep4.pt"]
    assert mgr.best(2, min_step=3) == [tmp_path / "ep4.pt", tmp_path / "ep5.pt"]  # the tail only
    assert mgr.best(2, min_step=6) == []
    assert mgr.latest() == tmp_path / "ep5.pt"
    assert torch.equal(mgr.load_latest()["model"]["w"], torch.full((3,), 5.0))
    mgr.save("ep6-step600", _state(600), None)  # no metric: kept only while newest
    mgr.save("ep7", _state(7), 0.1)
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["ep2.pt", "ep4.pt", "ep7.pt"]
    loss_mgr = CheckpointManager(tmp_path / "loss", keep_nbest=1, metric="loss")
    for i, loss in enumerate([3.0, 1.0, 2.0], start=1):
        loss_mgr.save(f"ep{i}", _state(i), loss)
    assert sorted(p.name for p in (tmp_path / "loss").glob("*.pt")) == ["ep2.pt", "ep3.pt"]


def test_latest_skips_truncated_and_ignores_temp_files(tmp_path, caplog) -> None:
    mgr = CheckpointManager(tmp_path, keep_nbest=5)
    mgr.save("ep1", _state(1), 0.5)
    newest = mgr.save("ep2", _state(2), 0.6)
    (tmp_path / ".ep3.pt.x1y2.tmp").write_bytes(b"PK\x03\x04 half a checkpoint")
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 2])
    with caplog.at_level(logging.WARNING):
        assert mgr.latest() == tmp_path / "ep1.pt"
        assert mgr.load_latest()["step"] == 1
    assert "ep2.pt" in caplog.text
    newest.unlink()
    assert mgr.latest() == tmp_path / "ep1.pt"


def test_checkpoint_with_optimizer_and_rng_loads_weights_only(tmp_path) -> None:
    model = torch.nn.Linear(4, 3)
    opt = build_optimizer("adam", model.parameters(), {"lr": 1e-3})
    sched = build_scheduler("warmuplr", opt, {"warmup_steps": 10})
    model(torch.randn(2, 4)).sum().backward()
    opt.step()
    sched.step()
    state = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "rng": rng_state(),
        "epoch": 1,
        "step": 1,
        "history": [{"loss": 1.5, "acc": 0.25}],
    }
    CheckpointManager(tmp_path).save("ep1", state, 0.25)
    loaded = CheckpointManager(tmp_path).load_latest()  # torch.load(weights_only=True)
    assert loaded["scheduler"]["last_epoch"] == 1 and loaded["history"] == state["history"]
    assert torch.equal(loaded["optimizer"]["state"][0]["exp_avg"], state["optimizer"]["state"][0]["exp_avg"])


# ------------------------------------------------------------------ averaging
def test_average_of_three_checkpoints(tmp_path) -> None:
    g = torch.Generator().manual_seed(0)
    states = [
        {"w": torch.randn(4, 3, generator=g), "h": torch.randn(5, generator=g).half(), "n": torch.tensor(i + 10)}
        for i in range(3)
    ]
    paths = []
    for i, s in enumerate(states):
        paths.append(tmp_path / f"ep{i}.pt")
        save_atomic({"model": s, "step": i}, paths[-1])
    avg = average_checkpoints(paths)
    assert avg.keys() == {"w", "h", "n"}
    assert torch.allclose(avg["w"], (states[0]["w"] + states[1]["w"] + states[2]["w"]) / 3, atol=1e-7)
    assert avg["w"].dtype == torch.float32 and avg["h"].dtype == torch.float16
    assert torch.equal(avg["h"], (sum(s["h"].double() for s in states) / 3).half())
    assert int(avg["n"]) == 12  # integer tensors: the last checkpoint's
    save_atomic(states[0], tmp_path / "bare.pt")  # a bare state dict works too
    assert torch.equal(average_checkpoints([tmp_path / "bare.pt"])["w"], states[0]["w"])
    save_atomic({"model": {"w": torch.zeros(4, 3), "extra": torch.zeros(1)}}, tmp_path / "odd.pt")
    with pytest.raises(ValueError, match=r"missing \['h', 'n'\], unexpected \['extra'\]"):
        average_checkpoints(paths + [tmp_path / "odd.pt"])


def test_average_checkpoints_cli(tmp_path) -> None:
    mgr = CheckpointManager(tmp_path / "ckpt", keep_nbest=3, metric="loss")
    for i, loss in enumerate([4.0, 1.0, 3.0, 2.0, 5.0], start=1):
        mgr.save(f"ep{i}", _state(i), loss)
    out = tmp_path / "avg2.pt"
    assert avg_cli.main(["--ckpt_dir", str(tmp_path / "ckpt"), "--num", "2", "--out", str(out)]) == 0
    saved = torch.load(out, weights_only=True)
    assert saved["averaged"] == ["ep2.pt", "ep4.pt"]
    assert torch.equal(saved["model"]["w"], torch.full((3,), 3.0))


# ------------------------------------------------------------------ RNG
def _draws() -> tuple:
    return (
        random.random(),
        random.getrandbits(64),
        np.random.rand(3).tolist(),
        np.random.randn(),
        torch.rand(4).tolist(),
        torch.randint(0, 1000, (3,)).tolist(),
    )


def test_rng_state_round_trip(tmp_path) -> None:
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    np.random.randn()  # numpy keeps a cached gaussian: part of the state
    save_atomic({"rng": rng_state()}, tmp_path / "rng.pt")
    first = _draws()
    set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True)["rng"])
    assert _draws() == first


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_rng_state_round_trip_cuda(tmp_path) -> None:
    torch.cuda.manual_seed_all(5)
    save_atomic({"rng": rng_state()}, tmp_path / "rng.pt")
    state = torch.load(tmp_path / "rng.pt", weights_only=True)["rng"]
    assert len(state["cuda"]) == torch.cuda.device_count()
    first = [torch.rand(4, device=f"cuda:{i}").tolist() for i in range(torch.cuda.device_count())]
    set_rng_state(state)
    assert [torch.rand(4, device=f"cuda:{i}").tolist() for i in range(torch.cuda.device_count())] == first
