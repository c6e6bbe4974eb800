"""Generate speaker-labelled training utterances with espeak-ng (``egs/synth/spk`` stage 0).

    python ../local/synth_spk_data.py --out_dir data/spk_train --audio_dir data/spk_train/audio \\
        --num_variants 84 --pitches 30,45,60,75 --utts_per_spk 20 --seed 777 --nj 2

Speakers are (voice variant, pitch, base speed) of ``espeak_speakers.TRAIN_VARIANTS``
(the meeting voices are never used). Writes ``<out_dir>/{wav.scp,utt2spk,spk2utt,text,utt2dur}``
(sorted), ``<out_dir>/speakers.json`` and 16 kHz 16-bit FLAC (or wav) files, silence-trimmed.
``wav.scp`` paths are written as given by ``--audio_dir`` (relative paths stay relative, so the
folder can be copied to another machine and used from the same working directory).
Reruns skip audio files already written.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
from multiprocessing import Pool
from pathlib import Path

import soundfile as sf
from espeak_corpus import Utterance, jieba_words, make_sentences
from espeak_speakers import TRAIN_PITCHES, TRAIN_VARIANTS, speaker_utterance, synth_int16, train_speakers, write_audio
from synth_corpus import exit_status, write_data_dir
from tqdm import tqdm

from funasr_lite.data.kaldi_lists import write_scp
from funasr_lite.errors import InputError
from funasr_lite.fileio import write_text_atomic

log = logging.getLogger("synth_spk_data")


def _job(args: tuple[Utterance, str]) -> tuple[str, float | None, str | None]:
    utt, path = args
    out = Path(path)
    try:
        if out.is_file():
            return utt.utt_id, sf.info(str(out)).duration, None
        wave = synth_int16(utt)
        write_audio(out, wave)
        return utt.utt_id, len(wave) / 16000.0, None
    except (InputError, OSError, RuntimeError) as e:
        return utt.utt_id, None, str(e)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="synth_spk_data", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out_dir", required=True, help="Kaldi data dir to write")
    p.add_argument("--audio_dir", required=True, help="where the audio files go (path as written to wav.scp)")
    p.add_argument(
        "--num_variants",
        type=int,
        default=len(TRAIN_VARIANTS),
        help=f"use the first N training variants (max {len(TRAIN_VARIANTS)})",
    )
    p.add_argument("--pitches", default=",".join(map(str, TRAIN_PITCHES)), help="comma list of espeak pitches")
    p.add_argument("--utts_per_spk", type=int, default=20)
    p.add_argument("--min_chars", type=int, default=8)
    p.add_argument("--max_chars", type=int, default=20)
    p.add_argument("--format", choices=("flac", "wav"), default="flac")
    p.add_argument("--seed", type=int, default=777)
    p.add_argument("--nj", type=int, default=2, help="parallel espeak-ng processes")
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not 1 <= args.num_variants <= len(TRAIN_VARIANTS) or args.utts_per_spk < 1:
        print(
            f"synth_spk_data: need 1 <= --num_variants <= {len(TRAIN_VARIANTS)} and --utts_per_spk >= 1",
            file=sys.stderr,
        )
        return 2
    pitches = tuple(int(x) for x in args.pitches.split(",") if x.strip())
    speakers = train_speakers(args.num_variants, pitches, args.seed)
    rng = random.Random(args.seed)
    words, weights = jieba_words()
    sentences = make_sentences(
        len(speakers) * args.utts_per_spk, rng, words, weights, min_chars=args.min_chars, max_chars=args.max_chars
    )
    utts: list[Utterance] = []
    for i, spk in enumerate(speakers):
        for j in range(args.utts_per_spk):
            utts.append(speaker_utterance(spk, f"{spk.spk_id}-{j:04d}", sentences[i * args.utts_per_spk + j], rng))
    log.info("%d speakers x %d utterances = %d", len(speakers), args.utts_per_spk, len(utts))

    audio_dir = Path(args.audio_dir)
    paths = {u.utt_id: audio_dir / u.spk_id / f"{u.utt_id}.{args.format}" for u in utts}
    durs: dict[str, float] = {}
    failed: list[str] = []
    with Pool(max(1, args.nj)) as pool:
        jobs = [(u, str(paths[u.utt_id])) for u in utts]
        for utt_id, dur, err in tqdm(pool.imap_unordered(_job, jobs, chunksize=8), total=len(jobs), desc="synth"):
            if err:
                log.error("skipping %s: %s", utt_id, err)
                failed.append(utt_id)
            else:
                durs[utt_id] = dur
    good = sorted((u for u in utts if u.utt_id in durs), key=lambda u: u.utt_id.encode())
    out = Path(args.out_dir)
    write_data_dir(out, good, paths)
    write_scp(out / "utt2dur", [(u.utt_id, f"{durs[u.utt_id]:.3f}") for u in good])
    num_speakers = len({u.spk_id for u in good})
    meta = {
        "seed": args.seed,
        "num_speakers": num_speakers,
        "num_utts": len(good),
        "failed": failed,
        "hours": round(sum(durs.values()) / 3600.0, 3),
        "format": args.format,
        "speakers": [vars(s) for s in speakers],
        "generator": "espeak-ng -v cmn+<variant> -p <pitch> -s <speed>; text: jieba dict.txt; silence-trimmed",
    }
    write_text_atomic(out / "speakers.json", json.dumps(meta, ensure_ascii=False, indent=1) + "\n")
    log.info("wrote %s: %d speakers, %d utterances, %.2f h", out, num_speakers, len(good), meta["hours"])
    return exit_status(failed, log)


if __name__ == "__main__":
    sys.exit(main())
