"""Speaker-labelled random crops for CAM++ training.

A Kaldi data dir (``wav.scp`` + ``utt2spk``; audio any format ``soundfile`` reads: wav, flac) is
loaded once into memory as int16 (1 h of 16 kHz audio = 115 MB). Each speaker's utterances are
concatenated with short random silences between them, so a crop may cross an utterance boundary
(same speaker) and sometimes holds a pause, as the 1.5 s diarization chunks do.

A batch: speakers drawn uniformly (balanced classes), one crop length per batch drawn from
``min_crop, min_crop + 0.25, ... <= max_crop`` seconds (no padding), a random offset, a random gain (+-6 dB) and a
white-noise floor (``noise_std`` int16 units, drawn per crop) so that pauses are not digital zero.
Features are :func:`funasr_lite.frontend.fbank.campplus_fbank` — default Kaldi fbank, 80 bins, no
x32768, mean over time subtracted — computed batched on the training device.

Relative paths in ``wav.scp`` are resolved against the current directory (Kaldi's rule).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch import Tensor

from funasr_lite.data.kaldi_lists import read_scp
from funasr_lite.errors import InputError
from funasr_lite.frontend.fbank import CAMPPLUS_OPTIONS, fbank

log = logging.getLogger(__name__)
FS = 16000
CROP_STEP = 0.25  # seconds


def crop_features(waves: Tensor) -> Tensor:
    """CAM++ features of equal-length crops ``(B, N)`` float in [-1, 1] -> ``(B, T, 80)``, each
    item equal to ``campplus_fbank`` of that item (computed on ``waves``' device)."""
    feats, _ = fbank(waves, None, CAMPPLUS_OPTIONS)
    return feats - feats.mean(dim=1, keepdim=True)


class SpeakerCrops:
    """In-memory speaker audio and a seeded batch sampler of random crops."""

    def __init__(
        self,
        data_dir: str | Path,
        min_crop: float = 1.5,
        max_crop: float = 3.0,
        gap_range: tuple[float, float] = (0.0, 0.3),
        noise_std: tuple[float, float] = (2.0, 40.0),
        gain_db: float = 6.0,
        seed: int = 0,
        spk2id: dict[str, int] | None = None,
    ) -> None:
        if not 0 < min_crop <= max_crop:
            raise ValueError(f"need 0 < min_crop <= max_crop, got {min_crop}, {max_crop}")
        self.data_dir = Path(data_dir)
        self.min_crop, self.max_crop = float(min_crop), float(max_crop)
        # crop lengths on a 0.25 s grid: few distinct shapes, so oneDNN/cuDNN plans are reused
        self.crop_lengths = np.arange(self.min_crop, self.max_crop + 1e-9, CROP_STEP)
        self.noise_std = noise_std
        self.gain_db = gain_db
        wavs = read_scp(self.data_dir / "wav.scp")
        utt2spk = read_scp(self.data_dir / "utt2spk")
        missing = sorted(set(wavs) - set(utt2spk))
        if missing:
            raise InputError(self.data_dir / "utt2spk", f"{len(missing)} utterances have no speaker, e.g. {missing[0]}")
        speakers = sorted({utt2spk[u] for u in wavs})
        if len(speakers) < 2:
            raise InputError(self.data_dir, f"need at least 2 speakers, found {len(speakers)}")
        if spk2id is None:
            spk2id = {s: i for i, s in enumerate(speakers)}
        unknown = [s for s in speakers if s not in spk2id]
        if unknown:
            raise InputError(self.data_dir, f"speakers not in the given speaker map, e.g. {unknown[0]}")
        self.spk2id = spk2id
        rng = np.random.default_rng(seed)
        pieces: dict[str, list[np.ndarray]] = {s: [] for s in speakers}
        for utt in sorted(wavs):
            path = wavs[utt]
            try:
                wave, fs = sf.read(path, dtype="int16", always_2d=True)
            except (OSError, RuntimeError, sf.LibsndfileError) as e:
                raise InputError(path, f"cannot read audio of {utt}: {e}") from e
            if fs != FS:
                raise InputError(path, f"expected {FS} Hz audio, got {fs}")
            spk = utt2spk[utt]
            if pieces[spk]:
                pieces[spk].append(np.zeros(int(rng.uniform(*gap_range) * FS), dtype=np.int16))
            pieces[spk].append(wave.mean(axis=1).astype(np.int16) if wave.shape[1] > 1 else wave[:, 0])
        self.audio = {s: np.concatenate(p) for s, p in pieces.items()}
        self.speakers = speakers
        short = [s for s, a in self.audio.items() if len(a) < int(self.max_crop * FS)]
        if short:
            raise InputError(
                self.data_dir,
                f"{len(short)} speakers have less than max_crop={self.max_crop} s of audio, e.g. {short[0]}",
            )
        self.num_utts = len(wavs)
        self.total_seconds = sum(len(a) for a in self.audio.values()) / FS
        log.info(
            "%s: %d speakers, %d utterances, %.2f h",
            self.data_dir,
            len(speakers),
            self.num_utts,
            self.total_seconds / 3600.0,
        )

    @property
    def num_speakers(self) -> int:
        return len(self.speakers)

    def steps_per_epoch(self, batch_size: int) -> int:
        """Steps that draw about as much audio as the data set holds (mean crop length)."""
        mean_crop = 0.5 * (self.min_crop + self.max_crop)
        return max(1, int(round(self.total_seconds / mean_crop / batch_size)))

    def sample(self, batch_size: int, rng: np.random.Generator) -> tuple[Tensor, Tensor]:
        """A batch of crops: float32 waveforms ``(B, N)`` in [-1, 1] and int64 speaker ids ``(B,)``."""
        n = int(round(float(rng.choice(self.crop_lengths)) * FS))
        spk_idx = rng.integers(0, len(self.speakers), size=batch_size)
        out = np.empty((batch_size, n), dtype=np.float32)
        labels = np.empty(batch_size, dtype=np.int64)
        for b, i in enumerate(spk_idx):
            spk = self.speakers[i]
            audio = self.audio[spk]
            off = int(rng.integers(0, len(audio) - n + 1))
            x = audio[off : off + n].astype(np.float32)
            x *= 10.0 ** (rng.uniform(-self.gain_db, self.gain_db) / 20.0)
            x += rng.normal(0.0, rng.uniform(*self.noise_std), size=n).astype(np.float32)
            out[b] = np.clip(x, -32768.0, 32767.0) / 32768.0
            labels[b] = self.spk2id[spk]
        return torch.from_numpy(out), torch.from_numpy(labels)
