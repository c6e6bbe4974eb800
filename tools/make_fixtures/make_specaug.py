"""SpecAugLFR fixtures: tests/fixtures/specaug/.

FunASR 1.4.16's own ``funasr.models.specaug.specaug.SpecAugLFR`` applied to batches of 3 LFR
feature tensors (560 dims, different lengths, zero-padded; values int8 / 32, all non-zero in the
valid region so a mask shows as exact zeros) right after ``torch.manual_seed(seed)``:

* ``default``: the Paraformer-large ``specaug_conf`` (FunASR's ``funasr/models/paraformer/template.yaml``:
  no time warp, 1 freq mask of width [0, 30) with lfr_rate 6, 1 time mask of width [0, 12));
* ``two_masks``: the same with 2 freq and 2 time masks;
* ``ratio``: 2 time masks with ``time_mask_width_ratio_range`` [0, 0.2) (no width range);
* ``warp``/``warp_equal``: time warp on (window 5, bicubic) plus the default masks, unequal and
  equal lengths (FunASR warps per item, or the whole batch at once).

Writes ``inputs.npz`` (``<name>_int8``, ``<name>_lens``, ``<case>_seed<s>_zero`` = packed bits of
``out == 0``) and ``cases.json`` (conf, input name, seed, sha256 of the float32 output bytes,
output shape, per-frame sums for debugging).
Run:  tools/funasr_venv/bin/python tools/make_fixtures/make_specaug.py
"""

import hashlib
import logging
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import FIXTURES, save_npz, write_json

logging.disable(logging.WARNING)
from funasr.models.specaug.specaug import SpecAugLFR

OUT = os.path.join(FIXTURES, "specaug")
DEFAULT = dict(
    apply_time_warp=False,
    time_warp_window=5,
    time_warp_mode="bicubic",
    apply_freq_mask=True,
    freq_mask_width_range=[0, 30],
    lfr_rate=6,
    num_freq_mask=1,
    apply_time_mask=True,
    time_mask_width_range=[0, 12],
    num_time_mask=1,
)
CASES = {
    "default": (DEFAULT, "uneq", [0, 1, 2, 3, 4, 5]),
    "two_masks": (dict(DEFAULT, num_freq_mask=2, num_time_mask=2), "uneq", [0, 1, 2, 3]),
    "ratio": (
        dict(DEFAULT, time_mask_width_range=None, time_mask_width_ratio_range=[0.0, 0.2], num_time_mask=2),
        "uneq",
        [0, 1],
    ),
    "warp": (dict(DEFAULT, apply_time_warp=True), "uneq", [0, 1, 2]),
    "warp_equal": (dict(DEFAULT, apply_time_warp=True), "eq", [0, 1]),
}


def make_input(rng, lens, t_pad):
    """(3, t_pad, 560) int8, non-zero up to each length, zero after."""
    x = rng.integers(1, 97, size=(len(lens), t_pad, 560)) * rng.choice([-1, 1], size=(len(lens), t_pad, 560))
    x = x.astype(np.int8)
    for i, n in enumerate(lens):
        x[i, n:] = 0
    return x


def main():
    rng = np.random.default_rng(11)
    inputs = {"uneq": ([41, 27, 13], 41), "eq": ([30, 30, 30], 30)}
    arrays, cases = {}, []
    for name, (lens, t_pad) in inputs.items():
        arrays[f"{name}_int8"] = make_input(rng, lens, t_pad)
        arrays[f"{name}_lens"] = np.array(lens, dtype=np.int64)
    for case, (conf, inp, seeds) in CASES.items():
        conf = {k: v for k, v in conf.items() if v is not None}
        for seed in seeds:
            aug = SpecAugLFR(**conf)
            x = torch.from_numpy(arrays[f"{inp}_int8"].astype(np.float32) / 32.0)
            lens = torch.from_numpy(arrays[f"{inp}_lens"])
            torch.manual_seed(seed)
            out, out_lens = aug(x.clone(), lens)
            out = out.contiguous().numpy().astype(np.float32)
            assert out_lens.tolist() == lens.tolist()
            if not conf["apply_time_warp"]:
                arrays[f"{case}_seed{seed}_zero"] = np.packbits(out == 0)
            cases.append(
                {
                    "case": case,
                    "conf": conf,
                    "input": inp,
                    "seed": seed,
                    "shape": list(out.shape),
                    "sha256": hashlib.sha256(out.tobytes()).hexdigest(),
                    **(
                        {"frame_sums": [[float(v) for v in row] for row in out.astype(np.float64).sum(axis=2)]}
                        if conf["apply_time_warp"]
                        else {}
                    ),
                }
            )
    save_npz(os.path.join(OUT, "inputs.npz"), **arrays)
    write_json(os.path.join(OUT, "cases.json"), {"funasr": "1.4.16", "cases": cases})
    print(f"specaug: {len(cases)} cases -> {OUT}")


if __name__ == "__main__":
    main()
