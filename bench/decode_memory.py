"""Host memory over a long decode: does RSS grow with the number of utterances decoded?

    python bench/decode_memory.py [--items 10000] [--every 500] [--distinct 200]
        [--model tests/fixtures/models/paraformer_tiny] [--output_format json] [--work /tmp/decode_memory]
        [--json PATH]

Writes ``--distinct`` short clips (0.4-1.6 s, seeded tones and noise at 16 kHz) and a wav.scp of
``--items`` lines cycling over them (every line its own key), then decodes it in this process with
the loop of ``python -m funasr_lite.bin.inference`` (``load_wav_scp`` -> ``prefetch.prepared`` ->
``LongAudioPipeline.run_many``, whose ``--window_s`` windows batch recordings together -> per-recording
format files -> the ``1best_recog`` journal, then ``finalize``). Every
``--every`` items it samples the resident set size (``/proc/self/statm``) after ``gc.collect()``
and prints it; at the end it prints the slope of RSS against items (least squares over the samples
after the first ``--warmup`` share, in MB per 1,000 items) and writes everything to ``--json``.

What grows by design: the journal's results are kept in memory for ``finalize`` (``RecogWriter.done``,
well under 1 kB per utterance for short clips). A slope far above that points at a leak.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def rss_mb() -> float:
    """Current resident set size in MB (``/proc/self/statm``; peak RSS where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KiB on Linux


def make_wav_scp(work: Path, items: int, distinct: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    clips = work / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(distinct):
        path = clips / f"c{i:04d}.wav"
        if not path.is_file():
            t = np.arange(int(16000 * rng.uniform(0.4, 1.6))) / 16000
            x = 0.3 * np.sin(2 * np.pi * rng.uniform(150, 900) * t) * np.sin(2 * np.pi * 3 * t)
            sf.write(path, (x + 0.01 * rng.standard_normal(t.size)).astype(np.float32), 16000, subtype="PCM_16")
        paths.append(path)
    scp = work / f"wav_{items}.scp"
    scp.write_text("".join(f"utt{n:06d} {paths[n % distinct]}\n" for n in range(items)), encoding="utf-8")
    return scp


def slope_per_1000(samples: list[tuple[int, float]], warmup: float) -> float | None:
    """Least-squares MB per 1,000 items over the samples after the warm-up share."""
    last = samples[-1][0] if samples else 0
    tail = [(n, mb) for n, mb in samples if n >= warmup * last]
    if len(tail) < 2:
        return None
    x = np.array([n for n, _ in tail], dtype=float)
    y = np.array([mb for _, mb in tail], dtype=float)
    return float(np.polyfit(x, y, 1)[0] * 1000)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--items", type=int, default=10000)
    p.add_argument("--every", type=int, default=500, help="sample RSS every N items (default: %(default)s)")
    p.add_argument("--distinct", type=int, default=200, help="distinct clips the list cycles over")
    p.add_argument("--model", default=str(REPO / "tests/fixtures/models/paraformer_tiny"))
    p.add_argument("--output_format", default="json", help="per-recording files as in bin/inference, or none")
    p.add_argument("--warmup", type=float, default=0.2, help="share of items left out of the slope")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", default="/tmp/decode_memory")
    p.add_argument(
        "--window_s",
        type=float,
        default=0,
        help="as bin/inference --window_s (default: %(default)s, the CLI's CPU default)",
    )
    p.add_argument("--json", default=None, help="result file (default: <work>/decode_memory.json)")
    args = p.parse_args(argv)

    import shutil  # noqa: PLC0415

    import torch  # noqa: PLC0415

    from funasr_lite.auto_model import build_pipeline, set_seed  # noqa: PLC0415
    from funasr_lite.frontend.audio import load_wav_scp  # noqa: PLC0415
    from funasr_lite.prefetch import prepared  # noqa: PLC0415
    from funasr_lite.writers.formats import parse_formats, write_outputs  # noqa: PLC0415
    from funasr_lite.writers.recog_files import RecogWriter  # noqa: PLC0415

    torch.set_num_threads(1)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    scp = make_wav_scp(work, args.items, args.distinct, args.seed)
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)  # a fresh decode, not a resume
    formats = [] if args.output_format == "none" else parse_formats(args.output_format)
    set_seed(args.seed)
    gc.collect()
    rss_start = rss_mb()
    pipeline = build_pipeline(args.model, device="cpu")
    writer = RecogWriter(out)
    gc.collect()
    samples: list[tuple[int, float]] = [(0, rss_mb())]
    print(
        f"RSS {rss_start:.1f} MB before the model, {samples[0][1]:.1f} MB loaded; decoding {args.items} items of {scp}",
        flush=True,
    )
    print(f"{'items':>8} {'rss_mb':>9} {'elapsed_s':>10}", flush=True)
    t0 = time.monotonic()
    n = errors = 0
    from funasr_lite.writers.recog_files import recog_record  # noqa: PLC0415  (the CLI's own record layout)

    items = prepared(lambda shard: load_wav_scp(scp, shard=shard))
    for item, result, seg_results in pipeline.run_many(items, args.window_s):
        if result is None:
            errors += 1
        else:
            result.setdefault("timestamp", [] if pipeline.asr.has_timestamps else None)
            if formats:
                write_outputs([dict(result, duration_ms=int(item.duration_s * 1000))], out, formats)
            writer.add([recog_record(result, seg_results, item.duration_s, False)])
        n += 1
        if n % args.every == 0 or n == args.items:
            gc.collect()
            samples.append((n, rss_mb()))
            print(f"{n:>8} {samples[-1][1]:>9.1f} {time.monotonic() - t0:>10.1f}", flush=True)
    keys = [line.split(" ", 1)[0] for line in scp.read_text(encoding="utf-8").splitlines()]
    writer.finalize(keys)
    wall = time.monotonic() - t0
    slope = slope_per_1000(samples, args.warmup)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KiB on Linux
    result = {
        "items": n,
        "errors": errors,
        "every": args.every,
        "distinct": args.distinct,
        "model": args.model,
        "output_format": args.output_format,
        "wall_s": round(wall, 2),
        "items_per_s": round(n / wall, 2),
        "rss_before_model_mb": round(rss_start, 1),
        "sample_items": [k for k, _ in samples],
        "sample_rss_mb": [round(v, 2) for _, v in samples],
        "peak_rss_mb": round(peak, 1),
        "warmup": args.warmup,
        "slope_mb_per_1000_items": None if slope is None else round(slope, 3),
    }
    path = Path(args.json) if args.json else work / "decode_memory.json"
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    slope_text = "n/a (too few samples)" if slope is None else f"{slope:+.3f} MB per 1,000 items"
    print(
        f"decoded {n} items ({errors} errors) in {wall:.1f} s; RSS {samples[0][1]:.1f} -> {samples[-1][1]:.1f} MB, "
        f"peak {peak:.1f} MB; slope after {args.warmup:.0%} warm-up: {slope_text}; -> {path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
