"""ONNX export golden fixtures: tests/fixtures/export/.

For each tiny model (tests/fixtures/models/{paraformer_tiny,bicif_paraformer_tiny}):

1. FunASR 1.4.16 exports it: ``AutoModel(model=dir).export(type="onnx", quantize=True)``.
   FunASR's export calls ``torch.onnx.export`` without ``dynamo=``, which on torch >= 2.9
   means the dynamo exporter, and that fails on FunASR's scripted CIF; the call is run with
   ``torch.onnx.export`` defaulting to ``dynamo=False`` (the legacy exporter FunASR was
   written for), nothing else changed.
2. onnxruntime runs FunASR's ``model.onnx`` on fixed seeded features (batches of one of
   several lengths, and a batch of two items of equal length); inputs and outputs go to
   ``<model>_funasr_onnx.npz`` (tests compare our export's graph with these to 1e-5).
3. funasr-onnx 0.4.x (``funasr_onnx.Paraformer``) decodes the waveforms of
   tests/fixtures/paraformer/<model>_*.npz twice: with FunASR's export (the model folder
   plus FunASR's model.onnx) and with ours (``python -m funasr_lite.bin.export``, run by the
   main interpreter). Text, timestamps and raw tokens of both, whether they are equal, the
   features funasr-onnx computed and FunASR's graph outputs on them (two clips) are recorded in
   ``funasr_onnx_runtime.json`` / ``<model>_runtime.npz``. funasr-onnx's post-processing
   keeps ``token_num - predictor_bias`` tokens (drops the end-of-sentence one).

Run:  tools/funasr_venv/bin/python tools/make_fixtures/make_export.py
      (needs funasr-onnx and onnxruntime in the venv: tools/funasr_venv/bin/pip install funasr-onnx onnxruntime)
"""

import functools
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import FIXTURES, REPO, save_npz

MODELS = os.path.join(FIXTURES, "models")
OUT = os.path.join(FIXTURES, "export")
NAMES = ("paraformer_tiny", "bicif_paraformer_tiny")
# the main interpreter (funasr_lite installed); the venv's base python by default
RUNTIME_CLIPS = ("espeak_2p2s", "sines_0p6s")  # features and graph outputs kept for these (fixture size)
MAIN_PYTHON = os.environ.get("FUNASR_LITE_PYTHON", sys._base_executable)


def funasr_export(name, out_dir):
    from funasr import AutoModel

    src = os.path.join(MODELS, name)
    shutil.copytree(src, out_dir)
    am = AutoModel(model=out_dir, disable_update=True, device="cpu", disable_pbar=True, log_level="ERROR")
    legacy = functools.partial(torch.onnx.export, dynamo=False)
    orig = torch.onnx.export
    torch.onnx.export = legacy
    try:
        am.export(type="onnx", quantize=True, output_dir=out_dir)
    finally:
        torch.onnx.export = orig
    assert os.path.isfile(os.path.join(out_dir, "model.onnx"))
    assert os.path.isfile(os.path.join(out_dir, "model_quant.onnx"))
    return out_dir


def fixed_inputs(feat_dim):
    """Cases: name -> (speech, speech_lengths). Features on a 1/8 grid (stored as int8: small fixtures)."""
    g = np.random.default_rng(20250617)
    cases = {}

    def feats(b, t):
        return (np.clip(np.round(g.standard_normal((b, t, feat_dim)) * 8), -127, 127) / 8).astype(np.float32)

    for t in (1, 9, 23):
        cases[f"b1_t{t}"] = (feats(1, t), np.array([t], np.int32))
    cases["b2_t14"] = (feats(2, 14), np.array([14, 14], np.int32))
    return cases


def run_graph(path, speech, lengths):
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {"speech": speech, "speech_lengths": lengths})))


def our_export(name, out_dir):
    subprocess.run(
        [
            MAIN_PYTHON,
            "-m",
            "funasr_lite.bin.export",
            "--model",
            os.path.join(MODELS, name),
            "--type",
            "onnx",
            "--output_dir",
            out_dir,
        ],
        check=True,
        cwd=REPO,
    )
    return out_dir


def jsonable(x):
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    if isinstance(x, np.generic):
        return x.item()
    return x


def main():
    import funasr
    import funasr_onnx
    import onnxruntime

    os.makedirs(OUT, exist_ok=True)
    runtime = {
        "funasr": funasr.__version__,
        "funasr_onnx": getattr(funasr_onnx, "__version__", "0.4.x"),
        "onnxruntime": onnxruntime.__version__,
        "torch": torch.__version__,
        "models": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name in NAMES:
            fdir = funasr_export(name, os.path.join(tmp, f"{name}_funasr"))
            odir = our_export(name, os.path.join(tmp, f"{name}_ours"))
            graph = os.path.join(fdir, "model.onnx")
            arrays = {}
            feat_dim = 560
            for case, (speech, lengths) in fixed_inputs(feat_dim).items():
                arrays[f"{case}.speech_x8"] = (speech * 8).astype(np.int8)
                arrays[f"{case}.speech_lengths"] = lengths
                try:
                    outs = run_graph(graph, speech, lengths)
                except Exception as e:  # no token at all: FunASR's graph fails (funasr-onnx: "silence")
                    print(name, case, "FunASR's graph fails:", str(e)[-80:])
                    arrays[f"{case}.failed"] = np.array(1)
                    continue
                for k, v in outs.items():
                    arrays[f"{case}.{k}"] = v
            save_npz(os.path.join(OUT, f"{name}_funasr_onnx.npz"), **arrays)

            # funasr-onnx on both exports
            rt_arrays, records = {}, []
            for clip in sorted(glob.glob(os.path.join(FIXTURES, "paraformer", f"{name}_*.npz"))):
                key = os.path.basename(clip)[len(name) + 1 : -4]
                wav = np.load(clip)["waveform"].astype(np.float32)
                res = {}
                for side, d in (("funasr_export", fdir), ("our_export", odir)):
                    for quant in (False, True):
                        if quant and side == "our_export":
                            continue
                        m = funasr_onnx.Paraformer(d, batch_size=1, quantize=quant, intra_op_num_threads=1)
                        out = m(wav)[0]
                        res[side + ("_quant" if quant else "")] = jsonable(out)
                        if side == "funasr_export" and not quant and key in RUNTIME_CLIPS:
                            feats, feats_len = m.extract_feat([wav])
                            rt_arrays[f"{key}.speech"] = feats
                            rt_arrays[f"{key}.speech_lengths"] = feats_len
                            for k, v in run_graph(os.path.join(d, "model.onnx"), feats, feats_len).items():
                                rt_arrays[f"{key}.{k}"] = v
                records.append({"clip": key, **res, "same": res["funasr_export"] == res["our_export"]})
                print(name, key, "same" if records[-1]["same"] else "DIFFERENT", res["our_export"])
            save_npz(os.path.join(OUT, f"{name}_runtime.npz"), **rt_arrays)
            runtime["models"][name] = records
    with open(os.path.join(OUT, "funasr_onnx_runtime.json"), "w", encoding="utf-8") as f:
        json.dump(runtime, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
