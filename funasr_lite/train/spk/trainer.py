"""CAM++ + AAM-softmax training loop, checkpoints, resume and export to a FunASR model folder.

- Seeds: ``random``, ``numpy`` and ``torch`` are seeded from ``seed``; the seed, the full
  config and the library versions are written to ``<out>/train_config.json``.
- Optimiser: AdamW (default) or SGD (momentum 0.9, Nesterov); learning rate: linear warm-up for
  ``warmup_frac`` of the steps, then cosine to ``lr * min_lr_ratio``. The AAM margin rises
  linearly from 0 to ``margin`` over ``margin_warmup_frac`` of the steps (3D-Speaker's margin
  scheduler, by step instead of epoch).
- Checkpoints ``<out>/checkpoints/epoch_<N>.pt`` (model, head, optimiser, step, RNG states, speaker
  map) are written atomically (temporary file in the same folder, fsync, ``os.replace``); the
  ``keep`` newest are kept. A new run with the same ``out`` resumes from the newest one.
- ``max_minutes`` stops cleanly after an epoch when another epoch would not fit (for machines
  lent by the slot): rerun the same command to continue.
- Export (:func:`export_model_dir`): ``campplus_cn_common.bin`` (the CAMPPlus state dict only,
  3D-Speaker/FunASR key names, float32), ``config.yaml`` (``model: CAMPPlus`` + ``model_conf``) and
  ``configuration.json`` — the layout of FunASR's ``iic/speech_campplus_sv_zh-cn_16k-common``,
  loadable by ``funasr_lite.models.campplus.load_campplus`` and by FunASR.
"""

from __future__ import annotations

import json
import logging
import math
import platform
import random
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn
from tqdm import tqdm

from funasr_lite.fileio import write_text_atomic
from funasr_lite.models.campplus import DEFAULT_CONF, CAMPPlus
from funasr_lite.train.asr.checkpoint import save_atomic  # one atomic writer for every trainer
from funasr_lite.train.spk.aamsoftmax import AAMSoftmax
from funasr_lite.train.spk.dataset import SpeakerCrops, crop_features

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


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    """Warm-up + cosine learning rate at ``step`` (0-based) of ``total``."""
    warm = max(1, int(round(cfg.warmup_frac * total)))
    if step < warm:
        return cfg.lr * (step + 1) / warm
    progress = min(1.0, (step - warm) / max(1, total - warm))
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + 0.5 * (cfg.lr - floor) * (1.0 + math.cos(math.pi * progress))


def margin_at(step: int, total: int, cfg: TrainConfig) -> float:
    ramp = cfg.margin_warmup_frac * total
    return cfg.margin if ramp <= 0 else cfg.margin * min(1.0, step / ramp)


# ------------------------------------------------------------------ checkpoints
def list_checkpoints(out: str | Path) -> list[tuple[int, Path]]:
    """``(epoch, path)`` of ``<out>/checkpoints/epoch_<N>.pt``, oldest first (temporaries ignored)."""
    d = Path(out) / "checkpoints"
    found = []
    if d.is_dir():
        for p in d.iterdir():
            m = CKPT_RE.match(p.name)
            if m and p.is_file():
                found.append((int(m.group(1)), p))
    return sorted(found)


def newest_checkpoint(out: str | Path) -> Path | None:
    ckpts = list_checkpoints(out)
    return ckpts[-1][1] if ckpts else None


# ------------------------------------------------------------------ export
def export_model_dir(model: CAMPPlus, model_conf: dict[str, Any], out_dir: str | Path,
                     info: dict[str, Any] | None = None) -> Path:
    """Write a FunASR-style CAM++ folder: campplus_cn_common.bin, config.yaml, configuration.json."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", torch.float32) if v.is_floating_point() else v.detach().cpu()
             for k, v in model.state_dict().items()}
    save_atomic(state, out / "campplus_cn_common.bin")
    config = {"model": "CAMPPlus", "model_conf": dict(model_conf),
              "frontend": "WavFrontend", "frontend_conf": {"fs": 16000}}
    write_text_atomic(out / "config.yaml", yaml.safe_dump(config, sort_keys=False))
    configuration = {
        "framework": "pytorch", "task": "speaker-verification",
        "model": {"type": "funasr"}, "pipeline": {"type": "funasr-pipeline"},
        "model_name_in_hub": {"ms": "", "hf": ""},
        "file_path_metas": {"init_param": "campplus_cn_common.bin", "config": "config.yaml"},
    }
    write_text_atomic(out / "configuration.json", json.dumps(configuration, indent=2) + "\n")
    if info is not None:
        write_text_atomic(out / "train_info.json", json.dumps(info, indent=1, sort_keys=True) + "\n")
    return out


# ------------------------------------------------------------------ training
def _versions() -> dict[str, str]:
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__}


def train(cfg: TrainConfig, progress: bool = True) -> dict[str, Any]:
    """Train (or resume) and export; returns a summary with per-epoch metrics and paths."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.num_threads > 0:
        torch.set_num_threads(cfg.num_threads)
    device = torch.device(cfg.device)
    resume = newest_checkpoint(out)
    ckpt = torch.load(resume, map_location="cpu", weights_only=False) if resume else None
    if ckpt is not None:
        saved = ckpt["config"]
        for key in ("model_conf", "seed", "margin", "scale"):
            if saved[key] != getattr(cfg, key):
                log.warning("resuming: %s differs from the checkpoint (%r vs %r); using the checkpoint's", key,
                            getattr(cfg, key), saved[key])
                setattr(cfg, key, saved[key])
    set_seed(cfg.seed)
    data = SpeakerCrops(cfg.data, cfg.min_crop, cfg.max_crop, seed=cfg.seed,
                        spk2id=ckpt["spk2id"] if ckpt else None)
    steps_per_epoch = cfg.steps_per_epoch or data.steps_per_epoch(cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs

    model = CAMPPlus(**cfg.model_conf).to(device)
    head = AAMSoftmax(cfg.model_conf["embedding_size"], len(data.spk2id), cfg.margin, cfg.scale).to(device)
    params = list(model.parameters()) + list(head.parameters())
    if cfg.optimizer == "adamw":
        opt: torch.optim.Optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    elif cfg.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay)
    else:
        raise ValueError(f"optimizer must be adamw or sgd, got {cfg.optimizer!r}")

    start_epoch, step, history = 1, 0, []
    rng = np.random.default_rng(cfg.seed)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        head.load_state_dict(ckpt["head"])
        opt.load_state_dict(ckpt["optimizer"])
        start_epoch, step, history = ckpt["epoch"] + 1, ckpt["step"], ckpt["history"]
        rng.bit_generator.state = ckpt["rng"]["numpy_batch"]
        torch.set_rng_state(ckpt["rng"]["torch"])
        random.setstate(ckpt["rng"]["python"])
        log.info("resumed from %s (epoch %d, step %d)", resume, ckpt["epoch"], step)
    run_info = {"config": asdict(cfg), "num_speakers": len(data.spk2id), "num_utts": data.num_utts,
                "hours": round(data.total_seconds / 3600.0, 3), "steps_per_epoch": steps_per_epoch,
                "total_steps": total_steps, "versions": _versions(),
                "num_params": sum(p.numel() for p in model.parameters())}
    write_text_atomic(out / "train_config.json", json.dumps(run_info, indent=1, sort_keys=True) + "\n")
    write_text_atomic(out / "spk2id", "".join(f"{s} {i}\n" for s, i in sorted(data.spk2id.items(), key=lambda x: x[1])))
    log.info("CAM++ %s: %d params; %d speakers; %d epochs x %d steps, batch %d, %s on %s",
             cfg.model_conf, run_info["num_params"], len(data.spk2id), cfg.epochs, steps_per_epoch,
             cfg.batch_size, cfg.optimizer, device)

    t_begin = time.time()
    stopped_early = False
    for epoch in range(start_epoch, cfg.epochs + 1):
        t0 = time.time()
        model.train()
        head.train()
        sum_loss, sum_acc = 0.0, 0.0
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{cfg.epochs}", disable=not progress, leave=False)
        for _ in bar:
            lr = lr_at(step, total_steps, cfg)
            for g in opt.param_groups:
                g["lr"] = lr
            head.set_margin(margin_at(step, total_steps, cfg))
            waves, labels = data.sample(cfg.batch_size, rng)
            waves, labels = waves.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            with torch.no_grad():
                feats = crop_features(waves)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.amp and device.type == "cuda"):
                emb = model(feats)
            loss, logits = head(emb.float(), labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
            step += 1
            acc = (logits.argmax(-1) == labels).float().mean().item()
            sum_loss += loss.item()
            sum_acc += acc
            bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{acc:.3f}", lr=f"{lr:.2e}")
        metrics = {"epoch": epoch, "step": step, "loss": sum_loss / steps_per_epoch,
                   "acc": sum_acc / steps_per_epoch, "lr": lr, "margin": head.margin,
                   "seconds": round(time.time() - t0, 2)}
        history.append(metrics)
        log.info("epoch %d/%d: loss %.4f acc %.4f lr %.2e margin %.3f (%.1f s)", epoch, cfg.epochs,
                 metrics["loss"], metrics["acc"], lr, head.margin, metrics["seconds"])
        with open(out / "train_log.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(metrics) + "\n")
        state = {"model": model.state_dict(), "head": head.state_dict(), "optimizer": opt.state_dict(),
                 "epoch": epoch, "step": step, "history": history, "config": asdict(cfg),
                 "spk2id": data.spk2id,
                 "rng": {"numpy_batch": rng.bit_generator.state, "torch": torch.get_rng_state(),
                         "python": random.getstate()}}
        save_atomic(state, out / "checkpoints" / f"epoch_{epoch}.pt")
        for _, old in list_checkpoints(out)[:-max(1, cfg.keep)]:
            old.unlink(missing_ok=True)
        if cfg.max_minutes > 0 and epoch < cfg.epochs:
            elapsed = time.time() - t_begin
            per_epoch = elapsed / (epoch - start_epoch + 1)
            if elapsed + per_epoch > cfg.max_minutes * 60:
                log.info("time budget of %.1f min reached after epoch %d; rerun the same command to resume",
                         cfg.max_minutes, epoch)
                stopped_early = True
                break

    summary = {"history": history, "stopped_early": stopped_early, "checkpoint": str(newest_checkpoint(out))}
    if not stopped_early:
        last = history[-1] if history else {}
        info = {"checkpoint": summary["checkpoint"], "epochs": cfg.epochs, "seed": cfg.seed,
                "final_loss": last.get("loss"), "final_acc": last.get("acc"),
                "num_speakers": len(data.spk2id), "data": cfg.data, "versions": _versions()}
        summary["model_dir"] = str(export_model_dir(model.cpu().eval(), cfg.model_conf, out / "model", info))
        log.info("exported %s", summary["model_dir"])
    return summary
