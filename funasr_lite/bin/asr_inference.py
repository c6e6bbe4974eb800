"""Decode a wav.scp with a Paraformer / BiCif-Paraformer folder into ``1best_recog/``.

    python -m funasr_lite.bin.asr_inference --model DIR --wav_scp data/test/wav.scp --output_dir OUT

Writes ``OUT/1best_recog/{text,token,score,rtf,time_stamp}`` (formats: README, or
``funasr_lite/writers/recog_files.py``). Bad audio items are skipped and listed in
``OUT/errors.txt``; the exit code is then 1. A rerun after a crash or a kill resumes: finished
utterances are kept and skipped.

Why this and ``bin/inference``: this decodes utterances, the test-set case. Every ``wav.scp``
entry, or every Kaldi ``--segments`` line, is one ASR input, and utterances are batched
together (longest first, ``--chunk_utts`` at a time) under a token budget (``--batch_size_token``),
with no VAD, punctuation or speaker model. ``bin/inference`` decodes recordings: each goes through the
long-audio pipeline (VAD -> ASR -> punctuation -> speakers), with ``--nj`` jobs and per-format files.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tqdm import tqdm

from funasr_lite.data.kaldi_lists import iter_wav_scp
from funasr_lite.errors import InputError, ModelError
from funasr_lite.fileio import write_text_atomic
from funasr_lite.frontend.audio import DEFAULT_RESAMPLER, RESAMPLERS, load_wav_scp
from funasr_lite.seeding import set_seed
from funasr_lite.writers.recog_files import RecogWriter

log = logging.getLogger("asr_inference")


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="local FunASR model folder (1.x or 0.x)")
    p.add_argument("--wav_scp", required=True, help="Kaldi wav.scp (paths, URLs or `cmd |`)")
    p.add_argument("--segments", default=None, help="optional Kaldi segments file")
    p.add_argument(
        "--output_dir", required=True, help="folder for 1best_recog/ (text, token, score, rtf) and errors.txt"
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: %(default)s)")
    p.add_argument(
        "--batch_size_token",
        type=int,
        default=6000,
        help="max padded LFR frames per batch, count x longest (default: %(default)s)",
    )
    p.add_argument(
        "--chunk_utts",
        type=int,
        default=256,
        help="utterances loaded and decoded together before results are saved (default: %(default)s)",
    )
    p.add_argument(
        "--dither",
        type=float,
        default=0.0,
        help="fbank dither at inference; FunASR uses 1.0 when the config omits it (default: %(default)s)",
    )
    p.add_argument("--seed", type=int, default=0, help="RNG seed, recorded in the log (default: %(default)s)")
    p.add_argument(
        "--resampler",
        default=DEFAULT_RESAMPLER,
        choices=RESAMPLERS,
        help="for audio not at 16 kHz: funasr (torchaudio's sinc resampler, as FunASR) or soxr (default: %(default)s)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from funasr_lite.devices import resolve_device  # noqa: PLC0415

    try:
        args.device = resolve_device(args.device, "--device")
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    set_seed(args.seed)
    log.info(
        "model=%s wav_scp=%s device=%s seed=%d dither=%g", args.model, args.wav_scp, args.device, args.seed, args.dither
    )
    from funasr_lite.asr import SpeechRecognizer  # noqa: PLC0415  (torch models load only when decoding)

    try:
        keys = [k for k, _ in iter_wav_scp(args.wav_scp, args.segments)]  # both lists checked up front
        recognizer = SpeechRecognizer(
            args.model, device=args.device, batch_size_token=args.batch_size_token, dither=args.dither
        )
    except (ModelError, InputError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    out = Path(args.output_dir)
    writer = RecogWriter(out)
    errors: list[str] = []
    pending: list[tuple[str, object]] = []

    def flush() -> None:
        for batch in recognizer.recognize(pending):
            writer.add([_record(r) for r in batch])
        pending.clear()

    todo = [k for k in keys if k not in writer.done]
    with tqdm(total=len(keys), initial=len(keys) - len(todo), desc="decode") as bar:
        for key, res in load_wav_scp(args.wav_scp, segments=args.segments, resampler=args.resampler):
            if key in writer.done:
                continue
            if isinstance(res, InputError):
                log.error("skipping %s", res)
                errors.append(str(res))
            else:
                pending.append((key, res.waveform))
            bar.update(1)
            if len(pending) >= args.chunk_utts:
                flush()
        if pending:
            flush()
    writer.finalize(keys)
    write_text_atomic(out / "errors.txt", "".join(e + "\n" for e in errors))
    n_done = sum(k in writer.done for k in keys)
    log.info("decoded %d of %d utterances -> %s", n_done, len(keys), writer.dir)
    if errors:
        log.error("%d items failed (see %s)", len(errors), out / "errors.txt")
        return 1
    return 0


def _record(r) -> dict:  # noqa: ANN001
    return {
        "key": r.key,
        "text": r.text,
        "tokens": r.tokens,
        "score": r.score,
        "rtf": r.rtf,
        "compute_s": r.compute_s,
        "audio_s": r.audio_s,
        "timestamp": r.timestamp,
    }


if __name__ == "__main__":
    sys.exit(main())
