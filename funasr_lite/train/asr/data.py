"""Training data for Paraformer: utterance lists, fbank datasets, batches and the on-device featurizer.

Split of work, as FunASR's ``WavFrontend`` but cut in two: the dataset gives scaled 80-dim fbank
(``WavFrontend.compute_fbank``: x32768, before LFR/CMVN, optional dither); the ``Featurizer`` on the
training device does LFR -> CMVN -> ``SpecAugLFR`` on whole padded batches. Without SpecAug and
dither the result equals ``WavFrontend.__call__`` exactly. ``PreloadedDataset`` computes all fbank
once on the device and keeps it there (no workers, no per-step audio decoding; no dither).
"""

from __future__ import annotations

import copy
import hashlib
import logging
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import kaldiio
import numpy as np
import soundfile
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from funasr_lite.chars import split_chars
from funasr_lite.data.check import line_numbers
from funasr_lite.data.kaldi_lists import read_scp, read_text
from funasr_lite.errors import InputError, one_line
from funasr_lite.frontend.audio import TARGET_SR, load_audio
from funasr_lite.frontend.cmvn import Cmvn, apply_cmvn
from funasr_lite.frontend.fbank import num_frames as fbank_num_frames
from funasr_lite.frontend.lfr import apply_lfr_batch
from funasr_lite.frontend.wav_frontend import WavFrontend
from funasr_lite.train.asr.specaug import SpecAugLFR

log = logging.getLogger(__name__)
_PIPE_OR_URL = re.compile(r"\|\s*$|^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass
class Utt:
    """One training utterance; ``num_frames`` counts 10 ms fbank frames (before LFR)."""

    key: str
    source: str
    token_ids: list[int]
    num_frames: int
    kind: str = "wav"  # "wav": a wav.scp entry for load_audio; "feats": a kaldiio feats.scp entry


def tokenize(text: str, token2id: dict[str, int], key: str) -> list[int]:
    """``split_chars(text)`` -> token ids; empty text or unknown characters raise ``InputError(key, ...)``."""
    chars = split_chars(text)
    if not chars:
        raise InputError(key, "empty transcript")
    unknown = list(dict.fromkeys(c for c in chars if c not in token2id))
    if unknown:
        raise InputError(key, "character(s) " + ",".join(f"'{c}'" for c in unknown) + " not in the token list")
    return [token2id[c] for c in chars]


def fbank_frames(num_samples: int, frontend: WavFrontend) -> int:
    """fbank frames ``frontend.compute_fbank`` gives for ``num_samples`` 16 kHz samples."""
    if num_samples < 2:
        return 0
    opts = frontend.fbank_opts
    ms = min(frontend.frame_length, num_samples / frontend.fs * 1000)
    if ms != opts.frame_length_ms:
        opts = replace(opts, frame_length_ms=ms)
    return int(fbank_num_frames(torch.tensor(num_samples), opts))


def _num_samples(source: str, key: str) -> int:
    """16 kHz sample count from the file header (soundfile.info); decodes only pipes, URLs and odd formats."""
    if not _PIPE_OR_URL.search(source):
        if not Path(source).is_file():
            raise InputError(key, f"audio file not found: {source}")
        try:
            info = soundfile.info(source)
            if 0 < info.frames < 1 << 40 and info.samplerate > 0:
                return info.frames if info.samplerate == TARGET_SR else round(info.frames * TARGET_SR / info.samplerate)
        except Exception:  # noqa: BLE001, S110 - not readable by soundfile (.pcm, m4a, ...): decode below
            pass
    return len(load_audio(source, key=key).waveform)


def load_utterances(
    data_dir: str | Path,
    token_list: list[str],
    feats_scp: str | Path | None = None,
    frontend: WavFrontend | None = None,
) -> tuple[list[Utt], list[str]]:
    """``data_dir/{wav.scp,text}`` (or ``text`` + ``feats_scp``) -> (good utterances sorted by key, problems).

    Each problem is one line ``<file>:<line>: utt <key>: <problem>``. With ``feats_scp`` the sources
    are its entries and ``wav.scp`` is not read; frame counts come from ``utt2num_frames`` next to it
    (else from the matrices). Broken list files raise ``InputError``.
    """
    d = Path(data_dir)
    frontend = frontend or WavFrontend(dither=0.0)
    text_path = d / "text"
    texts = read_text(text_path)
    if feats_scp is not None:
        src_path, kind = Path(feats_scp), "feats"
        n2f = src_path.parent / "utt2num_frames"
        counts = {k: int(v) for k, v in read_scp(n2f).items()} if n2f.exists() else {}
    else:
        src_path, kind, counts = d / "wav.scp", "wav", {}
        if (d / "segments").exists():
            raise InputError(d / "segments", "segments are not supported for training; cut the audio first")
    sources = read_scp(src_path)
    token2id = {t: i for i, t in enumerate(token_list)}
    text_lines, src_lines = line_numbers(text_path), line_numbers(src_path)
    problems = [
        f"{src_path}:{src_lines[k]}: utt {k}: in {src_path.name} but not in text"
        for k in sorted(sources.keys() - texts.keys())
    ]
    utts: list[Utt] = []
    for key in sorted(texts):
        where = f"{text_path}:{text_lines[key]}: utt {key}"
        if key not in sources:
            problems.append(f"{where}: in text but not in {src_path.name}")
            continue
        try:
            ids = tokenize(texts[key], token2id, key)
            src = sources[key]
            where = f"{src_path}:{src_lines[key]}: utt {key}"
            if kind == "feats":
                n = counts[key] if key in counts else int(kaldiio.load_mat(src).shape[0])
            else:
                n = fbank_frames(_num_samples(src, key), frontend)
            if n <= 0:
                raise InputError(key, "too short for one fbank frame")
        except InputError as err:
            problems.append(f"{where}: {err.problem}")
            continue
        except Exception as err:  # noqa: BLE001 - kaldiio/soundfile errors for one item
            problems.append(f"{where}: {one_line(err)}")
            continue
        utts.append(Utt(key, src, ids, n, kind))
    return utts, problems


def _item_seed(seed: int, epoch: int, index: int) -> int:
    """A 63-bit seed from ``(seed, epoch, index)``, identical in every process."""
    digest = hashlib.blake2b(f"{seed}/{epoch}/{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def unreadable_fbank(err: InputError, num_frames: int, num_mel_bins: int) -> Tensor:
    """Log ``err`` and return NaN features: the trainer skips (and reports) batches with non-finite features."""
    log.warning("%s; its batch is skipped", err)
    return torch.full((max(1, num_frames), num_mel_bins), float("nan"))


class AsrDataset(Dataset):
    """``(key, fbank (T, 80) float32, token ids)`` per utterance, fbank as ``WavFrontend.compute_fbank``.

    Dither noise for item ``i`` comes from a generator seeded by ``(seed, epoch, i)``: the same in
    any worker, different each epoch (``set_epoch``). ``feats`` sources are read with kaldiio (no dither).
    """

    def __init__(self, utts: list[Utt], frontend: WavFrontend, dither: float = 0.0, seed: int = 0) -> None:
        self.utts, self.dither, self.seed, self.epoch = list(utts), float(dither), int(seed), 0
        self.frontend = copy.copy(frontend)
        self.frontend.fbank_opts = replace(frontend.fbank_opts, dither=self.dither)

    def __len__(self) -> int:
        return len(self.utts)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def lengths(self) -> list[int]:
        return [u.num_frames for u in self.utts]

    def fbank(self, i: int) -> Tensor:
        """The fbank of utterance ``i`` (float32, CPU)."""
        u = self.utts[i]
        if u.kind == "feats":
            return torch.from_numpy(np.array(kaldiio.load_mat(u.source), dtype=np.float32))
        try:
            wave = torch.from_numpy(load_audio(u.source, key=u.key).waveform)
        except InputError as err:  # NaN samples, file gone since the listing: the trainer skips the batch
            return unreadable_fbank(err, u.num_frames, self.frontend.fbank_opts.num_mel_bins)
        gen = torch.Generator().manual_seed(_item_seed(self.seed, self.epoch, i)) if self.dither > 0 else None
        feats, counts = self.frontend.compute_fbank(wave[None], generator=gen)
        return feats[0, : int(counts[0])]

    def __getitem__(self, i: int) -> tuple[str, Tensor, Tensor]:
        return self.utts[i].key, self.fbank(i), torch.tensor(self.utts[i].token_ids, dtype=torch.long)


@dataclass
class Batch:
    """A padded batch: fbank zero-padded, token ids padded with -1 (FunASR's ``ignore_id``)."""

    keys: list[str]
    fbank: Tensor  # (B, T, 80), float32 (float16 from a float16 PreloadedDataset)
    fbank_lens: Tensor  # (B,) long
    ys: Tensor  # (B, L) long
    ys_lens: Tensor  # (B,) long

    def to(self, device: Any, non_blocking: bool = False) -> Batch:
        return Batch(self.keys, *(x.to(device, non_blocking=non_blocking) for x in self._tensors()))

    def pin_memory(self) -> Batch:  # used by DataLoader(pin_memory=True)
        return Batch(self.keys, *(x.pin_memory() for x in self._tensors()))

    def _tensors(self) -> tuple[Tensor, ...]:
        return self.fbank, self.fbank_lens, self.ys, self.ys_lens


def collate(items: Sequence[tuple[str, Tensor, Tensor]]) -> Batch:
    """Pad a list of dataset items into a ``Batch`` (on the items' device)."""
    feats, ys = [f for _, f, _ in items], [y for _, _, y in items]
    dev = feats[0].device
    flens = torch.tensor([f.shape[0] for f in feats], dtype=torch.long, device=dev)
    ylens = torch.tensor([y.shape[0] for y in ys], dtype=torch.long, device=dev)
    fbank = feats[0].new_zeros((len(feats), int(flens.max()), feats[0].shape[1]))
    ypad = torch.full((len(ys), int(ylens.max())), -1, dtype=torch.long, device=dev)
    for i, (f, y) in enumerate(zip(feats, ys)):
        fbank[i, : f.shape[0]] = f
        ypad[i, : y.shape[0]] = y
    return Batch([k for k, _, _ in items], fbank, flens, ypad, ylens)


class Featurizer:
    """Padded fbank -> LFR -> CMVN (padding zeroed) -> SpecAugLFR (only when ``train``), on fbank's device."""

    def __init__(self, lfr_m: int, lfr_n: int, cmvn: Cmvn | None, specaug: SpecAugLFR | None = None) -> None:
        self.lfr_m, self.lfr_n, self.cmvn, self.specaug = lfr_m, lfr_n, cmvn, specaug

    def __call__(
        self, fbank: Tensor, lens: Tensor, train: bool, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        x = fbank.float()
        lens = lens.to(x.device)
        if self.lfr_m != 1 or self.lfr_n != 1:
            x, lens = apply_lfr_batch(x, lens, self.lfr_m, self.lfr_n)
        if self.cmvn is not None:
            if self.cmvn.shift.device != x.device:
                self.cmvn = Cmvn(self.cmvn.shift.to(x.device), self.cmvn.scale.to(x.device))
            x = apply_cmvn(x, self.cmvn.shift, self.cmvn.scale)
            valid = torch.arange(x.shape[1], device=x.device).unsqueeze(0) < lens.unsqueeze(1)
            x = x.masked_fill(~valid.unsqueeze(-1), 0.0)
        if train and self.specaug is not None:
            x, lens = self.specaug(x, lens, generator=generator)
        return x, lens


class PreloadedDataset(Dataset):
    """Every utterance's fbank computed once (batched, on ``device``) and kept there in ``dtype``.

    Storage: one flat ``(frames, 80)`` tensor per compute batch (``batch_seconds`` of padded audio,
    utterances sorted by length) and one flat token tensor, plus offsets; items are views.
    Dither is not applied (the features are fixed for the whole run).
    """

    def __init__(
        self,
        dataset: AsrDataset,
        device: Any,
        dtype: torch.dtype = torch.float16,
        batch_seconds: float = 600.0,
        progress: bool = True,
    ) -> None:
        from tqdm import tqdm

        self.utts, self.device, self.dtype = dataset.utts, torch.device(device), dtype
        if dataset.dither > 0 and any(u.kind == "wav" for u in self.utts):
            warnings.warn("PreloadedDataset computes fbank once: dither is not applied", stacklevel=2)
        frontend = copy.copy(dataset.frontend)
        frontend.fbank_opts = replace(frontend.fbank_opts, dither=0.0)
        n = len(self.utts)
        self.chunks: list[Tensor] = []
        self._where = np.zeros((n, 3), dtype=np.int64)  # chunk, first frame, frames
        order = sorted(range(n), key=lambda i: self.utts[i].num_frames)
        budget, start = max(1, int(batch_seconds * 100)), 0  # in 10 ms frames
        with tqdm(total=n, desc="preload fbank", unit="utt", disable=not progress) as bar:
            while start < n:  # sorted: the last item of a group is its longest
                stop = start + 1
                while stop < n and self.utts[order[stop]].num_frames * (stop + 1 - start) <= budget:
                    stop += 1
                self._load(order[start:stop], frontend)
                bar.update(stop - start)
                start = stop
        lens = np.array([len(u.token_ids) for u in self.utts], dtype=np.int64)
        self._tok = np.stack([np.cumsum(lens) - lens, lens], axis=1)  # first token, tokens
        self.tokens = torch.tensor([t for u in self.utts for t in u.token_ids], dtype=torch.long, device=self.device)

    def _load(self, idx: list[int], frontend: WavFrontend) -> None:
        """Compute (wav, batched on the device) or read (feats) the fbank of ``idx`` into one new chunk."""
        feats = {
            i: torch.from_numpy(np.array(kaldiio.load_mat(self.utts[i].source), dtype=np.float32)).to(self.device)
            for i in idx
            if self.utts[i].kind == "feats"
        }
        wav, waves = [], []
        for i in idx:
            if self.utts[i].kind == "feats":
                continue
            try:
                waves.append(torch.from_numpy(load_audio(self.utts[i].source, key=self.utts[i].key).waveform))
                wav.append(i)
            except InputError as err:  # NaN samples, file gone since the listing: the trainer skips the batch
                feats[i] = unreadable_fbank(err, self.utts[i].num_frames, frontend.fbank_opts.num_mel_bins).to(
                    self.device
                )
        if wav:
            batch = torch.nn.utils.rnn.pad_sequence(waves, batch_first=True).to(self.device)
            out, counts = frontend.compute_fbank(batch, [len(w) for w in waves])
            feats.update({i: out[row, : int(counts[row])] for row, i in enumerate(wav)})
        parts = [feats[i] for i in idx]
        self.chunks.append(torch.cat(parts).to(self.dtype))
        starts = np.cumsum([0] + [p.shape[0] for p in parts])
        for j, i in enumerate(idx):
            self._where[i] = (len(self.chunks) - 1, starts[j], parts[j].shape[0])

    def __len__(self) -> int:
        return len(self.utts)

    def set_epoch(self, epoch: int) -> None:
        """Nothing changes between epochs (no dither)."""

    lengths = AsrDataset.lengths

    def __getitem__(self, i: int) -> tuple[str, Tensor, Tensor]:
        chunk, start, frames = (int(v) for v in self._where[i])
        t0, tn = (int(v) for v in self._tok[i])
        return self.utts[i].key, self.chunks[chunk][start : start + frames], self.tokens[t0 : t0 + tn]


class _ResumableLoader(DataLoader):
    """A ``DataLoader`` that (1) sets the dataset's epoch from the sampler's before each pass and
    (2) keeps ``batch_sampler.position`` at the batches *consumed* (workers prefetch ahead)."""

    def __iter__(self):  # type: ignore[override]
        sampler, ds = self.batch_sampler, self.dataset
        if hasattr(ds, "set_epoch") and hasattr(sampler, "epoch"):
            ds.set_epoch(sampler.epoch)
        start = getattr(sampler, "start_position", 0)
        for k, batch in enumerate(super().__iter__(), start + 1):
            if hasattr(sampler, "position"):
                sampler.position = k
            yield batch


def make_loader(dataset: Dataset, batch_sampler: Any, num_workers: int, pin_memory: bool) -> DataLoader:
    """DataLoader with ``collate``; a ``PreloadedDataset`` (already on its device) gets 0 workers, no pinning.

    The loader draws its worker base seed from a private generator, never from torch's global
    RNG, so a resumed run's global RNG (dropout, SpecAug, GLM sampler) continues exactly.
    """
    if isinstance(dataset, PreloadedDataset):
        num_workers, pin_memory = 0, False
    return _ResumableLoader(
        dataset,
        batch_sampler=batch_sampler,
        collate_fn=collate,
        num_workers=num_workers,
        pin_memory=pin_memory,
        generator=torch.Generator().manual_seed(0),
    )
