"""CAM++ + AAM-softmax training on :class:`~funasr_lite.train.core.trainer.Trainer`'s steps.

- Seeds: ``set_seed(seed)`` (``random``, ``numpy``, ``torch``); the seed, the full config and the
  library versions are written to ``<out>/train_config.json``. Batches are drawn from a numpy
  generator of their own, seeded the same.
- Optimiser: AdamW (default) or SGD (momentum 0.9, Nesterov); learning rate: linear warm-up for
  ``warmup_frac`` of the steps, then cosine to ``lr * min_lr_ratio`` (``warmup_cosine_lr``). The
  AAM margin rises linearly from 0 to ``margin`` over ``margin_warmup_frac`` of the steps
  (3D-Speaker's margin scheduler, by step instead of epoch).
- Checkpoints ``<out>/checkpoints/epoch_<N>.pt`` (model, head, optimiser, step, RNG states, speaker
  map) go through the shared checkpoint index (atomic writes); the ``keep`` newest are kept. A new
  run with the same ``out`` resumes from the newest one.
- ``max_minutes`` stops cleanly after an epoch when another epoch would not fit (for machines
  lent by the slot): rerun the same command to continue.
- Export: ``<out>/model``, a FunASR CAM++ folder (``train/spk/export.py``).
"""

from __future__ import annotations

import json
import logging
import platform
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from funasr_lite.fileio import write_text_atomic
from funasr_lite.models.campplus import DEFAULT_CONF, CAMPPlus
from funasr_lite.seeding import rng_state, set_rng_state
from funasr_lite.train.core.amp import autocast
from funasr_lite.train.core.budget import Budget
from funasr_lite.train.core.checkpoint import CheckpointManager
from funasr_lite.train.core.distributed import DistInfo
from funasr_lite.train.core.schedules import build_optimizer, warmup_cosine_lr
from funasr_lite.train.core.trainer import Trainer
from funasr_lite.train.spk.aamsoftmax import AAMSoftmax
from funasr_lite.train.spk.dataset import SpeakerCrops, crop_features
from funasr_lite.train.spk.export import export_model_dir

log = logging.getLogger(__name__)

# A CPU-sized CAM++ for CI and the --size cpu recipe. The block depths (12/24/16) and the FCM head
# are fixed by the FunASR constructor; channels are what can shrink. The real size is DEFAULT_CONF.
TINY_CONF: dict[str, Any] = dict(DEFAULT_CONF, init_channels=32, growth_rate=16, bn_size=2, embedding_size=64)
CKPT_RE = re.compile(r"^epoch_(\d+)\.pt$")


@dataclass
class TrainConfig:
    """Everything that defines a run (saved to train_config.json and in every checkpoint)."""

    data: str
    out: str
    model_conf: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_CONF))
    epochs: int = 30
    batch_size: int = 128
    steps_per_epoch: int = 0  # 0: about one pass over the audio (SpeakerCrops.steps_per_epoch)
    min_crop: float = 1.5
    max_crop: float = 3.0
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_frac: float = 0.05
    min_lr_ratio: float = 0.01
    margin: float = 0.2
    scale: float = 32.0
    margin_warmup_frac: float = 0.3
    grad_clip: float = 5.0
    seed: int = 777
    device: str = "cpu"
    amp: bool = False  # bf16 autocast on CUDA
    keep: int = 3
    max_minutes: float = 0.0  # 0: no time budget
    num_threads: int = 0  # CPU threads for torch (0: leave torch's default)


def margin_at(step: int, total: int, cfg: TrainConfig) -> float:
    ramp = cfg.margin_warmup_frac * total
    return cfg.margin if ramp <= 0 else cfg.margin * min(1.0, step / ramp)


def list_checkpoints(out: str | Path) -> list[tuple[int, Path]]:
    """``(epoch, path)`` of the ``<out>/checkpoints/epoch_<N>.pt`` files, oldest first (temporaries ignored);
    the trainer itself goes by the checkpoint index and lists files only for run dirs written without one."""
    d = Path(out) / "checkpoints"
    found = []
    if d.is_dir():
        for p in d.iterdir():
            m = CKPT_RE.match(p.name)
            if m and p.is_file():
                found.append((int(m.group(1)), p))
    return sorted(found)


def _versions() -> dict[str, str]:
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__}


def train(cfg: TrainConfig, progress: bool = True) -> dict[str, Any]:
    """Train (or resume) and export; returns a summary with per-epoch metrics and paths."""
    return CamppTrainer(cfg, progress).run()


class CamppTrainer(Trainer):
    """CAM++ with an AAM-softmax head on random speaker crops, one process."""

    def __init__(self, cfg: TrainConfig, progress: bool = True) -> None:
        out = Path(cfg.out)
        out.mkdir(parents=True, exist_ok=True)
        if cfg.num_threads > 0:
            torch.set_num_threads(cfg.num_threads)
        checkpoints = CheckpointManager(out / "checkpoints", keep_nbest=0, keep_latest=max(1, cfg.keep))
        legacy = list_checkpoints(out)
        if legacy and not checkpoints.entries():  # a run dir of a version without the index
            checkpoints.adopt([p for _, p in legacy])
        device = torch.device(cfg.device)
        super().__init__(
            out, cfg.seed, Budget(cfg.epochs, 0, cfg.max_minutes), checkpoints, DistInfo(0, 1, 0, device), progress
        )
        self.cfg, self.device = cfg, device
        self.start_epoch = 1  # the first epoch this process trains
        self.history: list[dict[str, Any]] = []  # per-epoch metrics, earlier runs included
        self.stopped_early = False  # by max_minutes: no export, rerun to continue

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The newest checkpoint; its model_conf, seed, margin and scale win over the command line."""
        state = super().load_checkpoint()
        if state is not None:
            saved, cfg = state["config"], self.cfg
            for key in ("model_conf", "seed", "margin", "scale"):
                if saved[key] != getattr(cfg, key):
                    log.warning(
                        "resuming: %s differs from the checkpoint (%r vs %r); using the checkpoint's",
                        key,
                        getattr(cfg, key),
                        saved[key],
                    )
                    setattr(cfg, key, saved[key])
            self.seed = cfg.seed
        return state

    def init_data(self) -> None:
        cfg = self.cfg
        self.data = SpeakerCrops(
            cfg.data, cfg.min_crop, cfg.max_crop, seed=cfg.seed, spk2id=self.ckpt["spk2id"] if self.ckpt else None
        )
        self.steps = cfg.steps_per_epoch or self.data.steps_per_epoch(cfg.batch_size)
        self.total_steps = self.steps * cfg.epochs
        self.rng = np.random.default_rng(cfg.seed)  # the batches' own generator

    def init_model(self) -> None:
        cfg = self.cfg
        self.model = CAMPPlus(**cfg.model_conf).to(self.device)
        self.head = AAMSoftmax(cfg.model_conf["embedding_size"], len(self.data.spk2id), cfg.margin, cfg.scale).to(
            self.device
        )

    def init_optim(self) -> None:
        cfg = self.cfg
        if cfg.optimizer not in ("adamw", "sgd"):
            raise ValueError(f"optimizer must be adamw or sgd, got {cfg.optimizer!r}")
        self.params = list(self.model.parameters()) + list(self.head.parameters())
        extra = {"momentum": 0.9, "nesterov": True} if cfg.optimizer == "sgd" else {}
        self.opt = build_optimizer(cfg.optimizer, self.params, dict(lr=cfg.lr, weight_decay=cfg.weight_decay, **extra))

    def start(self) -> None:
        self._record_run()

    def resume(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.head.load_state_dict(state["head"])
        self.opt.load_state_dict(state["optimizer"])
        self.start_epoch, self.step, self.history = state["epoch"] + 1, state["step"], state["history"]
        self.epoch = self.start_epoch
        self.rng.bit_generator.state = state["rng"]["numpy_batch"]
        set_rng_state(state["rng"])
        log.info("resumed from %s (epoch %d, step %d)", self.checkpoints.latest(), state["epoch"], self.step)
        self._record_run()

    def _record_run(self) -> None:
        """``train_config.json`` (config, data size, versions) and ``spk2id``."""
        cfg, data = self.cfg, self.data
        run_info = {
            "config": asdict(cfg),
            "num_speakers": len(data.spk2id),
            "num_utts": data.num_utts,
            "hours": round(data.total_seconds / 3600.0, 3),
            "steps_per_epoch": self.steps,
            "total_steps": self.total_steps,
            "versions": _versions(),
            "num_params": sum(p.numel() for p in self.model.parameters()),
        }
        write_text_atomic(self.out / "train_config.json", json.dumps(run_info, indent=1, sort_keys=True) + "\n")
        write_text_atomic(
            self.out / "spk2id", "".join(f"{s} {i}\n" for s, i in sorted(data.spk2id.items(), key=lambda x: x[1]))
        )
        log.info(
            "CAM++ %s: %d params; %d speakers; %d epochs x %d steps, batch %d, %s on %s",
            cfg.model_conf,
            run_info["num_params"],
            len(data.spk2id),
            cfg.epochs,
            self.steps,
            cfg.batch_size,
            cfg.optimizer,
            self.device,
        )

    # ------------------------------------------------------------------ training
    def steps_per_epoch(self) -> int:
        return self.steps

    def train_one_epoch(self) -> None:
        cfg = self.cfg
        self.t_epoch = time.time()
        self.model.train()
        self.head.train()
        self.sum_loss, self.sum_acc = 0.0, 0.0
        self.bar.set_postfix(epoch=f"{self.epoch}/{cfg.epochs}")
        for _ in range(self.steps):
            self.lr = warmup_cosine_lr(self.step, self.total_steps, cfg.lr, cfg.warmup_frac, cfg.min_lr_ratio)
            for g in self.opt.param_groups:
                g["lr"] = self.lr
            self.head.set_margin(margin_at(self.step, self.total_steps, cfg))
            loss, acc = self.train_step()
            self.sum_loss += loss
            self.sum_acc += acc
            self.bar.update(1)
            self.bar.set_postfix(
                epoch=f"{self.epoch}/{cfg.epochs}", loss=f"{loss:.3f}", acc=f"{acc:.3f}", lr=f"{self.lr:.2e}"
            )

    def train_step(self) -> tuple[float, float]:
        """One batch of crops, one optimiser step; returns its loss and accuracy."""
        waves, labels = self.data.sample(self.cfg.batch_size, self.rng)
        waves, labels = waves.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True)
        with torch.no_grad():
            feats = crop_features(waves)
        with autocast(self.device, "bf16" if self.cfg.amp else "fp32"):
            emb = self.model(feats)
        loss, logits = self.head(emb.float(), labels)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.params, self.cfg.grad_clip)
        self.opt.step()
        self.step += 1
        acc = (logits.argmax(-1) == labels).float().mean().item()
        return loss.item(), acc

    def end_epoch(self) -> None:
        """Log the epoch, save ``epoch_<N>``; stop when another epoch would pass ``max_minutes``."""
        cfg, epoch = self.cfg, self.epoch
        metrics = {
            "epoch": epoch,
            "step": self.step,
            "loss": self.sum_loss / self.steps,
            "acc": self.sum_acc / self.steps,
            "lr": self.lr,
            "margin": self.head.margin,
            "seconds": round(time.time() - self.t_epoch, 2),
        }
        self.history.append(metrics)
        log.info(
            "epoch %d/%d: loss %.4f acc %.4f lr %.2e margin %.3f (%.1f s)",
            epoch,
            cfg.epochs,
            metrics["loss"],
            metrics["acc"],
            self.lr,
            self.head.margin,
            metrics["seconds"],
        )
        with open(self.out / "train_log.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(metrics) + "\n")
        self.save(f"epoch_{epoch}")
        if epoch < cfg.epochs and not self.budget.another_epoch_fits(epoch - self.start_epoch + 1):
            log.info(
                "time budget of %.1f min reached after epoch %d; rerun the same command to resume",
                cfg.max_minutes,
                epoch,
            )
            self.stopped = self.stopped_early = True
        self.epoch += 1

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "head": self.head.state_dict(),
            "optimizer": self.opt.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "history": self.history,
            "config": asdict(self.cfg),
            "spk2id": self.data.spk2id,
            "rng": dict(rng_state(), numpy_batch=self.rng.bit_generator.state),
        }

    def finish(self) -> dict[str, Any]:
        """Export ``<out>/model`` unless stopped by the time budget; returns the summary."""
        summary = {
            "history": self.history,
            "stopped_early": self.stopped_early,
            "checkpoint": str(self.checkpoints.latest()),
        }
        if not self.stopped_early:
            last = self.history[-1] if self.history else {}
            info = {
                "checkpoint": summary["checkpoint"],
                "epochs": self.cfg.epochs,
                "seed": self.cfg.seed,
                "final_loss": last.get("loss"),
                "final_acc": last.get("acc"),
                "num_speakers": len(self.data.spk2id),
                "data": self.cfg.data,
                "versions": _versions(),
            }
            summary["model_dir"] = str(
                export_model_dir(self.model.cpu().eval(), self.cfg.model_conf, self.out / "model", info)
            )
            log.info("exported %s", summary["model_dir"])
        return summary
