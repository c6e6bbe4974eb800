"""Generate a new-voice set of the synthetic corpus (finetuning demos: ``egs/synth/asr/local``).

    python ../local/synth_voice_set.py --out_dir data --wav_dir data/wavs \\
        --sets ft_train:600,ft_dev:40,ft_test:100 [--variants klatt6,croak --pitches 45,55] \\
        [--token_list exp/base/model_dir/tokens.json] [--exclude_text data/train/text ...] \\
        [--top_chars 400 --min_chars 2 --max_chars 6] [--seed 777] [--nj 2] [--spk_prefix ft]

Every set is spoken by the same new voices: espeak-ng variants (default ``FINETUNE_VARIANTS`` of
``espeak_corpus``) at ``--pitches`` (default ``FINETUNE_PITCHES``), speaker ids
``<spk_prefix>_<variant>_p<pitch>``. Training variants (``TRAIN_VARIANTS``, ``WIDE_EXTRA_VARIANTS``) and variants espeak-ng does
not have are refused. The sets have distinct sentences, none of them in an ``--exclude_text``
file (e.g. the corpus the model was trained on). With ``--token_list`` (a model's tokens.json or
tokens.txt) only words made of the model's characters are used, so every transcript is covered.
Writes ``<out_dir>/<set>/{wav.scp,text,utt2spk,spk2utt}`` and ``--meta`` (default
``<out_dir>/<spk_prefix>_synth_meta.json``). Reruns skip wavs already written. Exit 1 with a
one-line error for bad options or too few sentences, and when any utterance failed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
import sys
from pathlib import Path

from espeak_corpus import (
    FINETUNE_PITCHES,
    FINETUNE_VARIANTS,
    SPEEDS,
    check_new_variants,
    espeak_variants,
    jieba_words,
    make_sentences,
    plan_voice_set,
    restrict_words,
)
from synth_corpus import exit_status, synth_wavs, write_data_dir

from funasr_lite.data.kaldi_lists import read_text
from funasr_lite.fileio import write_text_atomic

PROG = "synth_voice_set"
log = logging.getLogger(PROG)
SPECIAL_TOKENS = {"<blank>", "<s>", "</s>", "<unk>"}


def parse_sets(value: str) -> list[tuple[str, int]]:
    """``"ft_train:600,ft_test:100"`` -> ``[("ft_train", 600), ("ft_test", 100)]``."""
    out: list[tuple[str, int]] = []
    for item in value.split(","):
        name, sep, count = item.partition(":")
        if not sep or not name or not count.isdigit() or int(count) < 1 or "/" in name or name.startswith("."):
            raise ValueError(f"--sets: bad item {item!r} (expected NAME:COUNT with COUNT >= 1)")
        if name in {n for n, _ in out}:
            raise ValueError(f"--sets: {name} given twice")
        out.append((name, int(count)))
    return out


def token_chars(path: str) -> set[str]:
    """The single-character tokens of a model's token list (specials left out)."""
    from funasr_lite.modelio.tokens import read_token_list  # noqa: PLC0415

    return {t for t in read_token_list(path) if t not in SPECIAL_TOKENS and len(t) == 1}


def _previous(meta_path: Path) -> dict | None:
    """The planning part of an earlier run's meta file (``None`` if unreadable)."""
    try:
        old = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {k: v for k, v in old.items() if k not in ("sizes", "failed")} if isinstance(old, dict) else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out_dir", required=True, help="where <out_dir>/<set>/ lists go")
    p.add_argument("--wav_dir", required=True, help="where the 16 kHz wavs go (<wav_dir>/<set>/<spk>/)")
    p.add_argument(
        "--sets", default="ft_train:600,ft_dev:40,ft_test:100", help="comma list of NAME:COUNT (default: %(default)s)"
    )
    p.add_argument(
        "--variants",
        default=",".join(FINETUNE_VARIANTS),
        help="comma list of espeak-ng cmn variants, no training variant (default: %(default)s)",
    )
    p.add_argument(
        "--pitches",
        default=",".join(map(str, FINETUNE_PITCHES)),
        help="comma list of espeak-ng pitches 0-99 (default: %(default)s)",
    )
    p.add_argument(
        "--speeds", default=f"{SPEEDS[0]},{SPEEDS[1]}", help="MIN,MAX words per minute (default: %(default)s)"
    )
    p.add_argument("--spk_prefix", default="ft", help="speaker ids <prefix>_<variant>_p<pitch> (default: %(default)s)")
    p.add_argument("--token_list", help="use only words made of this model token list's characters")
    p.add_argument(
        "--exclude_text",
        action="append",
        default=[],
        help="Kaldi text file whose sentences the sets must not use (repeatable; missing files are an error)",
    )
    p.add_argument(
        "--top_chars", type=int, default=3500, help="words of the N most frequent characters (default: %(default)s)"
    )
    p.add_argument("--min_chars", type=int, default=4, help="shortest sentence in characters (default: %(default)s)")
    p.add_argument("--max_chars", type=int, default=14, help="longest sentence in characters (default: %(default)s)")
    p.add_argument("--seed", type=int, default=777)
    p.add_argument("--nj", type=int, default=2, help="parallel espeak-ng processes")
    p.add_argument("--meta", help="JSON record of the options (default: <out_dir>/<spk_prefix>_synth_meta.json)")
    args = p.parse_args(argv)
    try:
        if args.top_chars < 1 or args.min_chars < 1 or args.max_chars < args.min_chars:
            raise ValueError("need --top_chars >= 1 and 1 <= --min_chars <= --max_chars")
        if not args.spk_prefix.isalnum():
            raise ValueError(f"--spk_prefix {args.spk_prefix!r}: letters and digits only")
        sets = parse_sets(args.sets)
        variants = [v for v in args.variants.split(",") if v]
        pitches = [int(x) for x in args.pitches.split(",") if x]
        speeds = tuple(int(x) for x in args.speeds.split(","))
        if not pitches or not all(0 <= x <= 99 for x in pitches) or len(set(pitches)) != len(pitches):
            raise ValueError(f"--pitches {args.pitches!r}: distinct values 0-99")
        if len(speeds) != 2 or not 80 <= speeds[0] <= speeds[1] <= 450:
            raise ValueError(f"--speeds {args.speeds!r}: MIN,MAX with 80 <= MIN <= MAX <= 450")
        notes = check_new_variants(variants, espeak_variants())
        exclude: set[str] = set()
        for path in args.exclude_text:
            exclude |= set(read_text(path).values())
        words, weights = jieba_words(top_chars=args.top_chars)
        n_words = len(words)
        if args.token_list:
            words, weights = restrict_words(words, weights, token_chars(args.token_list))
            if not words:
                raise ValueError(
                    f"{args.token_list}: no word of the {args.top_chars} most frequent characters is covered"
                )
        rng = random.Random(args.seed)
        total = sum(n for _, n in sets)
        sentences = make_sentences(
            total, rng, words, weights, min_chars=args.min_chars, max_chars=args.max_chars, exclude=exclude
        )
    except (ValueError, OSError, RuntimeError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for note in notes:
        log.warning("%s", note)
    log.info(
        "seed=%d sets=%s variants=%s pitches=%s words=%d of %d (token list: %s) excluded sentences=%d",
        args.seed,
        args.sets,
        ",".join(variants),
        ",".join(map(str, pitches)),
        len(words),
        n_words,
        args.token_list or "none",
        len(exclude),
    )
    wav_dir = Path(args.wav_dir).resolve()
    meta = {
        "seed": args.seed,
        "sets": [f"{n}:{c}" for n, c in sets],
        "variants": variants,
        "pitches": pitches,
        "speeds": list(speeds),
        "speakers": [f"{args.spk_prefix}_{v}_p{x}" for v in variants for x in pitches],
        "top_chars": args.top_chars,
        "min_chars": args.min_chars,
        "max_chars": args.max_chars,
        "token_list": str(Path(args.token_list).resolve()) if args.token_list else None,
        "exclude_text": [str(Path(x).resolve()) for x in args.exclude_text],
        "wav_dir": str(wav_dir),
        "sentences_sha256": hashlib.sha256("\n".join(sentences).encode()).hexdigest(),
        "generator": "espeak-ng -v cmn+<variant> -p <pitch> -s <speed>; text: jieba dict.txt",
    }
    meta_path = Path(args.meta) if args.meta else Path(args.out_dir) / f"{args.spk_prefix}_synth_meta.json"
    # wavs of an earlier run are reused only if it planned the same sentences and voices
    reuse = _previous(meta_path) == meta
    if not reuse and meta_path.is_file():
        log.info("%s: options or sentences changed; every wav is synthesised again", meta_path)
    write_text_atomic(meta_path, json.dumps(dict(meta, sizes=None, failed=None), ensure_ascii=False, indent=1) + "\n")
    failed: list[str] = []
    sizes: dict[str, int] = {}
    start = 0
    for name, n in sets:
        utts = plan_voice_set(name, sentences[start : start + n], rng, variants, pitches, args.spk_prefix, speeds)
        start += n
        paths = {u.utt_id: wav_dir / name / u.spk_id / f"{u.utt_id}.wav" for u in utts}
        if not reuse:
            for path in paths.values():
                path.unlink(missing_ok=True)
        bad = synth_wavs(utts, paths, args.nj, f"synth {name}", log)
        good = [u for u in utts if u.utt_id not in bad]
        failed += bad
        write_data_dir(Path(args.out_dir) / name, good, paths)
        sizes[name] = len(good)
        log.info("%s: %d utterances, %d speakers", name, len(good), len({u.spk_id for u in good}))
    meta.update(sizes=sizes, failed=failed)
    write_text_atomic(meta_path, json.dumps(meta, ensure_ascii=False, indent=1) + "\n")
    return exit_status(failed, log)


if __name__ == "__main__":
    sys.exit(main())
