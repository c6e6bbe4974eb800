"""Synthetic meetings for diarization scoring: held-out espeak-ng speakers taking turns.

A meeting has 2-4 speakers with distinct :data:`~funasr_lite.data.spk_synth.MEETING_VARIANTS`
voices (never used in speaker training). Speakers alternate (never the same speaker twice in a
row; the first turns introduce every speaker); a turn is 1-3 sentences, each synthesised on its
own, silence-trimmed and joined by a short pause (``intra_pause``); turns are separated by a
0.3-1.5 s pause. There is no overlap. A low noise floor (``noise_std`` in int16 units, default
~ -70 dBFS) is added everywhere so that pauses are not digital zeros.

The reference is one RTTM turn per speaker turn, from its first to its last trimmed sample.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from funasr_lite.data.spk_synth import (
    FS,
    Speaker,
    meeting_speakers,
    speaker_utterance,
    synth_int16,
)

PAUSE_RANGE = (0.3, 1.5)
INTRA_PAUSE_RANGE = (0.1, 0.25)
SENTENCES_PER_TURN = (1, 3)


@dataclass
class Meeting:
    """One generated meeting: int16 audio, reference turns ``(start_s, end_s, spk_id)``."""

    rec_id: str
    speakers: list[Speaker]
    audio: np.ndarray
    turns: list[tuple[float, float, str]] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return len(self.audio) / FS


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(round(seconds * FS)), dtype=np.int16)


def make_meeting(rec_id: str, seed: int, sentences: list[str], num_speakers: int,
                 target_dur: float, noise_std: float = 10.0,
                 pause_range: tuple[float, float] = PAUSE_RANGE,
                 intra_pause_range: tuple[float, float] = INTRA_PAUSE_RANGE) -> Meeting:
    """Synthesise one meeting of about ``target_dur`` seconds (turns are added until the audio is
    at least that long) from ``sentences`` (consumed in order, recycled if too few)."""
    if not 2 <= num_speakers or not sentences:
        raise ValueError("a meeting needs >= 2 speakers and some sentences")
    rng = random.Random(seed)
    speakers = meeting_speakers(num_speakers, rng)
    pieces: list[np.ndarray] = [_silence(rng.uniform(*pause_range))]
    pos = len(pieces[0])
    turns: list[tuple[float, float, str]] = []
    order = list(range(num_speakers))
    rng.shuffle(order)
    cur = -1
    k = 0  # sentence counter
    n_turn = 0
    while pos / FS < target_dur or n_turn < num_speakers:
        if n_turn < num_speakers:
            cur = order[n_turn]
        else:
            cur = rng.choice([i for i in range(num_speakers) if i != cur])
        spk = speakers[cur]
        start = pos
        for j in range(rng.randint(*SENTENCES_PER_TURN)):
            if j:
                gap = _silence(rng.uniform(*intra_pause_range))
                pieces.append(gap)
                pos += len(gap)
            text = sentences[k % len(sentences)]
            k += 1
            wave = synth_int16(speaker_utterance(spk, f"{rec_id}-{k:04d}", text, rng))
            pieces.append(wave)
            pos += len(wave)
        turns.append((start / FS, pos / FS, spk.spk_id))
        gap = _silence(rng.uniform(*pause_range))
        pieces.append(gap)
        pos += len(gap)
        n_turn += 1
    audio = np.concatenate(pieces).astype(np.float64)
    if noise_std > 0:
        audio += np.random.default_rng(seed).normal(0.0, noise_std, size=audio.shape)
    audio = np.clip(np.round(audio), -32768, 32767).astype(np.int16)
    return Meeting(rec_id, speakers, audio, turns)
