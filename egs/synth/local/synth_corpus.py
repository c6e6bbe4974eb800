"""Generate the synthetic Mandarin corpus (``egs/synth/asr`` stage 0).

    python ../local/synth_corpus.py --out_dir data --wav_dir wavs \\
        --num_train 400 --num_dev 40 --num_test 40 --seed 777 --nj 2 \\
        [--top_chars 3500 --min_chars 4 --max_chars 14] [--train_voices base|wide]

Sentences are jieba dictionary words made only of the ``--top_chars`` most frequent characters,
``--min_chars``..``--max_chars`` characters long (a small character set and short sentences give
a corpus that a small model learns in minutes on a CPU). ``--train_voices wide`` trains on 71
espeak-ng variants instead of 30 (``WIDE_EXTRA_VARIANTS``); dev and test voices are the same. Writes ``<out_dir>/{train,dev,test}/{wav.scp,text,utt2spk,spk2utt}`` (sorted, Kaldi style)
and ``<out_dir>/synth_meta.json`` with the seed, sizes and text options. Reruns skip wavs already written.
Also the owner of what the other generators here share: :func:`synth_wavs`, :func:`write_data_dir`
and :func:`exit_status`.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
from multiprocessing import Pool
from pathlib import Path

from espeak_corpus import TRAIN_VOICE_SETS, Utterance, jieba_words, make_sentences, plan_set, synthesise
from tqdm import tqdm

from funasr_lite.data.kaldi_lists import write_scp
from funasr_lite.errors import InputError
from funasr_lite.fileio import write_text_atomic

log = logging.getLogger("synth_corpus")


def _job(args: tuple[Utterance, str]) -> tuple[str, str | None]:
    utt, path = args
    out = Path(path)
    if out.is_file():
        return utt.utt_id, None
    try:
        synthesise(utt, out)
    except (InputError, OSError) as e:
        return utt.utt_id, str(e)
    return utt.utt_id, None


def synth_wavs(utts: list[Utterance], paths: dict[str, Path], nj: int, desc: str, logger: logging.Logger) -> list[str]:
    """Speak ``utts`` into ``paths`` (wavs already there are kept) with ``nj`` processes; return
    the ids that failed (each logged)."""
    failed: list[str] = []
    jobs = [(u, str(paths[u.utt_id])) for u in utts]
    with Pool(max(1, nj)) as pool:
        for utt_id, err in tqdm(pool.imap_unordered(_job, jobs), total=len(jobs), desc=desc):
            if err:
                logger.error("skipping %s: %s", utt_id, err)
                failed.append(utt_id)
    return failed


def exit_status(failed: list[str], logger: logging.Logger) -> int:
    """The exit status of a generator: 1 (with one error line) if any utterance failed, else 0."""
    if failed:
        logger.error("%d utterances failed; see messages above", len(failed))
        return 1
    return 0


def write_data_dir(data_dir: Path, utts: list[Utterance], wav_paths: dict[str, Path]) -> None:
    """Write wav.scp, text, utt2spk and spk2utt for ``utts`` (sorted by key, C locale order)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    utts = sorted(utts, key=lambda u: u.utt_id.encode())
    write_scp(data_dir / "wav.scp", [(u.utt_id, str(wav_paths[u.utt_id])) for u in utts])
    write_scp(data_dir / "text", [(u.utt_id, u.text) for u in utts])
    write_scp(data_dir / "utt2spk", [(u.utt_id, u.spk_id) for u in utts])
    spk2utt: dict[str, list[str]] = {}
    for u in utts:
        spk2utt.setdefault(u.spk_id, []).append(u.utt_id)
    write_scp(
        data_dir / "spk2utt", [(s, " ".join(us)) for s, us in sorted(spk2utt.items(), key=lambda x: x[0].encode())]
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out_dir", required=True, help="where data/<set>/ lists go")
    p.add_argument("--wav_dir", required=True, help="where the 16 kHz wavs go")
    p.add_argument("--num_train", type=int, default=400)
    p.add_argument("--num_dev", type=int, default=40)
    p.add_argument("--num_test", type=int, default=40)
    p.add_argument("--seed", type=int, default=777)
    p.add_argument(
        "--top_chars",
        type=int,
        default=3500,
        help="use only words made of the N most frequent characters of jieba's dictionary (default: %(default)s)",
    )
    p.add_argument("--min_chars", type=int, default=4, help="shortest sentence in characters (default: %(default)s)")
    p.add_argument("--max_chars", type=int, default=14, help="longest sentence in characters (default: %(default)s)")
    p.add_argument(
        "--train_voices",
        choices=sorted(TRAIN_VOICE_SETS),
        default="base",
        help="training voice variants: base (30) or wide (71); dev/test voices do not change (default: %(default)s)",
    )
    p.add_argument("--nj", type=int, default=2, help="parallel espeak-ng processes")
    args = p.parse_args(argv)
    if args.top_chars < 1 or args.min_chars < 1 or args.max_chars < args.min_chars:
        p.error("need --top_chars >= 1 and 1 <= --min_chars <= --max_chars")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    log.info(
        "seed=%d train=%d dev=%d test=%d top_chars=%d chars=%d-%d train_voices=%s",
        args.seed,
        args.num_train,
        args.num_dev,
        args.num_test,
        args.top_chars,
        args.min_chars,
        args.max_chars,
        args.train_voices,
    )

    rng = random.Random(args.seed)
    words, weights = jieba_words(top_chars=args.top_chars)
    lengths = {"min_chars": args.min_chars, "max_chars": args.max_chars}
    try:
        held_out = make_sentences(args.num_dev + args.num_test, rng, words, weights, **lengths)
        train_text = make_sentences(args.num_train, rng, words, weights, exclude=set(held_out), **lengths)
    except ValueError as e:
        print(f"synth_corpus: error: {e}", file=sys.stderr)
        return 1
    sets = {
        "train": plan_set("train", args.num_train, rng, train_text, train_voices=args.train_voices),
        "dev": plan_set("dev", args.num_dev, rng, held_out[: args.num_dev]),
        "test": plan_set("test", args.num_test, rng, held_out[args.num_dev :]),
    }
    wav_dir = Path(args.wav_dir).resolve()
    failed: list[str] = []
    for name, utts in sets.items():
        paths = {u.utt_id: wav_dir / name / u.spk_id / f"{u.utt_id}.wav" for u in utts}
        failed += synth_wavs(utts, paths, args.nj, f"synth {name}", log)
        good = [u for u in utts if u.utt_id not in failed]
        write_data_dir(Path(args.out_dir) / name, good, paths)
        log.info("%s: %d utterances, %d speakers", name, len(good), len({u.spk_id for u in good}))
    meta = {
        "seed": args.seed,
        "sizes": {k: len(v) for k, v in sets.items()},
        "failed": failed,
        "top_chars": args.top_chars,
        "min_chars": args.min_chars,
        "max_chars": args.max_chars,
        "train_voices": args.train_voices,
        "generator": "espeak-ng -v cmn+<variant>; text: jieba dict.txt",
    }
    write_text_atomic(Path(args.out_dir) / "synth_meta.json", json.dumps(meta, ensure_ascii=False, indent=1) + "\n")
    return exit_status(failed, log)


if __name__ == "__main__":
    sys.exit(main())
