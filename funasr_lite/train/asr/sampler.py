"""Length-bucketed dynamic batches under a padded-frames budget, DDP-aware and resumable mid-epoch.

The cost of a batch is ``max(length) * batch_size`` (padded frames; ESPnet's ``batch_bins``, FunASR's
``batch_type: length``), kept ``<= batch_bins``. Lengths are in whatever unit the caller passes (the
trainer passes 10 ms fbank frames).

One epoch's batch list (identical on every rank, a function of ``seed`` and ``epoch`` only):

* ``shuffle=True``: a permutation of the kept items (``torch.Generator`` seeded ``seed * 1000003 +
  epoch``) is cut into buckets of ``bucket_size`` items (``bucket_size <= 0``: one bucket); each
  bucket is sorted by length (stable), cut greedily into batches, and then the order of all batches
  is shuffled with the same generator. Batch contents and their number change between epochs.
* ``shuffle=False``: all kept items sorted by (length, index), cut greedily, in that order.

DDP: the list is truncated to a multiple of ``world_size`` and rank ``r`` takes batches ``r, r + W,
...``, so every rank runs the same number of steps (the few truncated batches are different ones
each epoch when shuffling).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch


class BucketBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Yields lists of dataset indices; see the module docstring."""

    def __init__(
        self,
        lengths: list[int],
        batch_bins: int,
        max_length: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        bucket_size: int = 2048,
        max_batch_size: int | None = None,
    ) -> None:
        if batch_bins <= 0:
            raise ValueError(f"batch_bins must be > 0, got {batch_bins}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
        if max_batch_size is not None and max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1 or None, got {max_batch_size}")
        self.lengths = [int(n) for n in lengths]
        self.batch_bins = int(batch_bins)
        self.max_length = max_length
        self.shuffle = shuffle
        self.seed = int(seed)
        self.rank = rank
        self.world_size = world_size
        self.bucket_size = int(bucket_size)
        self.max_batch_size = max_batch_size
        if max_length is not None and max_length <= 0:  # 0 / negative: no limit
            self.max_length = max_length = None
        limit = self.batch_bins if max_length is None else min(self.batch_bins, int(max_length))
        self.kept = [i for i, n in enumerate(self.lengths) if n <= limit]
        self.num_dropped = len(self.lengths) - len(self.kept)
        if not self.kept:
            raise ValueError(
                f"no item fits: all {len(self.lengths)} items are longer than max_length={max_length} "
                f"or than batch_bins={batch_bins} (longest item: {max(self.lengths, default=0)})"
            )
        self.epoch = 0
        self.position = 0  # batches of this epoch already yielded by __iter__ (or restored)
        self._skip = 0  # batches to skip at the next __iter__ (set by load_state_dict)
        self._cache: tuple[int, int, list[list[int]]] | None = None
        if len(self.epoch_batches()) < world_size:
            raise ValueError(
                f"only {len(self.epoch_batches())} batches for world_size={world_size}: lower batch_bins "
                f"({batch_bins}) or add data"
            )

    def _cut(self, order: list[int]) -> list[list[int]]:
        """Greedy batches over ``order`` (ascending lengths) under the budget and size cap."""
        batches: list[list[int]] = []
        cur: list[int] = []
        longest = 0
        for i in order:
            n = self.lengths[i]
            top = max(longest, n)
            full = self.max_batch_size is not None and len(cur) >= self.max_batch_size
            if cur and (full or top * (len(cur) + 1) > self.batch_bins):
                batches.append(cur)
                cur, top = [], n
            cur.append(i)
            longest = top
        if cur:
            batches.append(cur)
        return batches

    def epoch_batches(self, epoch: int | None = None) -> list[list[int]]:
        """The full batch list of ``epoch`` (default: the current one) before the rank split."""
        epoch = self.epoch if epoch is None else epoch
        if self._cache is not None and self._cache[:2] == (epoch, self.seed):
            return self._cache[2]
        if not self.shuffle:
            batches = self._cut(sorted(self.kept, key=lambda i: (self.lengths[i], i)))
        else:
            g = torch.Generator().manual_seed(self.seed * 1000003 + epoch)
            perm = [self.kept[j] for j in torch.randperm(len(self.kept), generator=g).tolist()]
            size = self.bucket_size if self.bucket_size > 0 else len(perm)
            batches = []
            for start in range(0, len(perm), size):
                bucket = sorted(perm[start : start + size], key=lambda i: self.lengths[i])
                batches.extend(self._cut(bucket))
            batches = [batches[j] for j in torch.randperm(len(batches), generator=g).tolist()]
        self._cache = (epoch, self.seed, batches)
        return batches

    def batches(self) -> list[list[int]]:
        """This rank's batches of the current epoch (after truncation to a multiple of world_size)."""
        full = self.epoch_batches()
        usable = len(full) // self.world_size * self.world_size
        return full[self.rank : usable : self.world_size]

    @property
    def start_position(self) -> int:
        """Batches the next ``__iter__`` skips (non-zero only right after ``load_state_dict``)."""
        return self._skip

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch; a pending resume position is kept only when ``epoch`` is the restored one."""
        if epoch != self.epoch:
            self._skip = 0
            self.position = 0
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[list[int]]:
        mine = self.batches()
        start, self._skip = self._skip, 0
        self.position = start
        for j in range(start, len(mine)):
            self.position = j + 1
            yield list(mine[j])

    def __len__(self) -> int:
        """Batches per epoch for this rank (the whole epoch, also right after a mid-epoch restore)."""
        return len(self.batches())

    def state_dict(self, position: int | None = None) -> dict:
        """``{"epoch", "position", "seed"}``; pass ``position`` = batches the trainer consumed when
        a DataLoader with workers prefetches (then ``self.position`` runs ahead of training)."""
        return {
            "epoch": self.epoch,
            "position": self.position if position is None else int(position),
            "seed": self.seed,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore; the next ``__iter__`` of that epoch skips the ``position`` batches already done."""
        self.seed = int(state["seed"])
        self.epoch = int(state["epoch"])
        self.position = self._skip = int(state["position"])
        if not 0 <= self._skip <= len(self.batches()):
            raise ValueError(f"position {self._skip} is outside epoch {self.epoch}'s {len(self)} batches")
