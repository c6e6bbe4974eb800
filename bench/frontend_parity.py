"""Frontend parity and speed: funasr_lite's fbank/LFR/CMVN against FunASR fixtures and kaldi-native-fbank.

    python bench/frontend_parity.py [--device cuda] [--batch 32] [--seconds 10]

Prints (1) max |diff| against every FunASR 1.4.16 golden fixture in tests/fixtures/frontend,
(2) max and mean |diff| of log-mel against kaldi-native-fbank over an option sweep, and
(3) the time of WavFrontend (Paraformer settings, LFR 7/6, no CMVN) on a batch.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from test_fbank import knf_fbank, make_wave  # noqa: E402  (one knf adapter, shared with the tests)

from funasr_lite.frontend.fbank import FbankOptions, campplus_fbank, fbank_single  # noqa: E402
from funasr_lite.frontend.wav_frontend import WavFrontend  # noqa: E402

FIX = ROOT / "tests" / "fixtures" / "frontend"


def fixtures() -> None:
    print("== vs FunASR 1.4.16 fixtures (max |diff|)")
    for path in sorted(FIX.glob("*.npz")):
        case = np.load(path)
        wave = torch.from_numpy(case["waveform"])[None]
        if path.name.startswith("campplus_"):
            d = (campplus_fbank(wave[0]) - torch.from_numpy(case["feat"])).abs().max()
            print(f"{path.stem:28s} feat {float(d):.3g}")
            continue
        conf = json.loads(str(case["config"]))
        cmvn = conf.pop("cmvn_file", None)
        conf.pop("frontend", None), conf.pop("call", None)
        fe = WavFrontend.from_config(conf, cmvn_file=FIX / cmvn if cmvn else None)
        fb, _ = fe.compute_fbank(wave)
        feats, _ = fe(wave)
        print(
            f"{path.stem:28s} fbank {float((fb[0] - torch.from_numpy(case['fbank'])).abs().max()):.3g}"
            f"  feats {float((feats[0] - torch.from_numpy(case['feats'])).abs().max()):.3g}"
        )


def knf_sweep() -> None:
    grid = itertools.product(
        ("hamming", "povey", "hanning", "rectangular", "blackman"),
        (True, False),
        (0.0, 0.97),
        (True, False),
        (True, False),
        (400, 16000, 48123),
        (1.0, 32768.0),
    )
    worst, means, n = 0.0, [], 0
    for window, snip, pre, dc, pow2, length, scale in grid:
        opts = FbankOptions(
            window_type=window,
            snip_edges=snip,
            preemph_coeff=pre,
            remove_dc_offset=dc,
            round_to_power_of_two=pow2,
            num_mel_bins=80,
            energy_floor=0.0,
        )
        wave = make_wave(length, seed=length) * np.float32(scale)
        diff = np.abs(fbank_single(torch.from_numpy(wave), opts).numpy() - knf_fbank(wave, opts))
        worst, n = max(worst, float(diff.max())), n + 1
        means.append(float(diff.mean()))
    print(
        f"== vs kaldi-native-fbank: {n} cases, log-mel max |diff| {worst:.3g}, mean |diff| "
        f"median {np.median(means):.3g} max {max(means):.3g}"
    )


def speed(device: str, batch: int, seconds: float) -> None:
    fe = WavFrontend(fs=16000, window="hamming", n_mels=80, lfr_m=7, lfr_n=6, dither=0.0)
    wave = torch.from_numpy(np.stack([make_wave(int(seconds * 16000), s) for s in range(batch)])).to(device)
    fe(wave)  # warm-up (window/mel caches, CUDA context)
    runs = []
    for _ in range(5):
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fe(wave)
        if device == "cuda":
            torch.cuda.synchronize()
        runs.append(time.perf_counter() - t0)
    audio = batch * seconds
    print(
        f"== WavFrontend on {device}: batch {batch} x {seconds:g} s, median of 5 {np.median(runs) * 1e3:.1f} ms"
        f" ({audio / np.median(runs):.0f}x realtime)"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--skip-knf", action="store_true")
    args = p.parse_args()
    print(
        f"host: {platform.processor() or platform.machine()}, torch {torch.__version__}, threads {torch.get_num_threads()}"
        + (f", {torch.cuda.get_device_name()}" if args.device == "cuda" else "")
    )
    fixtures()
    if not args.skip_knf:
        knf_sweep()
    speed(args.device, args.batch, args.seconds)


if __name__ == "__main__":
    main()
