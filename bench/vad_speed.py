"""FSMN-VAD speed on one hour of 16 kHz audio: funasr_lite network vs decisions, and FunASR.

    python bench/vad_speed.py [--model tools/fsmn_vad] [--minutes 60] [--no-funasr]

The hour is the espeak-ng clips of tools/make_fixtures/make_vad.py tiled with seeded jitter
(gain 0.5..1.5, 0..2 s of extra silence, fresh noise). Times are medians of 3 runs on CPU.
If tools/funasr_venv/bin/python exists, FunASR 1.4.16 ``AutoModel.generate`` is timed once on
the same audio in that venv (subprocess) and its segments are compared with funasr_lite's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(REPO, "tools", "make_fixtures"))

FUNASR_SCRIPT = r"""
import json, sys, time, numpy as np, torch
from funasr import AutoModel
torch.set_num_threads(int(sys.argv[3]))
w = np.load(sys.argv[2])
am = AutoModel(model=sys.argv[1], disable_update=True, device="cpu", disable_pbar=True, disable_log=True)
t = time.perf_counter(); res = am.generate(input=w); dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "segments": res[0]["value"]}))
"""


def build_audio(minutes: float, seed: int = 0) -> np.ndarray:
    """``minutes`` of tiled speech + silence at 16 kHz, float32 on the 16-bit grid."""
    import make_vad

    base = [
        make_vad.synth_clip(make_vad.CLIPS[k]).astype(np.float64) / 32768 for k in ("pauses_16k", "noisy_8k", "src_44k")
    ]
    rng = np.random.RandomState(seed)
    target = int(minutes * 60 * 16000)
    parts, n = [], 0
    while n < target:
        clip = base[rng.randint(len(base))] * rng.uniform(0.5, 1.5)
        gap = np.zeros(rng.randint(0, 32000))
        x = np.concatenate([clip, gap])
        x = x + 0.002 * rng.randn(len(x))
        parts.append(x)
        n += len(x)
    x = np.concatenate(parts)[:target]
    return (np.clip(np.round(x * 32768), -32768, 32767) / 32768).astype(np.float32)


def median_time(fn, repeat: int = 3):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=os.path.join(REPO, "tools", "fsmn_vad"))
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--no-funasr", action="store_true")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()

    import torch

    from funasr_lite.models.fsmn_vad import load_fsmn_vad

    if args.threads:
        torch.set_num_threads(args.threads)
    wav = build_audio(args.minutes)
    dur = len(wav) / 16000
    model = load_fsmn_vad(args.model)
    threads = torch.get_num_threads()
    print(f"audio {dur:.0f} s, torch threads {threads}, cpus {os.cpu_count()}")
    t_net, scores = median_time(lambda: model.frame_scores(wav))
    n_frames = scores.sil_probs.shape[0]
    t_fb, _ = median_time(lambda: model._fbank(torch.from_numpy(wav), len(wav), 960000, n_frames))
    t_dec, segs = median_time(lambda: model.segments_from_scores(scores, wav))
    t_cls, segs_cls = median_time(lambda: model.segments_from_scores(scores, wav, max_end_silence_time=800))
    total = t_net + t_dec
    print(f"network (fbank+LFR+CMVN+FSMN): {t_net:.3f} s  ({dur / t_net:.0f}x realtime)")
    print(f"  of which fbank (frontend):   {t_fb:.3f} s; LFR+CMVN+FSMN ~ {t_net - t_fb:.3f} s")
    print(f"decisions (default/dynamic):   {t_dec:.3f} s  ({dur / t_dec:.0f}x realtime), {len(segs)} segments")
    print(f"decisions (classic 800 ms):    {t_cls:.3f} s, {len(segs_cls)} segments")
    print(f"total:                         {total:.3f} s  ({dur / total:.0f}x realtime)")

    venv_py = os.path.join(REPO, "tools", "funasr_venv", "bin", "python")
    if args.no_funasr or not os.path.exists(venv_py):
        return
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "wav.npy")
        np.save(path, wav)
        proc = subprocess.run(
            [venv_py, "-c", FUNASR_SCRIPT, args.model, path, str(threads)], capture_output=True, text=True, check=True
        )
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    print(
        f"FunASR 1.4.16 generate():      {res['seconds']:.3f} s  ({dur / res['seconds']:.0f}x realtime), "
        f"{len(res['segments'])} segments"
    )
    print(
        f"speed-up vs FunASR:            {res['seconds'] / total:.1f}x; segments identical: {res['segments'] == segs}"
    )


if __name__ == "__main__":
    main()
