"""A synthetic Mandarin corpus: jieba-dictionary sentences spoken by espeak-ng voice variants.

Used by ``egs/synth`` as a built-in data set that works anywhere (no download). Speakers are
(voice variant, pitch) pairs; dev and test use voice variants and sentences that train never
sees, so their CER measures generalisation, not memorisation. Recipe code, shared by
``egs/synth/asr`` and ``egs/synth/spk``; the modules of ``egs/synth/local`` import each other by
plain name (a script run from here has this folder on ``sys.path``).
"""

from __future__ import annotations

import math
import os
import random
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from funasr_lite.errors import InputError

# espeak-ng voice variants ("cmn+<variant>"), split so that dev/test voices are held out.
TRAIN_VARIANTS = tuple(
    "m1 m2 m3 m4 m5 m6 f1 f2 f3 f4 klatt klatt2 klatt3 Andy Annie Denis Gene Lee Mario Michael Mike linda max paul steph adam david edward john robert".split()
)
DEV_VARIANTS = ("m7", "f5", "klatt4", "Alicia")
TEST_VARIANTS = ("m8", "klatt5", "belinda", "benjamin")
TRAIN_PITCHES = (35, 50, 65)
HELD_OUT_PITCHES = (42, 58)
# New voices for finetuning demos (egs/synth/asr/local/finetune_new_voices.sh): espeak-ng variants
# in none of the lists above (klatt, whispered, creaky, robotic and named voices), at pitches no
# other list uses, so that every (variant, pitch) speaker is new to a model trained on the corpus.
FINETUNE_VARIANTS = tuple("klatt6 croak grandma whisperf Storm robosoft3 iven3 shelby".split())
FINETUNE_PITCHES = (45, 55)
# --train_voices wide (the --size gpu corpus) adds these to TRAIN_VARIANTS: every other espeak-ng
# variant with a human-like voice (robotic, whispered, "Demonic", "Tweaky" and "fast" left out),
# none of them a dev, test or finetuning voice, so held-out scoring stays held out.
WIDE_EXTRA_VARIANTS = tuple(
    "Alex Andrea AnxiousAndy Diogo Gene2 Henrique Hugo Jacky Marco Nguyen RicishayMax RicishayMax2 RicishayMax3 anika announcer antonio aunty boris caleb ed edward2 grandpa gustave iven iven2 iven4 kaukovalta marcelo michel miguel norbert pablo pedro quincy rob sandro steph2 steph3 travis victor zac".split()
)
TRAIN_VOICE_SETS = {"base": TRAIN_VARIANTS, "wide": TRAIN_VARIANTS + WIDE_EXTRA_VARIANTS}
SPEEDS = (130, 190)  # espeak-ng words per minute, drawn uniformly per utterance
_CJK_WORD = re.compile(r"^[\u4e00-\u9fff]{1,4}$")


@dataclass(frozen=True)
class Utterance:
    """One utterance to synthesise."""

    utt_id: str
    spk_id: str
    variant: str
    pitch: int
    speed: int
    text: str


def jieba_words(top_n: int = 30000, top_chars: int = 3500) -> tuple[list[str], list[float]]:
    """Frequent all-CJK words of jieba's dictionary, with sampling weights sqrt(count).

    Only words made of the ``top_chars`` most frequent characters are kept, so sentences use
    common characters, as real Mandarin text does.
    """
    try:
        import jieba  # noqa: PLC0415  (optional dependency, used only here)
    except ImportError:
        raise RuntimeError("the synthetic corpus needs jieba's dictionary: pip install jieba") from None
    entries: list[tuple[int, str]] = []
    char_count: dict[str, int] = {}
    with open(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"), encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and _CJK_WORD.match(parts[0]):
                count = int(parts[1])
                entries.append((count, parts[0]))
                for ch in parts[0]:
                    char_count[ch] = char_count.get(ch, 0) + count
    common = {c for c, _ in sorted(char_count.items(), key=lambda kv: (-kv[1], kv[0]))[:top_chars]}
    entries = [e for e in entries if all(ch in common for ch in e[1])]
    entries.sort(key=lambda e: (-e[0], e[1]))
    entries = entries[:top_n]
    return [w for _, w in entries], [math.sqrt(c) for c, _ in entries]


def make_sentences(
    n: int,
    rng: random.Random,
    words: list[str],
    weights: list[float],
    min_chars: int = 4,
    max_chars: int = 14,
    exclude: set[str] | None = None,
) -> list[str]:
    """``n`` distinct sentences of ``min_chars``..``max_chars`` characters, none in ``exclude``.

    ``ValueError`` if ``n`` distinct sentences are not found in ``100 * n + 1000`` draws (too few
    words or too short sentences for the size asked).
    """
    if not 1 <= min_chars <= max_chars:
        raise ValueError(f"need 1 <= min_chars <= max_chars, got {min_chars}, {max_chars}")
    exclude = exclude or set()
    out: list[str] = []
    seen: set[str] = set()
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 100 * n + 1000:
            raise ValueError(
                f"only {len(out)} of {n} distinct sentences of {min_chars}-{max_chars} characters "
                f"from {len(words)} words; allow longer sentences or more characters"
            )
        target = rng.randint(min_chars, max_chars)
        s = ""
        while len(s) < target:
            s += rng.choices(words, weights)[0]
        s = s[:max_chars]
        if len(s) >= min_chars and s not in seen and s not in exclude:
            seen.add(s)
            out.append(s)
    return out


def plan_set(
    name: str, n: int, rng: random.Random, sentences: list[str], train_voices: str = "base"
) -> list[Utterance]:
    """Assign speakers (variant, pitch) and speeds to ``n`` sentences of one data set.

    ``train_voices`` picks the training variants (:data:`TRAIN_VOICE_SETS`); dev and test always
    use :data:`DEV_VARIANTS` and :data:`TEST_VARIANTS`.
    """
    variants = {"train": TRAIN_VOICE_SETS[train_voices], "dev": DEV_VARIANTS, "test": TEST_VARIANTS}[name]
    pitches = TRAIN_PITCHES if name == "train" else HELD_OUT_PITCHES
    speakers = [(v, p) for v in variants for p in pitches]
    utts = []
    for i, text in enumerate(sentences[:n]):
        variant, pitch = speakers[i % len(speakers)]
        spk = f"{name}_{variant}_p{pitch}"
        utts.append(Utterance(f"{spk}-{i:05d}", spk, variant, pitch, rng.randint(130, 190), text))
    return sorted(utts, key=lambda u: u.utt_id)


def synthesise(utt: Utterance, out_wav: Path, fs: int = 16000) -> float:
    """Speak ``utt`` with espeak-ng and write 16-bit mono ``fs`` Hz wav; return its duration (s)."""
    from funasr_lite.frontend.audio import load_audio  # noqa: PLC0415  (one loader for all audio)

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        cmd = [exe, "-v", f"cmn+{utt.variant}", "-p", str(utt.pitch), "-s", str(utt.speed), "-w", str(raw), utt.text]
        proc = subprocess.run(cmd, capture_output=True, timeout=60)
        if proc.returncode != 0 or not raw.is_file():
            raise InputError(utt.utt_id, f"espeak-ng failed: {proc.stderr.decode(errors='replace').strip()}")
        audio = load_audio(str(raw))
    wave = np.clip(np.round(audio.waveform * 32768.0), -32768, 32767).astype(np.int16)
    out_wav.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out_wav.with_suffix(".tmp.wav")
    sf.write(tmp_out, wave, fs, subtype="PCM_16")
    os.replace(tmp_out, out_wav)
    return len(wave) / fs


def espeak_variants() -> set[str]:
    """Names of the voice variants the installed espeak-ng has (``-v cmn+<name>``): the file
    names after ``!v/`` in ``espeak-ng --voices=variant``."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    proc = subprocess.run([exe, "--voices=variant"], capture_output=True, text=True, timeout=60, check=False)
    names = set()
    for line in proc.stdout.splitlines()[1:]:
        for field in line.split():
            if field.startswith("!v/"):
                names.add(field[len("!v/") :])
    return names


def check_new_variants(variants: list[str] | tuple[str, ...], available: set[str] | None = None) -> list[str]:
    """Refuse (``ValueError``) variants of ``TRAIN_VARIANTS`` (not new voices) and variants
    espeak-ng does not have (it would silently use its default voice); return notes for variants
    that are dev/test voices of the corpus (allowed, but then not new to dev/test scoring)."""
    if not variants:
        raise ValueError("no voice variants given")
    if len(set(variants)) != len(variants):
        raise ValueError(f"repeated voice variants in {','.join(variants)}")
    seen = [v for v in variants if v in TRAIN_VOICE_SETS["wide"]]
    if seen:
        raise ValueError(
            f"variant(s) {','.join(seen)} are training voices of the corpus "
            "(TRAIN_VARIANTS or, with --train_voices wide, WIDE_EXTRA_VARIANTS), not new voices"
        )
    bad = [v for v in variants if not re.fullmatch(r"[A-Za-z0-9]+", v)]
    if bad:
        raise ValueError(f"variant name(s) {','.join(bad)}: letters and digits only")
    if available is not None:
        missing = [v for v in variants if v not in available]
        if missing:
            raise ValueError(f"espeak-ng has no variant(s) {','.join(missing)} (see: espeak-ng --voices=variant)")
    return [
        f"variant {v} is also a {'dev' if v in DEV_VARIANTS else 'test'} voice of the corpus"
        for v in variants
        if v in DEV_VARIANTS or v in TEST_VARIANTS
    ]


def restrict_words(words: list[str], weights: list[float], allowed: set[str]) -> tuple[list[str], list[float]]:
    """The words (and their weights) made only of characters in ``allowed`` (e.g. a model's tokens)."""
    kept = [(w, x) for w, x in zip(words, weights) if all(ch in allowed for ch in w)]
    return [w for w, _ in kept], [x for _, x in kept]


def plan_voice_set(
    name: str,
    sentences: list[str],
    rng: random.Random,
    variants: list[str] | tuple[str, ...],
    pitches: list[int] | tuple[int, ...],
    spk_prefix: str = "ft",
    speeds: tuple[int, int] = SPEEDS,
) -> list[Utterance]:
    """Speakers (variant, pitch) round-robin over ``sentences`` of one set of a voice set.

    Speaker ids are ``<spk_prefix>_<variant>_p<pitch>``, the same in every set of the voice set
    (its train and test sets share voices), utterance ids ``<spk>-<name>-<index>``.
    """
    speakers = [(v, p) for v in variants for p in pitches]
    if not speakers:
        raise ValueError("need at least one variant and one pitch")
    utts = []
    for i, text in enumerate(sentences):
        variant, pitch = speakers[i % len(speakers)]
        spk = f"{spk_prefix}_{variant}_p{pitch}"
        utts.append(Utterance(f"{spk}-{name}-{i:05d}", spk, variant, pitch, rng.randint(*speeds), text))
    return sorted(utts, key=lambda u: u.utt_id)
