"""Paraformer training: FunASR's loss, bucketed batches, DDP, AMP, exact resume, N-best, export.

The steps and their order are :class:`~funasr_lite.train.core.trainer.Trainer`'s; this file fills
them in. One optimiser step = ``accum_grad`` batches. Checkpoints (rank 0, atomic) hold the
model, optimiser, scheduler, grad scaler, sampler position, every rank's RNG state, the step, the
epoch and the training wall time, so a rerun of the same command after a kill continues exactly
where the newest complete checkpoint left off. A batch whose loss is not finite on any rank is
skipped on every rank (reported, never stepped), so no poisoned checkpoint is written. At the end
the ``avg_nbest_model`` best checkpoints (dev acc or loss) among those of the last
``avg_tail_fraction`` of the steps are averaged and exported as a drop-in FunASR model folder
``<out>/model_dir`` (:func:`~funasr_lite.train.asr.export.export_best`).
"""

from __future__ import annotations

import logging
import math
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from funasr_lite.seeding import rng_state, set_rng_state
from funasr_lite.train.asr.evaluate import evaluate
from funasr_lite.train.asr.export import export_best
from funasr_lite.train.asr.loaders import build_loaders
from funasr_lite.train.asr.metrics import MetricsLog
from funasr_lite.train.asr.model import LossModule, build_model, freeze
from funasr_lite.train.asr.paraformer_loss import loss_conf_from_config
from funasr_lite.train.core.amp import autocast, grad_scaler
from funasr_lite.train.core.budget import UNSET_TOTAL_STEPS, Budget
from funasr_lite.train.core.checkpoint import CheckpointManager
from funasr_lite.train.core.distributed import DistInfo, any_true, gather_objects
from funasr_lite.train.core.schedules import build_optimizer, build_scheduler
from funasr_lite.train.core.trainer import Trainer

log = logging.getLogger("train")


@dataclass
class TrainInputs:
    """Data and model inputs of a run (the config says how; these say what)."""

    train_data: str
    dev_data: str | None
    token_list: list[str]
    cmvn_file: str
    output_dir: str
    train_feats: str | None = None
    dev_feats: str | None = None
    init_state: dict[str, torch.Tensor] | None = None  # finetuning: the init model's weights


def train(conf: dict[str, Any], inputs: TrainInputs, info: DistInfo) -> dict[str, Any]:
    """Run (or resume) training; returns a summary. Every rank calls this."""
    return ParaformerTrainer(conf, inputs, info).run()


class ParaformerTrainer(Trainer):
    """A Paraformer / BiCif-Paraformer run from a resolved training config (``train/asr/config.py``)."""

    def __init__(self, conf: dict[str, Any], inputs: TrainInputs, info: DistInfo) -> None:
        self.conf, self.inputs = conf, inputs
        self.tc = tc = conf["train_conf"]
        out = Path(inputs.output_dir)
        self.metric = tc["avg_keep_nbest_models_type"]
        super().__init__(
            out,
            int(tc["seed"]),
            Budget(tc["max_epoch"], tc["max_steps"], tc["max_minutes"]),
            CheckpointManager(out / "checkpoints", tc["keep_nbest_models"], self.metric),
            info,
        )
        self.position = 0  # batches of this epoch consumed (DataLoader workers prefetch ahead of it)
        self.nan_skipped = 0
        self.stats: dict[str, float] = {}  # train loss/acc sums since the last log line
        self.last_eval: dict[str, Any] = {}  # step and metric value of the last dev evaluation

    # ------------------------------------------------------------------ init
    def init_data(self) -> None:
        """Featurizer, this rank's bucketed training batches and rank 0's dev set (``loaders.py``)."""
        d = build_loaders(self.conf, self.inputs, self.info, self.seed)
        self.featurizer, self.sampler, self.loader, self.dev_loader = d.featurizer, d.sampler, d.loader, d.dev

    def init_model(self) -> None:
        """The model (init weights when finetuning, frozen parts) and its loss wrapper, under DDP when > 1 rank."""
        conf, info = self.conf, self.info
        self.model = build_model(conf, len(self.inputs.token_list))
        if self.inputs.init_state is not None:
            from funasr_lite.modelio import load_state_dict_strict  # noqa: PLC0415

            load_state_dict_strict(self.model, self.inputs.init_state, "init_param")
        n_frozen = freeze(self.model, list(self.tc["freeze_param"]))
        self.model.to(info.device).train()
        n_params = sum(p.numel() for p in self.model.parameters())
        log.info(
            "model %s: %.2fM parameters (%d tensors frozen), device %s, world %d",
            conf["model"],
            n_params / 1e6,
            n_frozen,
            info.device,
            info.world_size,
        )
        self.loss_conf = loss_conf_from_config(conf)
        self.wrapped: torch.nn.Module = LossModule(self.model, self.loss_conf)
        if info.enabled:
            # without the GLM sampler the decoder's token embedding gets no gradient
            self.wrapped = DDP(
                self.wrapped,
                device_ids=[info.device.index] if info.device.type == "cuda" else None,
                find_unused_parameters=self.loss_conf["sampling_ratio"] <= 0.0,
            )

    def init_optim(self) -> None:
        """Optimiser, LR schedule (``total_steps: auto`` fitted later), grad scaler and the metrics log."""
        conf, tc = self.conf, self.tc
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = build_optimizer(conf["optim"], self.params, dict(conf["optim_conf"]))
        sched_conf = dict(conf["scheduler_conf"])
        self.auto_total = sched_conf.get("total_steps") == "auto"
        if self.auto_total:  # fit the cosine to the time budget: set from the measured step time during warm-up
            if not tc["max_minutes"] or str(conf["scheduler"]).lower() != "warmup_cosine":
                raise ValueError(
                    "scheduler_conf.total_steps: auto needs scheduler warmup_cosine and train_conf.max_minutes"
                )
            sched_conf["total_steps"] = UNSET_TOTAL_STEPS
        self.warmup_steps = int(sched_conf.get("warmup_steps", 0))
        self.scheduler = build_scheduler(conf["scheduler"], self.optimizer, sched_conf)
        self.scaler = grad_scaler(self.info.device, tc["dtype"])
        self.metrics = MetricsLog(self.out, self.info.is_main and tc["use_tensorboard"], self.info.is_main)

    def start(self) -> None:
        self.metrics.truncate_after(0)  # rows of a run killed before its first checkpoint would be logged twice
        self.sampler.set_epoch(self.epoch)
        log.info("seed %d; %d training batches per epoch per rank", self.seed, len(self.sampler))

    def resume(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.sampler.load_state_dict(state["sampler"])
        self.step, self.epoch = int(state["step"]), int(state["sampler"]["epoch"])
        self.budget.elapsed_before, self.nan_skipped = float(state["elapsed"]), int(state.get("nan_skipped", 0))
        rngs = state["rng"]
        set_rng_state(rngs[self.info.rank] if self.info.rank < len(rngs) else rngs[0])
        # a dev evaluation at this step logged after the checkpoint (epoch end) is redone on resume
        self.metrics.truncate_after(self.step, () if state.get("dev_logged_step", self.step) == self.step else ("dev",))
        if self.auto_total and self.scheduler.total_steps != UNSET_TOTAL_STEPS:
            self.budget.max_steps = self.scheduler.total_steps
        log.info(
            "resumed from %s: epoch %d, batch %d, step %d",
            self.checkpoints.latest(),
            self.epoch,
            self.sampler.state_dict()["position"],
            self.step,
        )

    # ------------------------------------------------------------------ training
    def steps_per_epoch(self) -> int:
        return len(self.sampler) // self.tc["accum_grad"]

    def train_one_epoch(self) -> None:
        """This rank's batches from the resumed position on; stops mid-epoch when the budget is spent."""
        accum = self.tc["accum_grad"]
        self.position = self.sampler.state_dict()["position"]
        self.bar.set_postfix(epoch=self.epoch)
        self.stats, micro = {}, 0
        for batch in self.loader:
            ok = self.forward_backward(batch, last_micro=micro + 1 == accum)
            self.position += 1
            micro = micro + 1 if ok else 0
            if micro < accum:
                continue
            micro = 0
            if self.optimizer_step():
                self.after_step()
                if self.stopped:
                    break
        if micro:  # a partial accumulation at the epoch's end is dropped (as DDP drops uneven batches)
            self.optimizer.zero_grad(set_to_none=True)

    def forward_backward(self, batch: Any, last_micro: bool) -> bool:
        """Loss and gradients of one batch; False (gradients cleared) when any rank saw non-finite values."""
        info = self.info
        batch = batch.to(info.device)
        feats, lens = self.featurizer(batch.fbank, batch.fbank_lens, train=True)
        sync = self.wrapped.no_sync if info.enabled and not last_micro else nullcontext
        bad_items = (~torch.isfinite(feats).flatten(1).all(1)).nonzero().flatten().tolist()
        with sync():
            res = None
            if not any_true(bool(bad_items), info):
                with autocast(info.device, self.tc["dtype"]):
                    res = self.wrapped(feats, lens, batch.ys, batch.ys_lens)
            finite = res is not None and bool(torch.isfinite(res["loss"]).item())
            if any_true(not finite, info):
                self.nan_skipped += 1
                what = (
                    f"non-finite features in {','.join(batch.keys[i] for i in bad_items)}"
                    if bad_items
                    else f"non-finite loss (keys {','.join(batch.keys[:3])}...)"
                    if res is not None
                    else "non-finite features on another rank"
                )
                log.warning("step %d: batch skipped: %s", self.step, what)
                self.optimizer.zero_grad(set_to_none=True)
                return False
            self.scaler.scale(res["loss"] / self.tc["accum_grad"]).backward()
        for k in ("loss", "loss_att", "loss_pre", "acc"):
            v = res[k]
            self.stats[k] = self.stats.get(k, 0.0) + float(v.detach() if isinstance(v, torch.Tensor) else v)
        self.stats["n"] = self.stats.get("n", 0.0) + 1
        return True

    def optimizer_step(self) -> bool:
        """Unscale, clip, step; False (no step) when the gradient norm is not finite."""
        self.scaler.unscale_(self.optimizer)
        self.grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.tc["grad_clip"])
        if not math.isfinite(float(self.grad_norm)):
            self.nan_skipped += 1
            log.warning("step %d: non-finite gradient norm, step skipped", self.step)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.update()
            return False
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self.bar.update(1)
        return True

    def after_step(self) -> None:
        """Fit ``total_steps: auto``, log, evaluate and save at their intervals, check the budget."""
        tc = self.tc
        if self.auto_total and self.scheduler.total_steps == UNSET_TOTAL_STEPS:
            total = self.budget.fit_steps(self.step, self.warmup_steps)
            if total is not None:
                self.scheduler.total_steps = self.bar.total = total
        if self.step % tc["log_interval"] == 0 and self.stats:
            n = self.stats.pop("n")
            vals = {k: v / n for k, v in self.stats.items()}
            vals.update(lr=self.optimizer.param_groups[0]["lr"], grad_norm=float(self.grad_norm))
            self.metrics.scalars("train", vals, self.step, self.budget.elapsed())
            self.bar.set_postfix(epoch=self.epoch, loss=f"{vals['loss']:.3f}", acc=f"{vals['acc']:.3f}")
            self.stats = {}
        over_time, over_steps = self.budget.time_done(), self.budget.steps_done(self.step)
        stopping = any_true(over_time or over_steps, self.info)
        # when stopping, the last checkpoint is saved once by end_epoch, after the dev evaluation: a
        # checkpoint at the last step without it would resume into an export without that value
        if tc["validate_interval"] and self.step % tc["validate_interval"] == 0:
            value = self.validate()
            if not stopping:
                self.save(f"ep{self.epoch}-step{self.step}", value)
        elif not stopping and tc["save_checkpoint_interval"] and self.step % tc["save_checkpoint_interval"] == 0:
            self.save(f"ep{self.epoch}-step{self.step}")
        if stopping:
            log.info("stopping at step %d (%s)", self.step, "max_minutes" if over_time else "max_steps")
            self.stopped = True

    def validate(self) -> float | None:
        """Dev loss/acc/CER at this step (rank 0, once per step); returns the checkpoint metric's value."""
        if self.dev_loader is None:
            return None
        if self.last_eval.get("step") == self.step:  # already evaluated at this step (validate_interval)
            return self.last_eval["value"]
        res = evaluate(
            self.model,
            self.dev_loader,
            self.featurizer,
            self.info.device,
            self.loss_conf,
            partial(autocast, self.info.device, self.tc["dtype"]),
            bool(self.tc["dev_cer"]),
        )
        self.metrics.scalars("dev", res, self.step, self.budget.elapsed())
        log.info("dev step %d: %s", self.step, " ".join(f"{k}={v:.4f}" for k, v in res.items()))
        self.last_eval.update(step=self.step, value=res[self.metric])
        return res[self.metric]

    def end_epoch(self) -> None:
        """Stopped mid-epoch: evaluate and save once. Else evaluate (unless by steps), save ``ep<N>``, next epoch."""
        if self.stopped:
            self.save(f"ep{self.epoch}-step{self.step}", self.validate())
            return
        # with validate_interval the dev set is evaluated by steps only (an epoch-end pass would
        # cost a second evaluation within a few steps of the last one)
        value = None if self.tc["validate_interval"] else self.validate()
        done = self.epoch
        self.epoch, self.position = done + 1, 0
        self.sampler.set_epoch(self.epoch)
        self.save(f"ep{done}", value)
        log.info("epoch %d done: step %d, %.1f min", done, self.step, self.budget.elapsed() / 60)

    def state_dict(self) -> dict[str, Any] | None:
        rngs = gather_objects(rng_state(), self.info)  # every rank's; only rank 0 writes
        if not self.info.is_main:
            return None
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "sampler": dict(self.sampler.state_dict(), epoch=self.epoch, position=self.position),
            "rng": rngs,
            "step": self.step,
            "elapsed": self.budget.elapsed(),
            "nan_skipped": self.nan_skipped,
            "dev_logged_step": self.last_eval.get("step", -1),
        }

    # ------------------------------------------------------------------ end
    def finish(self) -> dict[str, Any]:
        """The run's summary; rank 0 averages the best checkpoints and exports ``model_dir``."""
        summary = {
            "step": self.step,
            "epoch": min(self.epoch, self.tc["max_epoch"]),
            "elapsed_s": self.budget.elapsed(),
            "nan_skipped": self.nan_skipped,
        }
        if self.info.is_main:
            summary.update(
                export_best(self.conf, self.inputs.token_list, self.inputs.cmvn_file, self.checkpoints, self.out)
            )
        self.metrics.close()
        return summary
