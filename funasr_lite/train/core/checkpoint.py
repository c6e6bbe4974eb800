"""Training checkpoints of every trainer: atomic saves, an index with the newest + N best, averaging.

Layout of ``ckpt_dir``: ``<tag>.pt`` files (``torch.save`` of a dict holding only tensors,
numbers, strings, lists and dicts, so that ``torch.load(weights_only=True)`` reads them) and
``checkpoints.json``, the index: a list, oldest first, of
``{"tag", "file", "metric", "value", "time", "step"}``. A checkpoint file that was written but
never made it into the index (a crash between the two) is ignored, as are temporary files.
"""

from __future__ import annotations

import json
import logging
import math
import os
import pickle
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from funasr_lite.fileio import _umask, write_text_atomic

log = logging.getLogger(__name__)
INDEX = "checkpoints.json"


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_atomic(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file next to ``path``, fsync, ``os.replace``, fsync the folder.

    On any failure the previous ``path`` (if any) is untouched and the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except OSError as err:  # disk full, quota, ...: name the checkpoint (torch.save's error does not)
        Path(tmp).unlink(missing_ok=True)
        raise OSError(err.errno, err.strerror or str(err), str(path)) from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def looks_complete(path: Path) -> bool:
    """Cheap check that a ``torch.save`` zip file is whole: central directory readable, every entry in range."""
    try:
        size = path.stat().st_size
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            return bool(infos) and all(i.header_offset + i.compress_size <= size for i in infos)
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


class CheckpointManager:
    """Save ``<tag>.pt`` checkpoints; keep the ``keep_latest`` newest plus the ``keep_nbest`` best by ``metric``.

    ``mode``: ``"max"`` or ``"min"``; by default ``"max"`` for accuracy-like metrics (``acc``...)
    and ``"min"`` otherwise (``loss``, ``cer``...). Checkpoints saved with no metric value are
    kept only while they are among the newest.
    """

    def __init__(
        self,
        ckpt_dir: str | os.PathLike,
        keep_nbest: int = 10,
        metric: str = "acc",
        mode: str | None = None,
        keep_latest: int = 1,
    ) -> None:
        self.dir = Path(ckpt_dir)
        self.keep_nbest = int(keep_nbest)
        self.keep_latest = max(1, int(keep_latest))
        self.metric = metric
        self.mode = mode or ("max" if metric.lower().startswith("acc") or metric.lower().endswith("acc") else "min")
        if self.mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")

    # ---------------------------------------------------------------- index
    def entries(self) -> list[dict[str, Any]]:
        """The index, oldest first (``[]`` when there is none yet)."""
        index = self.dir / INDEX
        if not index.is_file():
            return []
        try:
            data = json.loads(index.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"{index}: unreadable checkpoint index ({e})") from None
        if not isinstance(data, list) or not all(isinstance(e, dict) and "tag" in e and "file" in e for e in data):
            raise ValueError(f"{index}: not a list of checkpoint entries")
        return data

    def _write_index(self, entries: list[dict[str, Any]]) -> None:
        write_text_atomic(self.dir / INDEX, json.dumps(entries, indent=1, ensure_ascii=False) + "\n")
        fsync_dir(self.dir)

    def _ranked(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Entries with a value of this manager's metric, best first (ties: the older first)."""
        scored = [e for e in entries if isinstance(e.get("value"), (int, float)) and e.get("metric") == self.metric]
        return sorted(scored, key=lambda e: -e["value"] if self.mode == "max" else e["value"])

    # ---------------------------------------------------------------- save
    def save(self, tag: str, state: dict[str, Any], metric_value: float | None) -> Path:
        """Write ``<tag>.pt`` atomically, add it to the index as the newest, then prune old files."""
        if not tag or "/" in tag or tag.startswith("."):
            raise ValueError(f"bad checkpoint tag {tag!r}")
        if metric_value is not None:
            metric_value = float(metric_value)
            if not math.isfinite(metric_value):
                log.warning("checkpoint %s: %s=%s is not finite; it is not ranked", tag, self.metric, metric_value)
                metric_value = None
        path = self.dir / f"{tag}.pt"
        save_atomic(state, path)
        step = state.get("step") if isinstance(state.get("step"), int) else None
        entry = {
            "tag": tag,
            "file": path.name,
            "metric": self.metric,
            "value": metric_value,
            "time": round(time.time(), 3),
            "step": step,
        }
        entries = [e for e in self.entries() if e["tag"] != tag] + [entry]
        keep = {e["tag"] for e in entries[-self.keep_latest :]}
        keep |= {e["tag"] for e in self._ranked(entries)[: max(0, self.keep_nbest)]}
        dropped = [e for e in entries if e["tag"] not in keep]
        entries = [e for e in entries if e["tag"] in keep]
        self._write_index(entries)
        kept_files = {e["file"] for e in entries}
        for e in dropped:
            if e["file"] not in kept_files:
                (self.dir / e["file"]).unlink(missing_ok=True)
        return path

    def adopt(self, files: list[Path]) -> None:
        """Index checkpoint files written without an index (oldest first), e.g. by an older version."""
        self._write_index(
            [
                {
                    "tag": p.stem,
                    "file": p.name,
                    "metric": self.metric,
                    "value": None,
                    "time": round(p.stat().st_mtime, 3),
                    "step": None,
                }
                for p in files
            ]
        )

    # ---------------------------------------------------------------- query
    def latest(self) -> Path | None:
        """The newest indexed checkpoint whose file is present and whole (older ones as fallback)."""
        for e in reversed(self.entries()):
            path = self.dir / e["file"]
            if looks_complete(path):
                return path
            log.warning("checkpoint %s is missing or truncated; falling back to the previous one", path)
        return None

    def best(self, n: int, min_step: int = 0) -> list[Path]:
        """Paths of the ``n`` best checkpoints by the metric (present files only), best first;
        with ``min_step``, only checkpoints saved at that optimiser step or later."""
        ranked = [e for e in self._ranked(self.entries()) if (e.get("step") or 0) >= min_step]
        paths = [self.dir / e["file"] for e in ranked]
        return [p for p in paths if p.is_file()][: max(0, n)]

    def load_latest(self, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
        """``torch.load(weights_only=True)`` of the newest readable checkpoint, or ``None``."""
        for e in reversed(self.entries()):
            path = self.dir / e["file"]
            if not looks_complete(path):
                log.warning("checkpoint %s is missing or truncated; falling back to the previous one", path)
                continue
            try:
                return torch.load(path, map_location=map_location, weights_only=True)
            except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as err:
                first = str(err).splitlines()[0] if str(err) else type(err).__name__
                log.warning("cannot load %s (%s); falling back to the previous one", path, first)
        return None


# -------------------------------------------------------------------- averaging
def _state_of(path: Path, key: str) -> dict[str, Tensor]:
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(obj, dict) and key and key in obj and isinstance(obj[key], dict):
        obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise ValueError(f"{path}: no state dict under {key!r}")
    return obj


@torch.no_grad()
def average_checkpoints(paths: list[Path], key: str = "model") -> dict[str, Tensor]:
    """Element-wise mean of the float tensors of ``paths`` (summed in float64, cast back);
    integer/bool tensors are taken from the last path. ``ckpt[key]`` is used when present,
    else the file must be a bare state dict. Key or shape mismatches raise ``ValueError``."""
    if not paths:
        raise ValueError("no checkpoints to average")
    total: dict[str, Tensor] = {}
    first: dict[str, tuple[torch.dtype, torch.Size]] = {}
    for i, path in enumerate(paths):
        state = _state_of(Path(path), key)
        if i == 0:
            first = {k: (v.dtype, v.shape) for k, v in state.items()}
        else:
            missing, extra = sorted(set(first) - set(state)), sorted(set(state) - set(first))
            if missing or extra:
                raise ValueError(f"{path}: keys differ from {paths[0]}: missing {missing}, unexpected {extra}")
            wrong = sorted(k for k in state if state[k].shape != first[k][1])
            if wrong:
                raise ValueError(f"{path}: shapes differ from {paths[0]} for {wrong}")
        for k, v in state.items():
            if first[k][0].is_floating_point:
                total[k] = total[k] + v.double() if k in total else v.double()
            else:
                total[k] = v.clone()
        del state
    n = len(paths)
    return {k: (total[k] / n).to(first[k][0]) if first[k][0].is_floating_point else total[k] for k in first}
