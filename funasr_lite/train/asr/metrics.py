"""Training curves: ``<out>/metrics.jsonl`` always, tensorboard event files when tensorboard is installed."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class MetricsLog:
    """Rank-0 scalar logger. Each line of ``metrics.jsonl``: ``{"split", "step", "elapsed_s", <name>: value}``."""

    def __init__(self, out_dir: str | Path, tensorboard: bool = True, enabled: bool = True) -> None:
        self.enabled = enabled
        self.path = Path(out_dir) / "metrics.jsonl"
        self.writer: Any = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter  # noqa: PLC0415
            except ImportError:
                log.warning("tensorboard is not installed: curves go to %s only (pip install tensorboard)", self.path)
            else:
                self.writer = SummaryWriter(str(Path(out_dir) / "tensorboard"))

    def scalars(self, split: str, values: dict[str, float], step: int, elapsed_s: float) -> None:
        """Record ``values`` of ``split`` (train/dev) at optimiser ``step``."""
        if not self.enabled:
            return
        row = {"split": split, "step": step, "elapsed_s": round(elapsed_s, 3)}
        row.update({k: float(v) for k, v in values.items()})
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
        if self.writer is not None:
            for k, v in values.items():
                self.writer.add_scalar(f"{split}/{k}", float(v), step)
            self.writer.flush()

    def truncate_after(self, step: int, drop_at_step: tuple[str, ...] = ()) -> None:
        """On resume: drop rows written after the checkpoint's ``step`` (they will be recomputed),
        and rows of the ``drop_at_step`` splits at ``step`` itself (logged after the checkpoint)."""
        if not self.enabled or not self.path.is_file():
            return
        keep = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
                if row["step"] < step or (row["step"] == step and row["split"] not in drop_at_step):
                    keep.append(line)
            except (ValueError, KeyError):
                continue  # a torn last line from a kill
        tmp = self.path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(line + "\n" for line in keep), encoding="utf-8")
        os.replace(tmp, self.path)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def read_metrics(path: str | Path, split: str | None = None) -> list[dict[str, Any]]:
    """Rows of a ``metrics.jsonl`` (optionally one split), skipping torn lines."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if split is None or row.get("split") == split:
            rows.append(row)
    return rows
