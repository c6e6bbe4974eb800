"""Time funasr_lite on a wav.scp and write one JSON result (the counterpart of ``bench/funasr_run.py``).

    python bench/lite_run.py --wav_scp S --model ASR [--vad_model V] [--punc_model P] [--spk_model K] \\
        [--device cuda] [--dtype bf16] [--quantize int8] [--num_workers 8] [--batch_size_s 300] \\
        [--mode pipeline|segments] [--batch N | --batch_size_token T] [--json OUT] [--warmup 1]

``pipeline``: each line of ``--wav_scp`` is a long recording; VAD -> ASR [-> punctuation]
[-> speakers], the inference CLI's path (``prefetch.prepared`` + ``LongAudioPipeline.run_many``)
without writing files. ``segments``: the ASR model alone over pre-cut utterances, in groups of
``--batch`` consecutive items (FunASR's ``batch_size``) or in length-sorted batches of
``--batch_size_token`` LFR frames (funasr_lite's own batching). The timed part starts with
reading the audio files and ends with the last result (GPU synchronised); model loading and
``--warmup`` untimed passes over the first recording (or first batch) are excluded.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from funasr_lite.auto_model import build_pipeline, set_seed  # noqa: E402
from funasr_lite.frontend.audio import load_wav_scp  # noqa: E402
from funasr_lite.pipeline import DecodeOptions  # noqa: E402
from funasr_lite.prefetch import prepared  # noqa: E402


def hardware(device: str) -> str:
    """CPU model and core count, plus the GPU name on CUDA."""
    cpu = platform.processor() or "cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    out = f"{cpu}, {torch.get_num_threads()} torch threads"
    if device.startswith("cuda"):
        out += f"; {torch.cuda.get_device_name()}"
    return out


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def run_pipeline(args: argparse.Namespace) -> tuple[float, float, dict[str, Any]]:
    """Returns (audio seconds, wall seconds, results)."""
    pipe = build_pipeline(
        args.model,
        args.vad_model,
        args.punc_model,
        device=args.device,
        batch_size_s=args.batch_size_s,
        spk_model=args.spk_model,
        dtype=args.dtype,
        quantize=args.quantize,
        vad_device="cpu" if args.num_workers > 0 else None,
    )
    options = DecodeOptions(sentence_timestamp=pipe.punc is not None or pipe.spk is not None)

    def loader(shard: tuple[int, int] | None, first_only: bool = False):
        for i, item in enumerate(load_wav_scp(args.wav_scp, shard=shard)):
            if first_only and i > 0:
                return
            yield item

    for _ in range(args.warmup):
        list(pipe.run_many(prepared(lambda s: loader(s, True), pipe.vad), args.window_s, options))
    sync(args.device)
    start = time.perf_counter()
    results, audio_s = {}, 0.0
    for item, res, _ in pipe.run_many(prepared(loader, pipe.vad, None, args.num_workers), args.window_s, options):
        audio_s += item.duration_s
        if res is None:
            results[item.key] = {"error": str(item.error)}
            continue
        results[item.key] = {
            "text": res.get("text", ""),
            "timestamp": res.get("timestamp"),
            "sentence_info": [
                {k: s.get(k) for k in ("start", "end", "text", "spk")} for s in res.get("sentence_info", [])
            ]
            or None,
        }
    sync(args.device)
    return audio_s, time.perf_counter() - start, results


def run_segments(args: argparse.Namespace) -> tuple[float, float, dict[str, Any]]:
    """ASR alone over pre-cut utterances."""
    from funasr_lite.asr import SpeechRecognizer  # noqa: PLC0415

    asr = SpeechRecognizer(
        args.model, device=args.device, batch_size_token=args.batch_size_token, dtype=args.dtype, quantize=args.quantize
    )

    def batches(items: list) -> list[list[int]] | None:
        if args.batch:
            return [list(range(i, min(i + args.batch, len(items)))) for i in range(0, len(items), args.batch)]
        return None

    def decode(items: list) -> list:
        groups = batches(items)
        it = asr.recognize(items) if groups is None else asr.recognize_batches(items, groups)
        return [r for batch in it for r in batch]

    first = [(k, a.waveform) for k, a in load_wav_scp(args.wav_scp)][: max(args.batch, 1)]
    for _ in range(args.warmup):
        decode(first)
    sync(args.device)
    start = time.perf_counter()
    items = []
    for key, audio in load_wav_scp(args.wav_scp):
        if not isinstance(audio, Exception):
            items.append((key, audio.waveform))
    recs = decode(items)
    sync(args.device)
    wall = time.perf_counter() - start
    results = {r.key: {"text": r.text, "timestamp": r.timestamp} for r in recs}
    return sum(len(w) for _, w in items) / 16000, wall, results


def profiled(run: Any, args: argparse.Namespace) -> tuple[float, float, dict[str, Any]]:
    """``run(args)`` under cProfile and torch.profiler; both tables go to ``args.profile``."""
    import cProfile  # noqa: PLC0415
    import io  # noqa: PLC0415
    import pstats  # noqa: PLC0415

    from torch.profiler import ProfilerActivity, profile  # noqa: PLC0415

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device.startswith("cuda") else [])
    prof = cProfile.Profile()
    with profile(activities=acts) as tprof:
        prof.enable()
        out = run(args)
        prof.disable()
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(35)
    sort = "self_cuda_time_total" if args.device.startswith("cuda") else "self_cpu_time_total"
    table = tprof.key_averages().table(sort_by=sort, row_limit=30)
    Path(args.profile).write_text(
        f"# wall {out[1]:.2f} s for {out[0]:.1f} s of audio (profilers on)\n\n"
        f"## torch.profiler, by {sort}\n{table}\n\n## cProfile, cumulative\n{text.getvalue()}"
    )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wav_scp", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--vad_model")
    p.add_argument("--punc_model")
    p.add_argument("--spk_model")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="fp32", choices=("fp32", "bf16", "fp16"))
    p.add_argument("--quantize", default=None, choices=("int8",))
    p.add_argument("--num_workers", type=int, default=0)
    p.add_argument("--batch_size_s", type=float, default=300)
    p.add_argument("--window_s", type=float, default=600)
    p.add_argument("--mode", default="pipeline", choices=("pipeline", "segments"))
    p.add_argument("--batch", type=int, default=0, help="segments mode: N consecutive items per batch")
    p.add_argument("--batch_size_token", type=int, default=6000, help="segments mode without --batch")
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--json")
    p.add_argument(
        "--profile",
        help="also write a profile of the timed part here (cProfile by function; "
        "torch.profiler by operator); the timing then includes the profilers' overhead",
    )
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    set_seed(0)
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    run = run_pipeline if args.mode == "pipeline" else run_segments
    with torch.inference_mode():
        audio_s, wall, results = run(args) if not args.profile else profiled(run, args)
    doc = {
        "toolkit": "funasr_lite",
        "mode": args.mode,
        "device": args.device,
        "config": vars(args),
        "audio_s": audio_s,
        "wall_s": wall,
        "rtfx": audio_s / wall if wall else 0.0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if args.device.startswith("cuda") else None,
        "hardware": hardware(args.device),
        "torch": torch.__version__,
        "results": results,
    }
    print(
        f"funasr_lite {args.mode} {args.dtype}{' int8' if args.quantize else ''}: {audio_s:.1f} s of audio in "
        f"{wall:.2f} s = {doc['rtfx']:.1f}x realtime; peak RSS {doc['peak_rss_mb']:.0f} MB"
        + (f", GPU {doc['peak_gpu_mb']:.0f} MB" if doc["peak_gpu_mb"] is not None else "")
    )
    if args.json:
        Path(args.json).write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
