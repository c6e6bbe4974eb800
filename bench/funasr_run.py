"""Time FunASR 1.4.16 on a Kaldi ``wav.scp`` and write one JSON result (the reference side of bench/).

    python bench/funasr_run.py --wav_scp S --model ASR [--vad_model V] [--punc_model P] [--spk_model K]
        --device cpu|cuda [--mode pipeline|segments] [--batch_size_s 300] [--batch_size_threshold_s 60]
        [--batch 1] [--ncpu 2] [--warmup 1] [--json OUT]

Modes
-----
``pipeline`` (FunASR's long-audio path): one ``AutoModel(model=ASR, vad_model=V, punc_model=P,
spk_model=K, device=..., ncpu=..., disable_update=True, disable_pbar=True)`` and then
``generate(input=<wav path>, batch_size_s=..., batch_size_threshold_s=...)`` for each line of the
scp, one file after another. Without ``--vad_model`` each file is recognised as one utterance
(and punctuated when ``--punc_model`` is given); ``--spk_model`` needs ``--vad_model``.

``segments``: the ASR model alone (no VAD/punc/spk) over pre-cut segment wavs:
``generate(input=[paths of --batch lines], batch_size=--batch)``. Without a VAD model FunASR's
``batch_size`` counts utterances (``AutoModel.inference`` slices its input list by it).

Model folders are local directories holding ``configuration.json`` + ``config.yaml`` (or just
``config.yaml`` + ``model.pt``): FunASR's ``download_from_ms`` sees that the path exists and reads
it without any hub access; ``disable_update=True`` skips the PyPI version check.

Timing (decided here; the funasr_lite runner must do the same):
- model loading is excluded (``load_s`` is reported separately);
- ``--warmup`` untimed runs come first: pipeline mode runs the first file (only its first
  ``--warmup_max_s`` seconds, as an in-memory array, when the file is longer), segments mode
  the first batch;
- the timed part is the loop over the whole scp with ``time.perf_counter`` (then
  ``torch.cuda.synchronize()`` on GPU); it INCLUDES audio loading, because FunASR is given paths
  and reads the files itself (``--preload`` passes float32 arrays instead, read before timing);
- ``audio_s`` = total duration of the scp's files (headers read before timing); rtfx = audio_s / wall_s;
- ``peak_rss_mb`` is ``ru_maxrss`` of this process (model loading included); ``peak_gpu_mb``
  is ``torch.cuda.max_memory_allocated`` over the timed loop (peak stats reset after warm-up,
  so weights are counted, warm-up transients are not).

Threads: ``--ncpu`` goes to ``AutoModel(ncpu=...)`` (FunASR calls ``torch.set_num_threads`` with it
on every build and every ``generate``); OMP/OpenBLAS/MKL thread variables are set to the same
number (unless already set) before numpy/torch are imported, so scipy/sklearn (spectral
clustering) use the same budget.

JSON: ``{"toolkit": "funasr", "version", "mode", "device", "config": {args}, "audio_s", "wall_s",
"rtfx", "load_s", "warmup_s", "peak_rss_mb", "peak_gpu_mb", "hardware", "torch", "audio_loader",
"python", "threads", "n_items", "n_errors", "results": {key: {"text", "timestamp", "sentence_info"
[, "wall_s" (pipeline mode)]} or {"error", "traceback"}}}`` (``audio_s`` counts error-free items;
in segments mode a failing batch is retried item by item). Without ``--json`` the JSON is the only
thing on stdout (FunASR's own prints go to stderr). ``audio_loader`` says what FunASR's reader
ends up using: it tries ``torchaudio.load`` (needs torchcodec since torchaudio 2.9; absent on
the GPU machine and here) and falls back to soundfile.

What FunASR itself does that matters when comparing (1.4.16, read in auto/auto_model.py):
- on CPU ``inference_with_vad`` sets its batch to 0, so every VAD segment is decoded alone
  (``batch_size_s`` only matters on GPU: segments sorted by length, batches of padded length
  <= batch_size_s, segments >= batch_size_threshold_s alone);
- each file is read twice (once by the VAD step, once by the ASR step); fbank features are
  computed on the CPU and then moved to the device; the VAD runs on ``--device`` unless
  ``--vad_device`` says otherwise;
- CAM++ embeddings: one ``model.inference`` call per 1.5 s chunk (spk batch_size 1), and on GPU
  every ``inference`` call ends with ``torch.cuda.empty_cache()``;
- clustering of >= 2048 chunks (~25 min of speech in one file) without ``--preset_spk_num``
  goes to UMAP + HDBSCAN, which needs umap-learn (not carried to the GPU machine).

Where to run it
---------------
Here (CPU), in the side virtualenv that has FunASR 1.4.16 (``bash tools/setup_funasr_venv.sh``):

    OMP_NUM_THREADS=2 tools/funasr_venv/bin/python bench/funasr_run.py --wav_scp wav.scp \\
        --model paraformer_large_bicif --vad_model tools/fsmn_vad --punc_model ct_punc_zh \\
        --spk_model campplus --device cpu --ncpu 2 --json out/funasr_cpu.json

On the GPU machine (no internet; Python 3.12 with torch/torchaudio/numpy/scipy/sklearn/
sentencepiece/PyYAML/tqdm/requests already there): ``bash tools/prepare_gpu_wheels.sh`` here first
fills the git-excluded ``.whl/`` with FunASR and the few packages it imports on these paths
(cp312 wheels); pass ``.whl`` in ``carry`` and on the machine:

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \\
        --target /tmp/site .whl/*.whl
    PYTHONPATH=/tmp/site python3 bench/funasr_run.py --wav_scp wav.scp --model ... --device cuda \\
        --ncpu 16 --json $OUT/funasr_gpu.json

This file imports funasr only inside ``main`` (funasr_lite itself never imports it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
import traceback
import wave


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--wav_scp", required=True, help="Kaldi wav.scp: '<key> <path>' per line")
    p.add_argument("--model", required=True, help="ASR model folder (Paraformer / BiCifParaformer)")
    p.add_argument("--vad_model", default=None)
    p.add_argument("--punc_model", default=None)
    p.add_argument("--spk_model", default=None)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--mode", default="pipeline", choices=["pipeline", "segments"])
    p.add_argument(
        "--batch_size_s", type=float, default=300, help="pipeline: FunASR's dynamic batch (s of padded audio)"
    )
    p.add_argument(
        "--batch_size_threshold_s",
        type=float,
        default=60,
        help="pipeline: segments at least this long are decoded alone",
    )
    p.add_argument("--batch", type=int, default=1, help="segments mode: utterances per generate() call")
    p.add_argument("--ncpu", type=int, default=2, help="torch intra-op threads (AutoModel ncpu)")
    p.add_argument("--warmup", type=int, default=1, help="untimed warm-up runs")
    p.add_argument(
        "--warmup_max_s",
        type=float,
        default=30.0,
        help="pipeline warm-up uses at most this many seconds of the first file",
    )
    p.add_argument(
        "--preload", action="store_true", help="read the wavs (float32 arrays) before timing instead of passing paths"
    )
    p.add_argument(
        "--spk_mode",
        default=None,
        choices=[None, "punc_segment", "vad_segment"],
        help="FunASR spk_mode (default: FunASR's, punc_segment)",
    )
    p.add_argument("--preset_spk_num", type=int, default=None, help="known speaker count (generate option)")
    p.add_argument("--sentence_timestamp", action="store_true", help="ask for sentence_info without spk")
    p.add_argument("--vad_device", default=None, help="run the VAD on another device (default: --device)")
    p.add_argument("--dither", type=float, default=None, help="override frontend_conf.dither (default: config)")
    p.add_argument("--json", default=None, help="output file (default: stdout)")
    return p.parse_args(argv)


def read_scp(path: str) -> list[tuple[str, str]]:
    items = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.strip().split(maxsplit=1)
            if len(parts) == 2:
                items.append((parts[0], parts[1]))
            elif parts:
                raise SystemExit(f"{path}: line without a path: {line.rstrip()!r}")
    return items


def audio_duration(path: str) -> float:
    """Seconds of audio in ``path`` from its header (soundfile if importable, else wave)."""
    try:
        import soundfile as sf

        info = sf.info(path)
        return info.frames / float(info.samplerate)
    except ImportError:
        with wave.open(path) as w:
            return w.getnframes() / float(w.getframerate())


def read_audio(path: str, max_s: float | None = None):
    """float32 mono samples and the rate (soundfile; FunASR resamples other rates itself)."""
    import numpy as np
    import soundfile as sf

    info = sf.info(path)
    frames = -1 if max_s is None else int(max_s * info.samplerate)
    x, sr = sf.read(path, frames=frames, dtype="float32", always_2d=True)
    return np.ascontiguousarray(x.mean(axis=1), dtype=np.float32), sr


def audio_loader(path: str) -> str:
    """Which reader FunASR's load_audio_text_image_video ends up using for ``path``: it tries
    ``torchaudio.load`` (torchcodec-backed since torchaudio 2.9) and falls back to soundfile."""
    try:
        import torchaudio

        torchaudio.load(path)
        return f"torchaudio {torchaudio.__version__}"
    except Exception:  # noqa: BLE001
        return "soundfile"


def hardware(device: str) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        if names:
            cpu = f"{names[0]} x{len(names)}"
    except OSError:
        pass
    out = f"CPU: {cpu}"
    try:
        import torch

        if device == "cuda" and torch.cuda.is_available():
            out += f"; GPU: {torch.cuda.get_device_name(0)}"
    except Exception as e:  # noqa: BLE001
        out += f"; GPU: unknown ({type(e).__name__})"
    return out


def plain(x):
    """JSON-safe copy: numpy/torch scalars and arrays to Python numbers and lists."""
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    return str(x)


def summarize(res: dict) -> dict:
    """The small part of one FunASR result dict: text, timestamp, sentence_info (start/end/text/spk)."""
    out = {
        "text": str(res.get("text", "")),
        "timestamp": plain(res["timestamp"]) if "timestamp" in res else None,
        "sentence_info": None,
    }
    if res.get("sentence_info") is not None:
        sents = []
        for s in res["sentence_info"]:
            d = {
                "start": plain(s.get("start")),
                "end": plain(s.get("end")),
                "text": str(s.get("text", s.get("sentence", ""))),
            }
            if "spk" in s:
                d["spk"] = plain(s["spk"])
            sents.append(d)
        out["sentence_info"] = sents
    return out


def build_automodel(args: argparse.Namespace):
    from funasr import AutoModel

    kw = {
        "model": os.path.abspath(args.model),
        "device": args.device,
        "ncpu": args.ncpu,
        "disable_update": True,
        "disable_pbar": True,
        "disable_log": True,
        "log_level": "ERROR",
    }
    if args.dither is not None:
        kw["frontend_conf"] = {"dither": args.dither}
    if args.mode == "pipeline":
        if args.spk_model and not args.vad_model:
            raise SystemExit("--spk_model needs --vad_model (FunASR clusters speakers over VAD segments)")
        if args.vad_model:
            kw["vad_model"] = os.path.abspath(args.vad_model)
            if args.vad_device:
                kw["vad_kwargs"] = {"device": args.vad_device}
        if args.punc_model:
            kw["punc_model"] = os.path.abspath(args.punc_model)
        if args.spk_model:
            kw["spk_model"] = os.path.abspath(args.spk_model)
            if args.spk_mode:
                kw["spk_mode"] = args.spk_mode
    elif args.vad_model or args.punc_model or args.spk_model:
        raise SystemExit("--mode segments times the ASR model alone: drop --vad_model/--punc_model/--spk_model")
    return AutoModel(**kw)


def generate_options(args: argparse.Namespace) -> dict:
    if args.mode == "segments":
        return {"batch_size": args.batch}
    opts = {"batch_size_s": args.batch_size_s, "batch_size_threshold_s": args.batch_size_threshold_s}
    if args.preset_spk_num is not None:
        opts["preset_spk_num"] = args.preset_spk_num
    if args.sentence_timestamp:
        opts["sentence_timestamp"] = True
    return opts


def main(argv=None) -> int:
    args = parse_args(argv)
    # FunASR prints to stdout (e.g. "funasr version: ..."): keep stdout for the JSON alone
    real_stdout, sys.stdout = sys.stdout, sys.stderr
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(args.ncpu))

    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        # FunASR would silently fall back to the CPU: refuse instead of timing the wrong device.
        raise SystemExit("--device cuda but torch.cuda.is_available() is False")
    import funasr

    items = read_scp(args.wav_scp)
    if not items:
        raise SystemExit(f"{args.wav_scp}: empty")
    durations, bad = {}, {}
    for k, p in items:
        try:
            durations[k] = audio_duration(p)
        except Exception as e:  # noqa: BLE001  still handed to FunASR, which records its own error
            durations[k], bad[k] = 0.0, f"{type(e).__name__}: {e}"

    def sync():
        if args.device == "cuda":
            torch.cuda.synchronize()

    t = time.perf_counter()
    am = build_automodel(args)
    sync()
    load_s = time.perf_counter() - t
    real_device = str(next(am.model.parameters()).device)
    loader = audio_loader(items[0][1])
    opts = generate_options(args)

    # inputs: paths (FunASR reads them inside the timed loop) or arrays read now (--preload);
    # rates[k] is passed as generate(fs=...) for arrays (FunASR resamples to 16 kHz itself)
    inputs, rates = {}, {}
    for k, p in items:
        if args.preload and k in bad:
            inputs[k], rates[k] = p, None  # unreadable: FunASR gets the path and fails on it
        elif args.preload:
            inputs[k], rates[k] = read_audio(p)
        else:
            inputs[k], rates[k] = p, None

    def call(keys):
        fs = {rates[k] for k in keys}
        extra = {"fs": fs.pop()} if len(fs) == 1 and None not in fs else {}
        if args.preload and not extra and not any(k in bad for k in keys):
            raise SystemExit("--preload: a batch mixes sample rates; resample the segments first")
        if args.mode == "pipeline":
            return am.generate(input=inputs[keys[0]], **opts, **extra)
        return am.generate(input=[inputs[k] for k in keys], **opts, **extra)

    # warm-up (untimed)
    t = time.perf_counter()
    for _ in range(args.warmup):
        try:
            if args.mode == "pipeline":
                k0, p0 = items[0]
                if durations[k0] > args.warmup_max_s:
                    x, sr = read_audio(p0, args.warmup_max_s)
                    am.generate(input=x, fs=sr, **opts)
                else:
                    call([k0])
            else:
                call([k for k, _ in items[: args.batch]])
        except Exception as e:  # noqa: BLE001  the timed loop records per-item errors
            print(f"warm-up failed ({type(e).__name__}: {e}); timing anyway", file=sys.stderr)
            break
    sync()
    warmup_s = time.perf_counter() - t
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()

    results: dict[str, dict] = {}
    t0 = time.perf_counter()
    if args.mode == "pipeline":
        for key, _ in items:
            ti = time.perf_counter()
            try:
                res = call([key])
                results[key] = summarize(res[0]) if res else {"text": "", "timestamp": None, "sentence_info": None}
            except Exception as e:  # noqa: BLE001  one bad file must not end the run
                results[key] = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc(limit=3)}
            results[key]["wall_s"] = time.perf_counter() - ti
    else:
        for b in range(0, len(items), args.batch):
            chunk = items[b : b + args.batch]
            keys = [k for k, _ in chunk]
            try:
                res = call(keys)
                if len(res) == len(keys):
                    for k, r in zip(keys, res):
                        results[k] = summarize(r)
                else:
                    # FunASR's Paraformer returns [] for a batch where no token fires, which
                    # AutoModel.inference turns into ONE {"text": ""}: map by its key where it can.
                    by_name = {str(r.get("key")): r for r in res}
                    for k, p in chunk:
                        name = os.path.splitext(os.path.basename(p))[0] if isinstance(p, str) else k
                        r = by_name.get(name)
                        results[k] = (
                            summarize(r)
                            if r is not None
                            else {"text": "", "timestamp": None, "sentence_info": None, "note": "no output"}
                        )
            except Exception:  # noqa: BLE001  retry the batch one item at a time (inside the timing)
                for k in keys:
                    try:
                        res = call([k])
                        results[k] = (
                            summarize(res[0]) if res else {"text": "", "timestamp": None, "sentence_info": None}
                        )
                        results[k]["note"] = "batch failed; decoded alone"
                    except Exception as e:  # noqa: BLE001
                        results[k] = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc(limit=3)}
    sync()
    wall_s = time.perf_counter() - t0

    # audio_s counts the items that came back without an error
    audio_s = float(sum(durations[k] for k, _ in items if "error" not in results.get(k, {"error": 1})))
    peak_gpu_mb = torch.cuda.max_memory_allocated() / 2**20 if args.device == "cuda" else None
    out = {
        "toolkit": "funasr",
        "version": funasr.__version__,
        "mode": args.mode,
        "device": real_device,
        "config": vars(args),
        "audio_s": audio_s,
        "wall_s": wall_s,
        "rtfx": audio_s / wall_s if wall_s > 0 else None,
        "load_s": load_s,
        "warmup_s": warmup_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "peak_gpu_mb": peak_gpu_mb,
        "hardware": hardware(args.device),
        "torch": torch.__version__,
        "audio_loader": loader,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "n_items": len(items),
        "n_errors": sum(1 for r in results.values() if "error" in r),
        "results": results,
    }
    text = json.dumps(out, ensure_ascii=False, indent=1)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    else:
        print(text, file=real_stdout)
    print(
        f"funasr {out['version']} {args.mode} {real_device}: {len(items)} items, {audio_s:.1f} s audio in "
        f"{wall_s:.2f} s (rtfx {out['rtfx']:.1f}), load {load_s:.1f} s, errors {out['n_errors']}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
