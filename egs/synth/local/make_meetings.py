"""Generate synthetic held-out meetings with a reference RTTM (``egs/synth/spk`` stage 1).

    python ../local/make_meetings.py --out_dir data/meetings --audio_dir data/meetings/audio \\
        --num_meetings 12 --min_speakers 2 --max_speakers 4 --min_dur 60 --max_dur 180 --seed 2024 --nj 2

Writes ``<out_dir>/wav.scp`` (meeting id -> 16 kHz wav), ``ref.rttm`` (one SPEAKER line per turn,
channel 1), ``reco2num_spk``, ``reco2dur`` and ``meetings.json`` (speakers and settings). The
sentences are drawn with their own seed. Meeting ``i`` depends only on ``--seed`` and ``i``.

A meeting has 2-4 speakers with distinct ``espeak_speakers.MEETING_VARIANTS`` voices (never used
in speaker training). Speakers alternate (never the same speaker twice in a row; the first turns
introduce every speaker); a turn is 1-3 sentences, each synthesised on its own, silence-trimmed
and joined by a short pause (``intra_pause``); turns are separated by a 0.3-1.5 s pause. There is
no overlap. A low noise floor (``--noise_std`` in int16 units, default ~ -70 dBFS) is added
everywhere so that pauses are not digital zeros. The reference is one RTTM turn per speaker turn,
from its first to its last trimmed sample.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from espeak_corpus import jieba_words, make_sentences
from espeak_speakers import FS, MEETING_VARIANTS, Speaker, meeting_speakers, speaker_utterance, synth_int16, write_audio
from tqdm import tqdm

from funasr_lite.data.kaldi_lists import write_scp
from funasr_lite.diar.rttm import rttm_lines
from funasr_lite.fileio import write_text_atomic

log = logging.getLogger("make_meetings")
_WORDS: tuple[list[str], list[float]] | None = None  # per worker process

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


def make_meeting(
    rec_id: str,
    seed: int,
    sentences: list[str],
    num_speakers: int,
    target_dur: float,
    noise_std: float = 10.0,
    pause_range: tuple[float, float] = PAUSE_RANGE,
    intra_pause_range: tuple[float, float] = INTRA_PAUSE_RANGE,
) -> Meeting:
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


def _job(args: tuple) -> dict:
    global _WORDS
    rec_id, seed, n_spk, target, audio_path, noise_std = args
    if _WORDS is None:
        _WORDS = jieba_words()
    rng = random.Random(seed + 1)
    sentences = make_sentences(int(target) + 20, rng, *_WORDS, min_chars=6, max_chars=16)
    m = make_meeting(rec_id, seed, sentences, n_spk, target, noise_std=noise_std)
    write_audio(Path(audio_path), m.audio)
    return {
        "rec_id": rec_id,
        "path": audio_path,
        "duration": round(m.duration, 3),
        "turns": m.turns,
        "speakers": [vars(s) for s in m.speakers],
        "seed": seed,
    }


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="make_meetings", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out_dir", required=True)
    p.add_argument("--audio_dir", required=True, help="where the meeting wavs go (path as written to wav.scp)")
    p.add_argument("--num_meetings", type=int, default=12)
    p.add_argument("--min_speakers", type=int, default=2)
    p.add_argument("--max_speakers", type=int, default=4)
    p.add_argument(
        "--min_dur", type=float, default=60.0, help="seconds; each meeting's target is uniform in [min, max]"
    )
    p.add_argument("--max_dur", type=float, default=180.0)
    p.add_argument("--noise_std", type=float, default=10.0, help="noise floor, int16 units (10 ~ -70 dBFS)")
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--nj", type=int, default=2)
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if (
        not (2 <= args.min_speakers <= args.max_speakers <= len(MEETING_VARIANTS))
        or args.num_meetings < 1
        or not 0 < args.min_dur <= args.max_dur
    ):
        print(
            f"make_meetings: need 2 <= min_speakers <= max_speakers <= {len(MEETING_VARIANTS)}, "
            "num_meetings >= 1, 0 < min_dur <= max_dur",
            file=sys.stderr,
        )
        return 2
    rng = random.Random(args.seed)
    jobs = []
    for i in range(args.num_meetings):
        n_spk = args.min_speakers + i % (args.max_speakers - args.min_speakers + 1)  # balanced counts
        target = rng.uniform(args.min_dur, args.max_dur)
        rec_id = f"meeting{i:03d}_{n_spk}spk"
        jobs.append(
            (rec_id, args.seed * 1000 + i, n_spk, target, str(Path(args.audio_dir) / f"{rec_id}.wav"), args.noise_std)
        )
    with Pool(max(1, min(args.nj, len(jobs)))) as pool:
        metas = list(tqdm(pool.imap(_job, jobs), total=len(jobs), desc="meetings"))
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metas.sort(key=lambda m: m["rec_id"].encode())
    write_scp(out / "wav.scp", [(m["rec_id"], m["path"]) for m in metas])
    write_scp(out / "reco2num_spk", [(m["rec_id"], str(len(m["speakers"]))) for m in metas])
    write_scp(out / "reco2dur", [(m["rec_id"], f"{m['duration']:.3f}") for m in metas])
    lines = [line for m in metas for line in rttm_lines(m["rec_id"], m["turns"])]
    write_text_atomic(out / "ref.rttm", "\n".join(lines) + "\n")
    summary = {
        "seed": args.seed,
        "num_meetings": len(metas),
        "noise_std": args.noise_std,
        "total_minutes": round(sum(m["duration"] for m in metas) / 60.0, 2),
        "meetings": metas,
    }
    write_text_atomic(out / "meetings.json", json.dumps(summary, ensure_ascii=False, indent=1) + "\n")
    log.info("wrote %s: %d meetings, %.1f min", out, len(metas), summary["total_minutes"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
