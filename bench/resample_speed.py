"""Resampling speed: funasr_lite's FunASR resampler, soxr HQ and (if importable) torchaudio's Resample.

    python bench/resample_speed.py [--seconds 60]                       # funasr_lite and soxr
    tools/funasr_venv/bin/python bench/resample_speed.py                # also torchaudio (FunASR's venv)

One thread each (torch.set_num_threads(1)); seeded noise at 44.1, 48, 22.05 and 8 kHz to 16 kHz;
the median of 3 runs, in seconds per ``--seconds`` of input. The funasr_lite kernel is built
outside the timing (it is cached per rate pair), as torchaudio's is built in ``Resample()``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
import soxr
import torch

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))
from funasr_lite.frontend import resample as rs  # noqa: E402


def _median_s(fn, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    try:
        from torchaudio.transforms import Resample
    except ImportError:
        Resample = None
    for rate in (44100, 48000, 22050, 8000):
        x = (0.3 * np.random.RandomState(0).randn(int(rate * args.seconds))).astype(np.float32)
        kernel = rs.sinc_kernel(rate, 16000)
        line = [
            f"{rate} -> 16000, {args.seconds:g} s:",
            f"funasr_lite {_median_s(lambda x=x, kernel=kernel: rs.apply_kernel(x, kernel)):.3f} s",
            f"soxr {_median_s(lambda x=x, rate=rate: soxr.resample(x, rate, 16000, quality='HQ')):.3f} s",
        ]
        if Resample is not None:
            ta = Resample(rate, 16000)
            t = torch.from_numpy(x)[None]
            line.append(f"torchaudio {_median_s(lambda ta=ta, t=t: ta(t)):.3f} s")
        print("  ".join(line))


if __name__ == "__main__":
    main()
