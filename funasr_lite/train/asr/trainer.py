"""Paraformer training loop: FunASR's loss, bucketed batches, DDP, AMP, exact resume, N-best, export.

One optimiser step = ``accum_grad`` batches. Checkpoints (rank 0, atomic) hold the model,
optimiser, scheduler, grad scaler, sampler position, every rank's RNG state, the step, the
epoch and the training wall time, so a rerun of the same command after a kill continues
exactly where the newest complete checkpoint left off. A batch whose loss is not finite on any
rank is skipped on every rank (reported, never stepped), so no poisoned checkpoint is written.
At the end the ``avg_nbest_model`` best checkpoints (dev acc or loss) among those of the last
``avg_tail_fraction`` of the steps are averaged and exported
as a drop-in FunASR model folder ``<out>/model_dir``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm import tqdm

from funasr_lite.fileio import write_text_atomic
from funasr_lite.frontend.cmvn import load_cmvn
from funasr_lite.frontend.wav_frontend import WavFrontend
from funasr_lite.models.paraformer.build import ASR_CLASSES
from funasr_lite.train.asr.checkpoint import (
    CheckpointManager,
    average_checkpoints,
    rng_state,
    set_rng_state,
)
from funasr_lite.train.asr.data import (
    AsrDataset,
    Featurizer,
    PreloadedDataset,
    load_utterances,
    make_loader,
)
from funasr_lite.train.asr.distributed import DistInfo, any_true, gather_objects
from funasr_lite.train.asr.evaluate import evaluate
from funasr_lite.train.asr.export import export_model_dir
from funasr_lite.train.asr.metrics import MetricsLog
from funasr_lite.train.asr.paraformer_loss import (
    loss_conf_from_config,
    paraformer_training_loss,
)
from funasr_lite.train.asr.sampler import BucketBatchSampler
from funasr_lite.train.asr.scheduler import build_optimizer, build_scheduler
from funasr_lite.train.asr.specaug import SpecAugLFR

log = logging.getLogger("train")
AUTO_UNSET = 10**9  # total_steps: auto before the step time is measured


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


class LossModule(nn.Module):
    """``forward`` = FunASR's training loss, so DDP sees one forward per step."""

    def __init__(self, model: nn.Module, loss_conf: dict[str, Any]) -> None:
        super().__init__()
        self.model = model
        self.loss_conf = loss_conf

    def forward(self, feats, lens, ys, ys_lens):  # type: ignore[no-untyped-def]
        return paraformer_training_loss(self.model, feats, lens, ys, ys_lens, **self.loss_conf)


def build_model(conf: dict[str, Any], vocab_size: int) -> nn.Module:
    """A funasr_lite Paraformer/BiCif from a FunASR config (random init, PyTorch defaults)."""
    cls = ASR_CLASSES.get(conf.get("model"))
    if cls is None:
        raise ValueError(f"model={conf.get('model')!r}: expected one of {', '.join(ASR_CLASSES)}")
    return cls.from_config(conf, vocab_size)


def freeze(model: nn.Module, prefixes: list[str]) -> int:
    """Stop gradients for parameters whose names start with any prefix; returns how many tensors."""
    n = 0
    for name, p in model.named_parameters():
        if any(name == pre or name.startswith(pre + ".") for pre in prefixes):
            p.requires_grad_(False)
            n += 1
    if prefixes and n == 0:
        raise ValueError(f"freeze_param {prefixes} matches no parameter")
    return n


def _autocast(device: torch.device, dtype: str):  # type: ignore[no-untyped-def]
    if device.type != "cuda" or dtype == "fp32":
        return nullcontext
    dt = torch.bfloat16 if dtype == "bf16" else torch.float16
    return lambda: torch.autocast("cuda", dtype=dt)


def _dataset(data: str, feats: str | None, tokens: list[str], frontend: WavFrontend, conf: dict[str, Any],
             info: DistInfo, dither: float, seed: int) -> tuple[Any, list[int]]:
    utts, problems = load_utterances(data, tokens, feats, frontend)
    for p in problems:
        log.warning("skipped: %s", p)
    if problems:
        log.warning("%s: %d utterance(s) skipped (listed above)", data, len(problems))
    if not utts:
        raise ValueError(f"{data}: no usable utterances")
    ds: Any = AsrDataset(utts, frontend, dither=dither, seed=seed)
    preload = conf["preload"]
    if preload == "device" or (preload == "auto" and info.device.type == "cuda"):
        ds = PreloadedDataset(ds, info.device, progress=info.is_main)
    return ds, [u.num_frames for u in utts]


def train(conf: dict[str, Any], inputs: TrainInputs, info: DistInfo) -> dict[str, Any]:
    """Run (or resume) training; returns a summary. Every rank calls this."""
    tc, dc = conf["train_conf"], conf["dataset_conf"]
    out = Path(inputs.output_dir)
    seed = int(tc["seed"])
    torch.manual_seed(seed)  # identical init on every rank (DDP also broadcasts it)
    model = build_model(conf, len(inputs.token_list))
    if inputs.init_state is not None:
        from funasr_lite.modelio import load_state_dict_strict  # noqa: PLC0415

        load_state_dict_strict(model, inputs.init_state, "init_param")
    n_frozen = freeze(model, list(tc["freeze_param"]))
    model.to(info.device).train()
    n_params = sum(p.numel() for p in model.parameters())
    log.info("model %s: %.2fM parameters (%d tensors frozen), device %s, world %d",
             conf["model"], n_params / 1e6, n_frozen, info.device, info.world_size)

    fe_conf = {k: v for k, v in (conf.get("frontend_conf") or {}).items() if k != "cmvn_file"}
    frontend = WavFrontend.from_config(dict(fe_conf, dither=0.0))
    cmvn = load_cmvn(inputs.cmvn_file)
    specaug = SpecAugLFR(**conf["specaug_conf"]) if conf.get("specaug") else None
    featurizer = Featurizer(frontend.lfr_m, frontend.lfr_n, cmvn, specaug)
    train_ds, lengths = _dataset(inputs.train_data, inputs.train_feats, inputs.token_list, frontend, dc, info,
                                 float(dc["dither"]), seed)
    try:
        sampler = BucketBatchSampler(
            lengths, dc["batch_size"], dc["max_token_length"], dc["shuffle"], seed, info.rank, info.world_size,
            **({"bucket_size": dc["bucket_size"]} if dc["bucket_size"] else {}),
            max_batch_size=dc["max_batch_size"] or None,
        )
    except ValueError as e:  # e.g. every utterance longer than the batch budget: name the data
        raise ValueError(f"{inputs.train_data}: {e}") from None
    if sampler.num_dropped:
        log.warning("%d training utterances exceed max_token_length/batch_size and are not used", sampler.num_dropped)
    loader = make_loader(train_ds, sampler, dc["num_workers"], info.device.type == "cuda")
    dev_loader = None
    if inputs.dev_data and info.is_main:
        dev_ds, dev_len = _dataset(inputs.dev_data, inputs.dev_feats, inputs.token_list, frontend, dc, info, 0.0, seed)
        dev_sampler = BucketBatchSampler(dev_len, dc["batch_size"], None, False, seed)
        dev_loader = make_loader(dev_ds, dev_sampler, 0 if isinstance(dev_ds, PreloadedDataset) else 1, False)

    loss_conf = loss_conf_from_config(conf)
    wrapped: nn.Module = LossModule(model, loss_conf)
    if info.enabled:
        # without the GLM sampler the decoder's token embedding gets no gradient
        wrapped = DDP(wrapped, device_ids=[info.device.index] if info.device.type == "cuda" else None,
                      find_unused_parameters=loss_conf["sampling_ratio"] <= 0.0)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = build_optimizer(conf["optim"], params, dict(conf["optim_conf"]))
    sched_conf = dict(conf["scheduler_conf"])
    auto_total = sched_conf.get("total_steps") == "auto"
    if auto_total:  # fit the cosine to the time budget: set from the measured step time during warm-up
        if not tc["max_minutes"] or str(conf["scheduler"]).lower() != "warmup_cosine":
            raise ValueError("scheduler_conf.total_steps: auto needs scheduler warmup_cosine and train_conf.max_minutes")
        sched_conf["total_steps"] = AUTO_UNSET
    scheduler = build_scheduler(conf["scheduler"], optimizer, sched_conf)
    scaler = torch.amp.GradScaler("cuda", enabled=tc["dtype"] == "fp16" and info.device.type == "cuda")
    autocast = _autocast(info.device, tc["dtype"])
    metric = tc["avg_keep_nbest_models_type"]
    manager = CheckpointManager(out / "checkpoints", tc["keep_nbest_models"], metric)
    metrics = MetricsLog(out, info.is_main and tc["use_tensorboard"], info.is_main)

    step, epoch, elapsed_before, nan_skipped = 0, 1, 0.0, 0
    state = manager.load_latest()
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        sampler.load_state_dict(state["sampler"])
        step, epoch = int(state["step"]), int(state["sampler"]["epoch"])
        elapsed_before, nan_skipped = float(state["elapsed"]), int(state.get("nan_skipped", 0))
        rngs = state["rng"]
        set_rng_state(rngs[info.rank] if info.rank < len(rngs) else rngs[0])
        # a dev evaluation at this step logged after the checkpoint (epoch end) is redone on resume
        metrics.truncate_after(step, () if state.get("dev_logged_step", step) == step else ("dev",))
        if auto_total and scheduler.total_steps != AUTO_UNSET:
            tc = dict(tc, max_steps=scheduler.total_steps)
        log.info("resumed from %s: epoch %d, batch %d, step %d", manager.latest(), epoch, sampler.state_dict()["position"], step)
    else:
        metrics.truncate_after(0)  # rows of a run killed before its first checkpoint would be logged twice
        sampler.set_epoch(epoch)
        log.info("seed %d; %d training batches per epoch per rank", seed, len(sampler))

    t0 = time.monotonic()
    budget_s = float(tc["max_minutes"]) * 60.0
    # a run killed after its last checkpoint (while exporting): export only, no extra step
    stop = (tc["max_steps"] > 0 and step >= tc["max_steps"]) or (budget_s > 0 and elapsed_before >= budget_s)
    if stop:
        log.info("step %d: training had finished; exporting only", step)

    def elapsed() -> float:
        return elapsed_before + time.monotonic() - t0

    def save(tag: str, value: float | None, sampler_state: dict[str, Any]) -> None:
        # the sampler state is what the loop has consumed (DataLoader workers prefetch ahead)
        rngs = gather_objects(rng_state(), info)
        if info.is_main:
            st = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                  "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                  "sampler": sampler_state, "rng": rngs, "step": step, "elapsed": elapsed(),
                  "nan_skipped": nan_skipped, "dev_logged_step": last_eval.get("step", -1)}
            manager.save(tag, st, value)

    last_eval: dict[str, Any] = {}

    def validate() -> float | None:
        if dev_loader is None:
            return None
        if last_eval.get("step") == step:  # already evaluated at this step (validate_interval)
            return last_eval["value"]
        res = evaluate(model, dev_loader, featurizer, info.device, loss_conf, autocast, bool(tc["dev_cer"]))
        metrics.scalars("dev", res, step, elapsed())
        log.info("dev step %d: %s", step, " ".join(f"{k}={v:.4f}" for k, v in res.items()))
        last_eval.update(step=step, value=res[metric])
        return res[metric]

    t_mark: tuple[int, float] | None = None
    # one bar over the optimiser steps of the whole run (tqdm's ETA): the step budget, else the epochs'
    planned = tc["max_steps"] or tc["max_epoch"] * max(1, len(sampler) // tc["accum_grad"])
    bar = tqdm(total=planned, initial=min(step, planned), desc="train steps", unit="step",
               disable=not info.is_main, dynamic_ncols=True)
    while epoch <= tc["max_epoch"] and not stop:
        position = sampler.state_dict()["position"]
        bar.set_postfix(epoch=epoch)
        micro = 0
        pos = [position]  # batches consumed this epoch (tqdm does not count when disabled)
        acc_stats: dict[str, float] = {}

        def consumed() -> dict[str, Any]:
            return dict(sampler.state_dict(), epoch=epoch, position=pos[0])

        for batch in loader:
            batch = batch.to(info.device)
            feats, lens = featurizer(batch.fbank, batch.fbank_lens, train=True)
            last_micro = (micro + 1) % tc["accum_grad"] == 0
            sync = wrapped.no_sync if info.enabled and not last_micro else nullcontext
            bad_items = (~torch.isfinite(feats).flatten(1).all(1)).nonzero().flatten().tolist()
            with sync():
                res = None
                if not any_true(bool(bad_items), info):
                    with autocast():
                        res = wrapped(feats, lens, batch.ys, batch.ys_lens)
                finite = res is not None and bool(torch.isfinite(res["loss"]).item())
                if any_true(not finite, info):
                    nan_skipped += 1
                    what = (f"non-finite features in {','.join(batch.keys[i] for i in bad_items)}" if bad_items
                            else f"non-finite loss (keys {','.join(batch.keys[:3])}...)" if res is not None
                            else "non-finite features on another rank")
                    log.warning("step %d: batch skipped: %s", step, what)
                    optimizer.zero_grad(set_to_none=True)
                    micro = 0
                    pos[0] += 1
                    continue
                scaler.scale(res["loss"] / tc["accum_grad"]).backward()
            for k in ("loss", "loss_att", "loss_pre", "acc"):
                v = res[k]
                acc_stats[k] = acc_stats.get(k, 0.0) + float(v.detach() if isinstance(v, torch.Tensor) else v)
            acc_stats["n"] = acc_stats.get("n", 0.0) + 1
            micro += 1
            pos[0] += 1
            if not last_micro:
                continue
            micro = 0
            scaler.unscale_(optimizer)
            gnorm = torch.nn.utils.clip_grad_norm_(params, tc["grad_clip"])
            if not math.isfinite(float(gnorm)):
                nan_skipped += 1
                log.warning("step %d: non-finite gradient norm, step skipped", step)
                optimizer.zero_grad(set_to_none=True)
                scaler.update()
                continue
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            bar.update(1)
            if auto_total and scheduler.total_steps == AUTO_UNSET:
                if t_mark is None:
                    if step >= 20:
                        t_mark = (step, elapsed())  # skip the first steps (allocator, cudnn autotune)
                elif step - t_mark[0] >= 20 and step >= max(40, int(sched_conf.get("warmup_steps", 0)) // 2):
                    per_step = (elapsed() - t_mark[1]) / (step - t_mark[0])
                    total = step + int(0.9 * (budget_s - elapsed()) / per_step)  # 10% for dev evaluations
                    scheduler.total_steps = total
                    tc = dict(tc, max_steps=total)
                    bar.total = total
                    log.info("total_steps auto: %.3f s/step -> %d steps in %.1f min", per_step, total, budget_s / 60)
            if step % tc["log_interval"] == 0 and acc_stats:
                n = acc_stats.pop("n")
                vals = {k: v / n for k, v in acc_stats.items()}
                vals.update(lr=optimizer.param_groups[0]["lr"], grad_norm=float(gnorm))
                metrics.scalars("train", vals, step, elapsed())
                bar.set_postfix(epoch=epoch, loss=f"{vals['loss']:.3f}", acc=f"{vals['acc']:.3f}")
                acc_stats = {}
            over_time = budget_s > 0 and elapsed() >= budget_s
            over_steps = tc["max_steps"] > 0 and step >= tc["max_steps"]
            stopping = any_true(over_time or over_steps, info)
            # when stopping, the last checkpoint is saved once below, after the dev evaluation: a
            # checkpoint at the last step without it would resume into an export without that value
            if tc["validate_interval"] and step % tc["validate_interval"] == 0:
                value = validate() if info.is_main else None
                if not stopping:
                    save(f"ep{epoch}-step{step}", value, consumed())
            elif not stopping and tc["save_checkpoint_interval"] and step % tc["save_checkpoint_interval"] == 0:
                save(f"ep{epoch}-step{step}", None, consumed())
            if stopping:
                log.info("stopping at step %d (%s)", step, "max_minutes" if over_time else "max_steps")
                stop = True
                break
        if micro:  # a partial accumulation at the epoch's end is dropped (as DDP drops uneven batches)
            optimizer.zero_grad(set_to_none=True)
        if stop:
            value = validate() if info.is_main else None
            save(f"ep{epoch}-step{step}", value, consumed())
            break
        # with validate_interval the dev set is evaluated by steps only (an epoch-end pass would
        # cost a second evaluation within a few steps of the last one)
        value = validate() if info.is_main and not tc["validate_interval"] else None
        sampler.set_epoch(epoch + 1)
        save(f"ep{epoch}", value, dict(sampler.state_dict(), epoch=epoch + 1, position=0))
        log.info("epoch %d done: step %d, %.1f min", epoch, step, elapsed() / 60)
        epoch += 1

    bar.close()
    summary = {"step": step, "epoch": min(epoch, tc["max_epoch"]), "elapsed_s": elapsed(), "nan_skipped": nan_skipped}
    if info.is_main:
        summary.update(finish(conf, inputs, manager, out))
    metrics.close()
    return summary


def finish(conf: dict[str, Any], inputs: TrainInputs, manager: CheckpointManager, out: Path) -> dict[str, Any]:
    """Average the best checkpoints and export ``out/model_dir``; returns what was used."""
    tc = conf["train_conf"]
    latest = manager.latest()
    if latest is None:
        raise ValueError(f"{out / 'checkpoints'}: no checkpoint to export")
    last_step = max((e.get("step") or 0) for e in manager.entries())
    # checkpoints from early in the schedule (half-trained) would drag the average down
    min_step = math.ceil((1.0 - float(tc["avg_tail_fraction"])) * last_step)
    best = manager.best(int(tc["avg_nbest_model"]), min_step) or [latest]
    avg = average_checkpoints(best, key="model")
    model_dir = export_model_dir(avg, conf, inputs.token_list, inputs.cmvn_file, out / "model_dir")
    used = {"averaged": [p.name for p in best], "model_dir": str(model_dir)}
    write_text_atomic(out / "model_dir_info.json", json.dumps(used, indent=1) + "\n")
    log.info("exported %s (average of %s)", model_dir, ", ".join(used["averaged"]))
    return used
