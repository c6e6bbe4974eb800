"""Plain Paraformer CIF-peak timestamps golden fixtures: tests/fixtures/paraformer_timestamps/.

FunASR 1.4.16 `Paraformer.inference` computes timestamps when `pred_timestamp` (or, failing that,
`output_timestamp`) is set, and `AutoModel` sets `output_timestamp=True` whenever a speaker model
is loaded: `ts_prediction_lfr6_standard(pre_peak_index[i], alphas[i], tokens, upsample_rate=1)`,
i.e. CifPredictorV2's fires (`cif_v1`) in the *alphas* argument and its alphas (with the tail
weight) in the *peaks* argument, cut to `encoder_out_lens + 1` frames (`tail_mask`), then
`sentence_postprocess(tokens, timestamp)`.

For `tests/fixtures/models/paraformer_tiny` (CPU, batch 1, dither 0) on the 4 clips of
make_paraformer.py plus 2 longer ones (pauses, leading/trailing silence), this records:
- `generate(input=wave, key=clip, output_timestamp=True)` (asserted equal to `pred_timestamp=True`;
  `pred_timestamp=False, output_timestamp=True` asserted to give no timestamp);
- the `ts_prediction_lfr6_standard` call it made (captured): the raw timestamps, the timestamp
  string, the frame count, whether the fires were rescaled (alpha count >= 1-1e-4 != N+1), and the
  tie margins: `alpha_margin` (smallest |alpha - (1-1e-4)|), `fire_margin` (smallest distance of
  the rescaled running sum to the 1-1e-4 threshold, recomputed in float64), `cif_margin` (token
  fires, as make_paraformer.py);
- `synthetic`: FunASR's function on hand-made (fires, alphas) pairs for the branches the random
  model does not reach (no rescaling, a gap over 12 frames, leading/trailing silence).

`clips.npz` holds the 2 new waveforms as int16 (they are on the 16-bit grid); the other 4 are the
`waveform` arrays of tests/fixtures/paraformer/paraformer_tiny_<clip>.npz.

Run:  tools/funasr_venv/bin/python tools/make_fixtures/make_paraformer_timestamps.py
"""

import importlib.util
import logging
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import FIXTURES, save_npz, speech_like, write_json  # noqa: E402

logging.disable(logging.WARNING)
import funasr  # noqa: E402
import funasr.models.paraformer.model as pm  # noqa: E402
from funasr.utils import timestamp_tools  # noqa: E402

OUT = os.path.join(FIXTURES, "paraformer_timestamps")
THR = 1.0 - 1e-4


def _load(name, file):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, file))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


mp = _load("_make_paraformer_for_ts", "make_paraformer.py")


def clips():
    c = dict(mp.clips())
    c["speechlike_4s"] = speech_like(64000, seed=61)
    # 1.5 s of near-silence, a syllable train, then 2 s of near-silence (leading/trailing silence)
    mid = speech_like(24000, seed=63)
    quiet = np.zeros(56000, dtype=np.float32)
    quiet[24000:48000] = mid
    c["quiet_3p5s"] = np.round(quiet * 32768.0).astype(np.float32) / 32768.0
    return c


def _fire_margin(fires, n_tokens):
    """Smallest |running sum - threshold| of the rescaled fires (FunASR's cif_wo_hidden, float64)."""
    a = fires.double() / (fires.double().sum() / (n_tokens + 1))
    acc, best = 0.0, float("inf")
    for x in a.tolist():
        acc += x
        best = min(best, abs(acc - THR))
        if acc >= THR:
            acc -= THR
    return best


class TsCapture:
    """Wraps ts_prediction_lfr6_standard as Paraformer.inference sees it (module global)."""

    def __init__(self):
        self.calls = []
        self.orig = pm.ts_prediction_lfr6_standard

        def ts(us_alphas, us_peaks, char_list, **kw):
            fires, alphas = us_alphas.clone(), us_peaks.clone()
            out = self.orig(us_alphas, us_peaks, char_list, **kw)
            self.calls.append({"fires": fires, "alphas": alphas, "tokens": list(char_list), "kw": kw, "out": out})
            return out

        pm.ts_prediction_lfr6_standard = ts

    def remove(self):
        pm.ts_prediction_lfr6_standard = self.orig


def synthetic():
    """FunASR's function on hand-made inputs (fires in the alphas slot, alphas in the peaks slot)."""
    cases = []

    def run(name, fires, alphas, tokens, vad_offset=0):
        f = torch.tensor(fires, dtype=torch.float32)
        a = torch.tensor(alphas, dtype=torch.float32)
        s, ts = timestamp_tools.ts_prediction_lfr6_standard(
            f.clone(), a.clone(), list(tokens), vad_offset=vad_offset, upsample_rate=1
        )
        cases.append(
            {
                "name": name,
                "fires": fires,
                "alphas": alphas,
                "tokens": tokens,
                "vad_offset": vad_offset,
                "timestamp": ts,
                "timestamp_str": s,
            }
        )

    # 3 alphas >= 1-1e-4 for 2 tokens: no rescaling, fire places from the alphas themselves
    alphas = [0.1, 1.0, 0.2, 0.3, 0.99995, 0.1, 0.0, 0.0, 0.2, 1.0, 0.45]
    run("alphas_fire_no_rescale", [0.5] * len(alphas), alphas, ["你", "好"])
    # the same with a gap of 20 frames between two fires (cut at 12 frames, the rest silence)
    alphas = [0.0, 1.0] + [0.1] * 20 + [1.0, 0.2, 1.0, 0.45]
    run("long_gap_split", [0.5] * len(alphas), alphas, ["a@@", "b"])
    # leading silence over 5 frames and trailing silence over 5 frames, with a VAD offset
    alphas = [0.0] * 8 + [1.0, 0.3, 1.0, 0.2, 1.0] + [0.0] * 9 + [0.45]
    run("lead_trail_silence_offset", [0.5] * len(alphas), alphas, ["今", "天"], vad_offset=1230)
    # rescaling: fires that sum to anything, integrated again to N+1 fires
    fires = [0.2, 0.7, 1.3, 0.4, 0.9, 1.6, 0.1, 0.5, 1.2, 0.3, 0.75]
    run("rescaled", fires, [0.2] * len(fires), ["天", "气", "好"])
    run("rescaled_unk_end", fires, [0.2] * len(fires), ["天", "气", "<unk>"], vad_offset=40)
    return cases


def main():
    am = mp.build("paraformer_tiny")
    cap = TsCapture()
    waves = clips()
    results = {}
    try:
        for clip, w in waves.items():
            cap.calls = []
            res = am.generate(input=w, key=clip, output_timestamp=True)
            assert len(res) == 1 and len(cap.calls) == 1, (clip, res)
            call = cap.calls[0]
            assert am.generate(input=w, key=clip, pred_timestamp=True) == res
            plain = am.generate(input=w, key=clip, pred_timestamp=False, output_timestamp=True)
            assert "timestamp" not in plain[0], plain
            assert am.generate(input=w, key=clip) == plain
            fires, alphas, tokens = call["fires"], call["alphas"], call["tokens"]
            n_alpha_fires = int((alphas >= THR).sum())
            results[clip] = {
                "result": res[0],
                "text_without_timestamps": plain[0]["text"],
                "tokens": tokens,
                "timestamp_raw": call["out"][1],
                "timestamp_str": call["out"][0],
                "frames": int(alphas.shape[0]),
                "rescaled": n_alpha_fires != len(tokens) + 1,
                "alpha_margin": float((alphas.double() - THR).abs().min()),
                "fire_margin": _fire_margin(fires, len(tokens)),
                "cif_margin": mp.cif_margin(alphas.numpy()),
                "kwargs": {k: v for k, v in call["kw"].items()},
            }
    finally:
        cap.remove()
    os.makedirs(OUT, exist_ok=True)
    save_npz(
        os.path.join(OUT, "clips.npz"),
        **{
            k: np.round(v.astype(np.float64) * 32768.0).astype(np.int16)
            for k, v in waves.items()
            if k not in mp.clips()
        },
    )
    write_json(
        os.path.join(OUT, "results.json"),
        {
            "versions": {"funasr": funasr.__version__, "torch": torch.__version__},
            "model": "tests/fixtures/models/paraformer_tiny",
            "clips": results,
            "synthetic": synthetic(),
        },
    )
    for clip, r in results.items():
        print(
            clip,
            len(r["tokens"]),
            r["result"]["text"],
            r["result"]["timestamp"],
            f"fire_margin={r['fire_margin']:.4g} cif={r['cif_margin']:.4g} rescaled={r['rescaled']}",
        )


if __name__ == "__main__":
    main()
