"""torchrun / DDP plumbing: rank discovery, process group, rank-0 logging, global flags."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    """Where this process sits: ``rank`` of ``world_size``, its ``device``."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: str) -> DistInfo:
    """Read torchrun's ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``; start NCCL (CUDA) or gloo (CPU) if > 1 process.

    ``device`` is ``cpu``, ``cuda`` or ``cuda:N``; under torchrun each process takes ``cuda:LOCAL_RANK``.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"--device {device}: CUDA is not available on this machine")
        dev = torch.device("cuda", local) if world > 1 or device == "cuda" else torch.device(device)
        torch.cuda.set_device(dev)
    else:
        dev = torch.device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return DistInfo(rank, world, local, dev)


def _reduce_flag(flag: bool, info: DistInfo, op: dist.ReduceOp) -> bool:
    if not info.enabled:
        return flag
    t = torch.tensor([1 if flag else 0], device=info.device)
    dist.all_reduce(t, op=op)
    return bool(t.item())


def all_true(flag: bool, info: DistInfo) -> bool:
    """``flag`` AND-ed over ranks (every rank must call)."""
    return _reduce_flag(flag, info, dist.ReduceOp.MIN)


def any_true(flag: bool, info: DistInfo) -> bool:
    """``flag`` OR-ed over ranks (every rank must call)."""
    return _reduce_flag(flag, info, dist.ReduceOp.MAX)


def gather_objects(obj: object, info: DistInfo) -> list[object]:
    """Every rank's ``obj``, in rank order (every rank must call)."""
    if not info.enabled:
        return [obj]
    out: list[object] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def setup_logging(out_dir: Path, info: DistInfo) -> None:
    """Rank 0 logs INFO to stderr and ``out_dir/train.log`` (appended on resume); other ranks WARNING only."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    fmt = logging.Formatter(f"%(asctime)s [rank {info.rank}] %(levelname)s %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if info.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(out_dir / "train.log", encoding="utf-8"))
    for h in handlers:
        h.setFormatter(fmt)
        root.addHandler(h)
    root.setLevel(logging.INFO if info.is_main else logging.WARNING)
