"""How much FunASR's own frontend output moves between CPU instruction sets.

The golden fixtures under tests/fixtures/frontend/ were written by FunASR 1.4.16 on one CPU (an
AVX-512 Xeon). On another CPU, torch, MKL and oneDNN pick other kernels (FFT, GEMM, vector log),
so FunASR itself gives other low bits. This script recomputes every frontend fixture with FunASR's
own code (``WavFrontend`` for the ASR cases, ``campplus.utils.extract_feature`` for CAM++) in this
process and prints its largest difference from the stored fixture, two ways:

- ``abs``: max |log-mel difference|, what an ``atol`` has to allow;
- ``rel``: max over frames of max_m |P_fix - P_new| / max_m P_fix, the difference in mel *power*
  relative to the frame's loudest bin. Float32 FFT/GEMM rounding is relative to the frame's
  energy, so quiet bins (log-mel ~5 in a frame peaking at ~24) move most in the log domain.

Run it once per instruction-set setting (the ISA is fixed when torch is imported):

    for s in native avx2 default; do
      env $( [ $s = native ] || echo ATEN_CPU_CAPABILITY=$s MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2 ) \
        tools/funasr_venv/bin/python tools/make_fixtures/isa_spread.py --label $s
    done

It also runs funasr_lite's ``WavFrontend`` (from this checkout) on the same clips in the same
process and prints whether its fbank equals FunASR's to the bit under this setting (``same_as_funasr``).

It also recomputes FunASR's training losses on tests/fixtures/train_loss/inputs.npz (the
make_train_loss.py cases) and prints the largest change per statistic. With the GLM sampler on
(``sampling_ratio`` 0.75) the loss is not a smooth function of the low bits: the rescaled CIF
alphas sum to an integer, so whether the last token fires, and which tokens the sampler keeps,
turn on the last ulp.

tests/test_frontend_fixtures.py and tests/test_train_loss.py bound funasr_lite's output by what
this prints (docs/compatibility.md).
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import FIXTURES  # noqa: E402
from funasr.frontends.wav_frontend import WavFrontend  # noqa: E402
from funasr.models.campplus.utils import extract_feature  # noqa: E402

FRONTEND = os.path.join(FIXTURES, "frontend")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def spread(new: np.ndarray, fix: np.ndarray) -> tuple[float, float]:
    """(max |log diff|, max power difference relative to the frame's loudest bin)."""
    if new.size == 0:
        return 0.0, 0.0
    a, b = new.astype(np.float64), fix.astype(np.float64)
    peak = np.exp(b.max(axis=1, keepdims=True))
    return float(np.abs(a - b).max()), float((np.abs(np.exp(a) - np.exp(b)) / peak).max())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", default="native")
    args = ap.parse_args()
    sys.path.insert(0, REPO)
    from funasr_lite.frontend.wav_frontend import WavFrontend as LiteFrontend

    rows, same = {}, {}
    for name in sorted(os.listdir(FRONTEND)):
        if not name.endswith(".npz"):
            continue
        case = dict(np.load(os.path.join(FRONTEND, name)))
        wave = torch.from_numpy(case["waveform"])
        if name.startswith("campplus_"):
            new, fix = extract_feature([wave])[0][0].numpy(), case["feat"]
            # CAM++ features are mean-normalised log-mels: compare before the mean is removed
            new, fix = new - new.mean(0), fix - fix.mean(0)
            rows[name[:-4]] = (float(np.abs(new - fix).max()), None)
            continue
        conf = json.loads(str(case["config"]))
        fe = WavFrontend(
            cmvn_file=None,
            **{k: conf[k] for k in ("fs", "window", "n_mels", "frame_length", "frame_shift", "dither")},
            lfr_m=1,
            lfr_n=1,
        )
        feats, n = fe(wave[None], [wave.shape[0]])
        ours, n_ours = LiteFrontend.from_config(
            {k: conf[k] for k in conf if k not in ("cmvn_file", "frontend", "call")}
        ).compute_fbank(wave[None])
        same[name[:-4]] = bool(torch.equal(ours[0, : int(n_ours[0])], feats[0, : int(n[0])]))
        rows[name[:-4]] = spread(feats[0, : int(n[0])].numpy(), case["fbank"])
    print(
        json.dumps(
            {
                "setting": args.label,
                "torch": torch.__version__,
                "cases": {k: {"abs": a, "rel": r} for k, (a, r) in rows.items()},
                "same_as_funasr": same,
                "train_loss": train_loss_spread(),
                "paraformer": paraformer_spread(),
            }
        )
    )


def paraformer_spread() -> dict[str, float]:
    """Largest |FunASR now - fixture| per Paraformer/BiCif tensor, the model run on the fixture's
    own features (tests/fixtures/paraformer/*.npz, make_paraformer.py's steps)."""
    import make_paraformer as mp

    worst: dict[str, float] = {}
    folder = os.path.join(FIXTURES, "paraformer")
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".npz"):
            continue
        model_name = "bicif_paraformer_tiny" if name.startswith("bicif_paraformer_tiny_") else "paraformer_tiny"
        m = mp.build(model_name).model
        d = np.load(os.path.join(folder, name))
        feats = torch.from_numpy(d["feats"])[None]
        with torch.no_grad():
            enc, enc_lens = m.encode(feats, torch.tensor([feats.shape[1]]))
            embeds, token_num, alphas, peaks = m.calc_predictor(enc, enc_lens)
            ptl = token_num.round().long()
            dec, _ = m.cal_decoder_with_predictor(enc, enc_lens, embeds, ptl)
            got = {
                "encoder_out": enc[0],
                "alphas_tail": alphas[0],
                "cif_peak": peaks[0],
                "pre_acoustic_embeds": embeds[0],
                "decoder_logp": dec[0],
            }
            if "us_alphas" in d.files:
                _, _, us_alphas, us_peaks = m.calc_predictor_timestamp(enc, enc_lens, ptl)
                got.update(us_alphas=us_alphas[0], us_peaks=us_peaks[0])
        for key, value in got.items():
            ref = d[key]
            if tuple(value.shape) != ref.shape:
                worst[key] = float("inf")
                continue
            diff = float(np.abs(value.numpy().astype(np.float64) - ref).max()) if ref.size else 0.0
            worst[key] = max(worst.get(key, 0.0), diff)
    return worst


def train_loss_spread() -> dict[str, float]:
    """Largest |FunASR now - fixture| per loss statistic, sampled (r075) and unsampled (r0) cases."""
    import make_train_loss as mtl

    data = np.load(os.path.join(FIXTURES, "train_loss", "inputs.npz"))
    with open(os.path.join(FIXTURES, "train_loss", "losses.json")) as f:
        ref = json.load(f)["results"]
    worst: dict[str, float] = {}
    for name in mtl.MODELS:
        model = mtl.load(name)
        for key, res in ref[name].items():
            batch, ratio = key.split("_")[0], 0.75 if "_r075" in key else 0.0
            seed = int(key.split("seed")[1].split("_")[0]) if "seed" in key else 0
            feats = data[f"{batch}_feats_int8"].astype(np.float32) / 32.0
            flens, ys, ylens = (data[f"{batch}_{k}"] for k in ("feat_lens", "ys", "ys_lens"))
            items = [slice(None)] if not isinstance(res, list) else range(len(flens))
            refs = [res] if not isinstance(res, list) else res
            for i, r in zip(items, refs):
                if isinstance(i, int):
                    args = (feats[i : i + 1, : flens[i]], flens[i : i + 1], ys[i : i + 1, : ylens[i]], ylens[i : i + 1])
                else:
                    args = (feats, flens, ys, ylens)
                out = mtl.run(model, *args, ratio, seed)
                for stat, value in r.items():
                    tag = f"{batch}_{'r075' if ratio else 'r0'}.{stat}"
                    worst[tag] = max(worst.get(tag, 0.0), abs(out[stat] - value))
    return worst


if __name__ == "__main__":
    main()
