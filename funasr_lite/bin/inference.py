"""Long-audio batch transcription of a wav.scp: VAD -> ASR -> punctuation -> outputs.

    python -m funasr_lite.bin.inference --model ASR_DIR [--vad_model VAD_DIR] [--punc_model PUNC_DIR] \\
        --wav_scp data/test/wav.scp --output_dir exp/decode [--output_format json,srt,vtt,txt] \\
        [--nj 4 --cmd "utils/run.pl"]

Writes ``<output_dir>/1best_recog/{text,token,score,rtf,time_stamp,text_with_punc}`` plus one file
per recording and format under ``<output_dir>/<format>/``. With ``--nj N`` the list is split as
``utils/split_scp.py`` does and N jobs run through ``--cmd`` (Kaldi's ``JOB=1:N log`` convention;
by default the run.pl that ships in ``funasr_lite/jobs/``, so an installed package needs no
checkout; add ``--gpu 1`` to run.pl's options for one job per GPU), then the 1best_recog files
are merged.
Bad recordings are skipped and listed in ``errors.txt`` (exit code 1); a rerun resumes.
Ctrl-C stops with one line and exit code 130; what was written stays whole (atomic writes), and a
rerun resumes. ``funasr-lite`` (``funasr_lite/bin/cli.py``) runs this on audio files and folders.
``cmd |`` entries (Kaldi pipes) run only with ``--allow_pipes``; keys that cannot be file names
(``..``, ``a/b``: the per-recording files are named by key) are refused before anything runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from funasr_lite.bin.cli_inputs import is_audio_file
from funasr_lite.data.kaldi_lists import read_scp
from funasr_lite.errors import InputError, ModelError
from funasr_lite.fileio import write_text_atomic
from funasr_lite.frontend.audio import DEFAULT_RESAMPLER, RESAMPLERS, load_wav_scp
from funasr_lite.jobs import RUN_PL, RunnerError, SplitError, resolve_runner, run_jobs, runpl_quote, write_split  # noqa: F401 (runpl_quote: tests)
from funasr_lite.pipeline import DecodeOptions
from funasr_lite.prefetch import prepared
from funasr_lite.seeding import set_seed
from funasr_lite.writers.formats import check_file_key, parse_formats, write_outputs
from funasr_lite.writers.recog_files import FILES, RecogWriter, recog_record
from funasr_lite.yamlio import read_yaml

log = logging.getLogger("inference")


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--config",
        default=None,
        help="YAML of option defaults (keys = these options' names, e.g. conf/decode.yaml); the command line wins",
    )
    p.add_argument("--model", required=True, help="ASR model folder (Paraformer / BiCif-Paraformer)")
    p.add_argument("--vad_model", default=None, help="FSMN-VAD folder; without it each recording is one segment")
    p.add_argument("--punc_model", default=None, help="CT-Transformer folder; without it no punctuation")
    p.add_argument(
        "--spk_model", default=None, help="CAM++ folder; labels every sentence with a speaker (needs --vad_model)"
    )
    p.add_argument(
        "--spk_mode",
        default="punc_segment",
        choices=("punc_segment", "vad_segment"),
        help="embed speakers per punctuated sentence or per VAD segment (default: %(default)s)",
    )
    p.add_argument(
        "--hotword",
        default=None,
        help="SeACo-Paraformer hotwords (FunASR's hotword): space-separated words, or a local .txt file "
        "with one hotword per line; ignored, with a warning, by other models",
    )
    p.add_argument("--num_speakers", type=int, default=None, help="exact speaker count (default: estimated)")
    p.add_argument("--min_speakers", type=int, default=1, help="fewest speakers to estimate (default: %(default)s)")
    p.add_argument("--max_speakers", type=int, default=15, help="most speakers to estimate (default: %(default)s)")
    p.add_argument(
        "--no_split_at_speaker_change",
        action="store_true",
        help="keep FunASR's one speaker per sentence instead of splitting sentences at speaker changes",
    )
    p.add_argument("--wav_scp", required=True, help="Kaldi wav.scp: '<key> <path | URL | cmd |>' per line")
    p.add_argument(
        "--allow_pipes",
        action="store_true",
        default=None,
        help="run wav.scp entries ending in '|' (Kaldi pipes: shell commands from the list); "
        "refused by default unless FUNASR_LITE_ALLOW_PIPES=1",
    )
    p.add_argument("--output_dir", required=True, help="folder for 1best_recog/, the format folders and errors.txt")
    p.add_argument(
        "--output_format",
        default="json",
        help="comma list of json,srt,vtt,txt,rttm or all, or none (default: %(default)s)",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: %(default)s)")
    p.add_argument(
        "--dtype",
        default="fp32",
        choices=("fp32", "bf16", "fp16"),
        help="ASR encoder/decoder precision (the CIF predictor stays fp32; default: %(default)s)",
    )
    p.add_argument(
        "--quantize",
        default=None,
        choices=("int8",),
        help="int8 dynamic quantisation of the ASR linear layers (CPU); with --backend onnxruntime: model_quant.onnx",
    )
    p.add_argument(
        "--backend",
        default="torch",
        choices=("torch", "onnxruntime"),
        help="run the ASR model on torch or as an ONNX graph on onnxruntime (CPU; exported on the fly, "
        "or --model an export folder; default: %(default)s)",
    )
    p.add_argument(
        "--num_workers",
        type=int,
        default=0,
        help="processes that decode audio and run the VAD ahead of the models (default: %(default)s)",
    )
    p.add_argument(
        "--window_s",
        type=float,
        default=None,
        help="recognise the segments of this many seconds of recordings together (default: 600 on a "
        "GPU; 0 on CPU: one recording at a time, so an interrupted run loses at most one recording)",
    )
    p.add_argument(
        "--batch_size_s", type=float, default=300, help="padded seconds of audio per ASR batch (default: %(default)s)"
    )
    p.add_argument(
        "--batch_size_threshold_s", type=float, default=60, help="segments this long go alone (default: %(default)s)"
    )
    p.add_argument(
        "--max_end_silence_time",
        type=int,
        default=None,
        help="VAD end silence in ms (default: the model's dynamic schedule)",
    )
    p.add_argument("--max_single_segment_time", type=int, default=None, help="VAD max segment length in ms")
    p.add_argument(
        "--dither", type=float, default=0.0, help="fbank dither (0: deterministic features; default: %(default)s)"
    )
    p.add_argument(
        "--resampler",
        default=DEFAULT_RESAMPLER,
        choices=RESAMPLERS,
        help="for audio at other rates than a model's: funasr (torchaudio's sinc resampler, as "
        "FunASR) or soxr (default: %(default)s)",
    )
    p.add_argument(
        "--fs",
        type=int,
        default=None,
        help="sample rate of headerless .pcm input (16-bit little-endian mono), as FunASR's fs "
        "(default: 16000; files with a header use their own)",
    )
    p.add_argument("--seed", type=int, default=0, help="RNG seed, recorded in the log (default: %(default)s)")
    p.add_argument("--nj", type=int, default=1, help="split into N jobs run through --cmd (default: %(default)s)")
    p.add_argument(
        "--cmd",
        default=None,
        help="Kaldi job runner with options, e.g. 'utils/run.pl --gpu 1' or "
        "'utils/slurm.pl' (default: the run.pl shipped in funasr_lite/jobs/)",
    )
    return p


def apply_config_defaults(parser: argparse.ArgumentParser, argv: list[str] | None) -> None:
    """Option defaults from ``--config FILE`` (unknown keys are errors naming the file and key)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    known, _ = pre.parse_known_args(argv)
    if not known.config:
        return
    conf = read_yaml(known.config)
    dests = {a.dest for a in parser._actions}
    unknown = sorted(set(conf) - dests - {"config"})
    if unknown:
        parser.error(f"{known.config}: unknown key(s) {', '.join(unknown)}")
    parser.set_defaults(**conf)


INTERRUPTED = "interrupted (Ctrl-C): the recordings finished so far are written; rerun the same command to resume"


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (130 after Ctrl-C, with one line on stderr)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    parser = get_parser()
    try:
        apply_config_defaults(parser, argv if argv is not None else sys.argv[1:])
    except ModelError as e:
        parser.error(str(e))
    args = parser.parse_args(argv)
    if args.nj < 1:
        parser.error(f"--nj {args.nj}: must be at least 1")
    if args.fs is not None and args.fs <= 0:
        parser.error(f"--fs {args.fs}: must be a positive sample rate")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        formats = output_formats(args.output_format, args.spk_model is not None)
    except ValueError as e:
        print(f"error: --output_format: {e}", file=sys.stderr)
        return 2
    if is_audio_file(args.wav_scp):
        print(
            f"error: {args.wav_scp} is an audio file, not a wav.scp list: pass it as input (funasr-lite {args.wav_scp})",
            file=sys.stderr,
        )
        return 1
    try:
        keys = list(read_scp(args.wav_scp))
        if formats:  # per-recording files are named by key: refuse keys that would escape --output_dir
            check_output_keys(args.wav_scp)
    except (InputError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.nj > max(len(keys), 1):
        log.info(
            "--nj %d is more than the %d recording(s) of %s: running %d", args.nj, len(keys), args.wav_scp, len(keys)
        )
        args.nj = max(len(keys), 1)
    if args.nj > 1:
        return run_split(args, argv if argv is not None else sys.argv[1:])
    return run_one(args, formats)


def output_formats(spec: str, has_speakers: bool) -> list[str]:
    """``--output_format`` -> format names; ``ValueError`` for unknown ones and for ``rttm`` without
    a speaker model (``all`` then leaves rttm out)."""
    if spec == "none":
        return []
    formats = parse_formats(spec)
    if "rttm" in formats and not has_speakers:
        if "all" not in spec.replace(",", " ").split():
            raise ValueError("rttm needs --spk_model (speaker turns come from the speaker model)")
        formats.remove("rttm")
    return formats


def check_output_keys(wav_scp: str) -> None:
    """Raise ``InputError`` naming the first ``wav_scp`` key that cannot be a file name (``..``, ``/``, ...)."""
    for key in read_scp(wav_scp):
        try:
            check_file_key(key)
        except ValueError as e:
            raise InputError(wav_scp, f"{e}; rename the key, or use --output_format none") from None


def run_one(args: argparse.Namespace, formats: list[str]) -> int:
    """Decode one wav.scp in this process."""
    set_seed(args.seed)
    log.info(
        "wav_scp=%s model=%s vad=%s punc=%s device=%s seed=%d",
        args.wav_scp,
        args.model,
        args.vad_model,
        args.punc_model,
        args.device,
        args.seed,
    )
    from funasr_lite.auto_model import build_pipeline  # noqa: PLC0415  (models load only when decoding)

    try:
        keys = list(read_scp(args.wav_scp))
        pipeline = build_pipeline(
            args.model,
            args.vad_model,
            args.punc_model,
            device=args.device,
            batch_size_s=args.batch_size_s,
            batch_size_threshold_s=args.batch_size_threshold_s,
            dither=args.dither,
            spk_model=args.spk_model,
            spk_mode=args.spk_mode,
            split_at_speaker_change=not args.no_split_at_speaker_change,
            dtype=args.dtype,
            quantize=args.quantize,
            backend=args.backend,
            vad_device="cpu" if args.num_workers > 0 else None,
            resampler=args.resampler,
        )
        pipeline.asr.hotword_ids(args.hotword)  # a bad --hotword is one line before anything is decoded
    except (ModelError, InputError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    vad_opts = {
        k: v
        for k, v in (
            ("max_end_silence_time", args.max_end_silence_time),
            ("max_single_segment_time", args.max_single_segment_time),
        )
        if v is not None
    }
    out = Path(args.output_dir)
    writer = RecogWriter(out)
    errors: list[str] = []

    def loader(shard: tuple[int, int] | None) -> Iterator:
        return load_wav_scp(
            args.wav_scp,
            fs=args.fs,
            allow_pipes=args.allow_pipes,
            shard=shard,
            skip=writer.done,
            **pipeline.audio_options(),
        )

    items = prepared(loader, pipeline.vad, vad_opts, args.num_workers)
    window_s = args.window_s if args.window_s is not None else (600.0 if pipeline.asr.device.type == "cuda" else 0.0)
    options = DecodeOptions(
        sentence_timestamp=pipeline.punc is not None,
        return_raw_text=pipeline.punc is not None,  # the JSON's raw_text: the text before punctuation
        num_speakers=args.num_speakers,
        min_speakers=args.min_speakers,
        max_speakers=args.max_speakers,
        vad_options=vad_opts,
        hotword=args.hotword,
    )
    results = pipeline.run_many(items, window_s, options)
    with tqdm(total=len(keys), initial=sum(k in writer.done for k in keys), desc="transcribe") as bar:
        for item, result, seg_results in results:
            bar.update(1)
            if result is None:
                log.error("skipping %s", item.error)
                errors.append(str(item.error))
                continue
            result.setdefault("timestamp", [] if pipeline.asr.has_timestamps else None)
            if formats:
                write_outputs([dict(result, duration_ms=int(item.duration_s * 1000))], out, formats)
            writer.add([recog_record(result, seg_results, item.duration_s, pipeline.punc is not None)])
    writer.finalize(keys)
    write_text_atomic(out / "errors.txt", "".join(e + "\n" for e in errors))
    log.info("transcribed %d of %d recordings -> %s", sum(k in writer.done for k in keys), len(keys), out)
    if pipeline.asr.device.type == "cuda":
        import torch  # noqa: PLC0415  (already loaded by the models)

        log.info("peak GPU memory allocated: %.0f MB", torch.cuda.max_memory_allocated(pipeline.asr.device) / 1e6)
    return 1 if errors else 0


def run_split(args: argparse.Namespace, argv: list[str]) -> int:
    """Split the list, run ``--nj`` jobs through ``--cmd``, merge their 1best_recog files."""
    out = Path(args.output_dir)
    split_dir = out / f"split{args.nj}"
    try:
        resolve_runner(args.cmd)  # a runner that cannot be found fails before anything is written
        split_dir.mkdir(parents=True, exist_ok=True)
        write_split(args.wav_scp, [split_dir / f"wav.{j}.scp" for j in range(1, args.nj + 1)])
    except (RunnerError, SplitError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    job_argv = _without(argv, ("--nj", "--cmd", "--wav_scp", "--output_dir"))
    job_cmd = [
        sys.executable,
        "-m",
        "funasr_lite.bin.inference",
        *job_argv,
        "--wav_scp",
        str(split_dir / "wav.JOB.scp"),
        "--output_dir",
        str(split_dir / "JOB"),
    ]
    log.info("running %d jobs through %s", args.nj, args.cmd or RUN_PL)
    rc = run_jobs(args.cmd, args.nj, out / "log" / "decode.JOB.log", job_cmd)  # file names quoted for bash
    merge_jobs(out, [split_dir / str(j) for j in range(1, args.nj + 1)], list(read_scp(args.wav_scp)))
    return 1 if rc != 0 else 0


def merge_jobs(out: Path, job_dirs: list[Path], keys: list[str]) -> None:
    """Concatenate the jobs' 1best_recog files (in wav.scp order), their errors and format files."""
    (out / "1best_recog").mkdir(parents=True, exist_ok=True)
    for name in FILES + ("text_with_punc",):
        lines: dict[str, str] = {}
        totals: list[str] = []
        for d in job_dirs:
            path = d / "1best_recog" / name
            if path.is_file():
                # "\n" only: splitlines() and read_text()'s universal newlines would also cut at
                # \r, \x85, \u2028 ... inside a key or a text, and lose that utterance
                for line in path.read_bytes().decode("utf-8").split("\n"):
                    if not line:
                        continue
                    if line.startswith("TOTAL "):
                        totals.append(line)
                    else:
                        lines.setdefault(line.split(" ", 1)[0], line)
        if lines:
            body = "".join(lines[k] + "\n" for k in keys if k in lines)
            if name == "rtf":
                body += _merged_rtf_total(totals)
            write_text_atomic(out / "1best_recog" / name, body)
    errors = "".join((d / "errors.txt").read_text(encoding="utf-8") for d in job_dirs if (d / "errors.txt").is_file())
    write_text_atomic(out / "errors.txt", errors)
    for d in job_dirs:
        for fmt_dir in d.iterdir() if d.is_dir() else []:
            if fmt_dir.is_dir() and fmt_dir.name in ("json", "srt", "vtt", "txt", "rttm"):
                (out / fmt_dir.name).mkdir(exist_ok=True)
                for f in fmt_dir.iterdir():
                    f.replace(out / fmt_dir.name / f.name)


def _merged_rtf_total(totals: list[str]) -> str:
    compute = audio = 0.0
    utts = 0
    for line in totals:
        fields = dict(f.split("=") for f in line.split()[1:])
        compute += float(fields["compute_s"])
        audio += float(fields["audio_s"])
        utts += int(fields["utts"])
    return (
        f"TOTAL rtf={compute / audio if audio else 0.0:.4f} compute_s={compute:.3f} audio_s={audio:.3f} utts={utts}\n"
    )


def _without(argv: list[str], names: tuple[str, ...]) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in names:
            skip = True
            continue
        if any(a.startswith(n + "=") for n in names):
            continue
        out.append(a)
    return out


if __name__ == "__main__":
    sys.exit(main())
