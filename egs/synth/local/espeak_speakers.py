"""Synthetic speakers for speaker-embedding training and diarization tests (espeak-ng).

A speaker is an espeak-ng voice variant (``cmn+<variant>``), a pitch and a base speed. Training
speakers use :data:`TRAIN_VARIANTS` x :data:`TRAIN_PITCHES`; the meetings of ``make_meetings`` use
only :data:`MEETING_VARIANTS`, which training never sees, so a measured DER is on held-out voices.

Text and synthesis reuse :mod:`espeak_corpus` (``jieba_words``, ``make_sentences``,
``Utterance``, ``synthesise``); this module adds the speaker plans, silence trimming and FLAC
output (about half the size of 16-bit wav, which matters when data is copied to a GPU machine).
"""

from __future__ import annotations

import os
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from espeak_corpus import Utterance, synthesise

# Every espeak-ng variant of /usr/lib/x86_64-linux-gnu/espeak-ng-data/voices/!v (espeak-ng 1.51)
# except "Mr serious" (a space in the name). Fixed here so plans do not depend on the install.
ALL_VARIANTS = tuple(
    "Alex Alicia Andrea Andy Annie AnxiousAndy Demonic Denis Diogo Gene Gene2 Henrique Hugo Jacky Lee Marco Mario Michael Mike Nguyen RicishayMax RicishayMax2 RicishayMax3 Storm Tweaky UniRobot adam anika anikaRobot announcer antonio aunty belinda benjamin boris caleb croak david ed edward edward2 f1 f2 f3 f4 f5 fast grandma grandpa gustave iven iven2 iven3 iven4 john kaukovalta klatt klatt2 klatt3 klatt4 klatt5 klatt6 linda m1 m2 m3 m4 m5 m6 m7 m8 marcelo max michel miguel norbert pablo paul pedro quincy rob robert robosoft robosoft2 robosoft3 robosoft4 robosoft5 robosoft6 robosoft7 robosoft8 sandro shelby steph steph2 steph3 travis victor whisper whisperf zac".split()
)
# Held out for the meetings (includes the ASR recipe's dev/test voices).
MEETING_VARIANTS = tuple(
    "m7 m8 f5 klatt4 klatt5 Alicia belinda benjamin Andrea Hugo anika iven2 steph2 norbert zac Jacky".split()
)
TRAIN_VARIANTS = tuple(v for v in ALL_VARIANTS if v not in MEETING_VARIANTS)
TRAIN_PITCHES = (30, 45, 60, 75)
MEETING_PITCH_RANGE = (35, 70)
SPEED_RANGE = (125, 195)  # espeak-ng words per minute, per-speaker base speed
SPEED_JITTER = 10  # per-utterance +- around the speaker's base speed
FS = 16000


@dataclass(frozen=True)
class Speaker:
    """One synthetic speaker."""

    spk_id: str
    variant: str
    pitch: int
    speed: int


def train_speakers(
    num_variants: int | None = None, pitches: tuple[int, ...] = TRAIN_PITCHES, seed: int = 777
) -> list[Speaker]:
    """Training speakers: the first ``num_variants`` of :data:`TRAIN_VARIANTS` x ``pitches``, each
    with a seeded base speed. ``spk_id`` = ``<variant>_p<pitch>`` (sorts like Kaldi wants)."""
    variants = TRAIN_VARIANTS if num_variants is None else TRAIN_VARIANTS[:num_variants]
    if not variants or not pitches:
        raise ValueError("need at least one variant and one pitch")
    rng = random.Random(seed)
    return [Speaker(f"{v}_p{p}", v, p, rng.randint(*SPEED_RANGE)) for v in variants for p in pitches]


def meeting_speakers(n: int, rng: random.Random, variants: tuple[str, ...] = MEETING_VARIANTS) -> list[Speaker]:
    """``n`` speakers with distinct held-out variants, random pitch and speed."""
    if n > len(variants):
        raise ValueError(f"{n} speakers need {n} distinct variants, only {len(variants)} given")
    out = []
    for v in rng.sample(list(variants), n):
        p = rng.randint(*MEETING_PITCH_RANGE)
        out.append(Speaker(f"{v}_p{p}", v, p, rng.randint(*SPEED_RANGE)))
    return out


def speaker_utterance(spk: Speaker, utt_id: str, text: str, rng: random.Random) -> Utterance:
    """An :class:`Utterance` of ``spk`` with the speed jittered around its base."""
    speed = spk.speed + rng.randint(-SPEED_JITTER, SPEED_JITTER)
    return Utterance(utt_id, spk.spk_id, spk.variant, spk.pitch, speed, text)


def trim_silence(wave: np.ndarray, threshold: float = 1e-3, margin_s: float = 0.03, fs: int = FS) -> np.ndarray:
    """Cut leading/trailing samples whose magnitude is below ``threshold`` (full scale 1.0 for
    float input, 32768 for int16), keeping ``margin_s`` of context. All-silent input is kept."""
    scale = 32768.0 if wave.dtype == np.int16 else 1.0
    loud = np.flatnonzero(np.abs(wave.astype(np.float32)) > threshold * scale)
    if loud.size == 0:
        return wave
    m = int(margin_s * fs)
    return wave[max(0, loud[0] - m) : min(len(wave), loud[-1] + 1 + m)]


def synth_int16(utt: Utterance, trim: bool = True) -> np.ndarray:
    """Speak ``utt`` (espeak-ng via :func:`synthesise`), return 16 kHz int16 samples, trimmed."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "utt.wav"
        synthesise(utt, path, FS)
        wave, fs = sf.read(path, dtype="int16")
    if fs != FS:
        raise RuntimeError(f"expected {FS} Hz from synthesise, got {fs}")
    return trim_silence(wave) if trim else wave


def write_audio(path: Path, wave: np.ndarray, fs: int = FS) -> None:
    """Write int16 ``wave`` as 16-bit PCM (format from the suffix: .flac or .wav), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".flac": "FLAC", ".wav": "WAV"}.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"audio suffix must be .flac or .wav: {path}")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        sf.write(tmp, wave, fs, subtype="PCM_16", format=fmt)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
