"""FunASR-side references for the FSMN-VAD, CT-Transformer and CAM++ exports (issue 17 item 1).

    tools/funasr_venv/bin/pip install funasr-onnx onnxruntime onnx   # once
    bash tools/fetch_fsmn_vad.sh tools/fsmn_vad                      # the real VAD checkpoint
    tools/funasr_venv/bin/python tools/make_fixtures/make_export_vad_punc_spk.py

Writes tests/fixtures/export_vad_punc_spk/:

- ``refs.npz``: fixed inputs and what FunASR's own ONNX export gives on them in onnxruntime:
  - ``vad_*``: ``AutoModel(model=tools/fsmn_vad).export(type="onnx")`` (the real checkpoint: FunASR's
    VAD export hard-codes 4 cache inputs, so the 2-layer ``fsmn_vad_tiny`` cannot be exported by
    FunASR) on ``vad_speech`` (1, 24, 400) and ``vad_in_cache0..3``: ``vad_logits``,
    ``vad_out_cache0..3``.
  - ``punc_<zh|cnen>_*``: ``AutoModel(model=ct_transformer[_cnen]_tiny).export(type="onnx")`` on a
    padded int32 batch ``_inputs`` / ``_lengths``: ``_logits`` (valid positions are what counts).
  - ``cam_*``: FunASR has no CAM++ export; FunASR's own ``CAMPPlus`` module (``campplus_tiny``)
    exported with 3D-Speaker's recipe (``feature`` -> ``embedding``, dynamic batch and frames) on
    ``cam_feature`` (2, 120, 80): ``cam_embedding_onnx``, and FunASR's eager output
    ``cam_embedding_eager``.
- ``funasr_onnx.json``: ``funasr_onnx`` (FunASR's onnxruntime package) run unchanged on FunASR's
  export folder and on funasr_lite's export folder (``funasr_lite.bin.export``, imported from this
  checkout): ``Fsmn_vad`` segments of the VAD probe clip (``tests/fixtures/vad/probs.npz``
  ``probe_waveform``), ``CT_Transformer`` text and label ids of a few sentences, and ``same``
  (equal results on both folders); ``quant_*``: the same with ``quantize=True`` (the
  ``model_quant.onnx`` of both folders). funasr_lite's export is also run where FunASR cannot export
  (``fsmn_vad_tiny``); those entries have only ``funasr_lite``. funasr_onnx 0.4.3's ``Fsmn_vad``
  needs a one-line numpy-2 shim here (see ``_fsmn_vad_class``).

torch 2.13 defaults ``torch.onnx.export`` to the dynamo exporter, which FunASR's export code
predates; FunASR's export is run with ``dynamo=False`` (the TorchScript exporter it was written for).
"""

import functools
import json
import logging
import os
import shutil
import sys
import tempfile
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import FIXTURES, REPO, save_npz  # noqa: E402

sys.path.insert(0, REPO)
logging.disable(logging.WARNING)
warnings.filterwarnings("ignore")

OUT = os.path.join(FIXTURES, "export_vad_punc_spk")
MODELS = os.path.join(FIXTURES, "models")
VAD_REAL = os.path.join(REPO, "tools", "fsmn_vad")

PUNC_TEXTS = {
    "zh": [
        "你好世界",
        "今天天气很好我们去公园散步吧明天上午九点在三号会议室开会请准时参加如果有任何问题请随时和我联系",
    ],
    "cnen": ["你好世界", "我们用 python 写代码然后在 GPU 上训练模型 this is a test 结果很好"],
}


def _funasr_export(src: str, work: str) -> str:
    """FunASR's own ONNX export (+ int8) of a copy of ``src``; returns the folder (model[_quant].onnx added)."""
    from funasr import AutoModel

    dst = os.path.join(work, "funasr_" + os.path.basename(src))
    shutil.copytree(src, dst)
    orig = torch.onnx.export
    torch.onnx.export = functools.partial(orig, dynamo=False)
    try:
        model = AutoModel(model=dst, disable_update=True, device="cpu")
        try:
            model.export(type="onnx", quantize=True, output_dir=dst)
        except TypeError as e:  # the cn-en model keeps jieba on the model: deepcopy cannot pickle it
            if "pickle" not in str(e):
                raise
            from funasr.utils import export_utils

            kwargs = {**model.kwargs, "type": "onnx", "quantize": True, "output_dir": dst, "device": "cpu"}
            kwargs.pop("model", None)
            with torch.no_grad():  # AutoModel.export's own call, without its deepcopy
                export_utils.export(model=model.model.eval(), data_in=None, **kwargs)
    finally:
        torch.onnx.export = orig
    return dst


def _ours(src: str, work: str) -> str:
    """funasr_lite's export (``funasr_lite.bin.export``, this checkout, + int8) of ``src``."""
    from funasr_lite.bin.export import export

    dst = os.path.join(work, "lite_" + os.path.basename(src))
    export(src, dst, "onnx", "int8")
    return dst


def _session(folder: str):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(os.path.join(folder, "model.onnx"), so, providers=["CPUExecutionProvider"])


def _probe_wave() -> np.ndarray:
    wav = np.load(os.path.join(FIXTURES, "vad", "probs.npz"))["probe_waveform"]
    return (wav.astype(np.float32) / 32768.0).astype(np.float32)


def _fsmn_vad_class():
    """``funasr_onnx.Fsmn_vad`` with one numpy-2 shim: its ``__call__`` does ``int(feats_len)`` on
    the (1,) length array, which numpy >= 2.3 refuses; ``extract_feat`` returns it 0-d instead.
    Graph inputs, caches, chunking and decisions are funasr_onnx's, unchanged."""
    from funasr_onnx import Fsmn_vad

    class FsmnVad(Fsmn_vad):
        def extract_feat(self, waveform_list):
            feats, feats_len = super().extract_feat(waveform_list)
            assert feats_len.shape == (1,)
            return feats, feats_len.reshape(())

    return FsmnVad


def vad_refs(work: str, arrays: dict, report: dict) -> None:
    Fsmn_vad = _fsmn_vad_class()
    rng = np.random.default_rng(17)
    fx = _funasr_export(VAD_REAL, work)
    sess = _session(fx)
    speech = rng.standard_normal((1, 24, 400)).astype(np.float32)
    caches = [(0.5 * rng.standard_normal((1, 128, 19, 1))).astype(np.float32) for _ in range(4)]
    outs = sess.run(None, {"speech": speech, **{f"in_cache{i}": c for i, c in enumerate(caches)}})
    arrays["vad_speech"] = speech
    arrays["vad_logits"] = outs[0]
    for i, c in enumerate(caches):
        arrays[f"vad_in_cache{i}"] = c
        arrays[f"vad_out_cache{i}"] = outs[1 + i]
    report["vad_graph"] = {
        "inputs": [i.name for i in sess.get_inputs()],
        "outputs": [o.name for o in sess.get_outputs()],
    }
    wave = _probe_wave()
    ours = _ours(VAD_REAL, work)
    seg_funasr = Fsmn_vad(fx, intra_op_num_threads=1)(wave)
    seg_ours = Fsmn_vad(ours, intra_op_num_threads=1)(wave)
    q_funasr = _plain(Fsmn_vad(fx, quantize=True, intra_op_num_threads=1)(wave))
    q_ours = _plain(Fsmn_vad(ours, quantize=True, intra_op_num_threads=1)(wave))
    report["vad_fsmn_vad"] = {
        "clip": "vad/probs.npz probe_waveform",
        "funasr_export": _plain(seg_funasr),
        "funasr_lite": _plain(seg_ours),
        "same": _plain(seg_funasr) == _plain(seg_ours),
        "quant_funasr_export": q_funasr,
        "quant_funasr_lite": q_ours,
        "quant_same": q_funasr == q_ours,
    }
    tiny = _ours(os.path.join(MODELS, "fsmn_vad_tiny"), work)
    report["vad_tiny_fsmn_vad"] = {"funasr_lite": _plain(Fsmn_vad(tiny, intra_op_num_threads=1)(wave))}


def punc_refs(work: str, arrays: dict, report: dict) -> None:
    from funasr_onnx import CT_Transformer

    rng = np.random.default_rng(18)
    for tag, name in (("zh", "ct_transformer_tiny"), ("cnen", "ct_transformer_cnen_tiny")):
        src = os.path.join(MODELS, name)
        fx = _funasr_export(src, work)
        sess = _session(fx)
        vocab = len(json.load(open(os.path.join(src, "tokens.json"), encoding="utf-8")))
        lengths = np.array([25, 17, 9], dtype=np.int32)
        inputs = rng.integers(0, vocab, (3, 25)).astype(np.int32)
        for row, n in enumerate(lengths):
            inputs[row, n:] = 0
        (logits,) = sess.run(None, {"inputs": inputs, "text_lengths": lengths})
        arrays[f"punc_{tag}_inputs"] = inputs
        arrays[f"punc_{tag}_lengths"] = lengths
        arrays[f"punc_{tag}_logits"] = logits
        ours = _ours(src, work)
        theirs_rt, ours_rt = CT_Transformer(fx, intra_op_num_threads=1), CT_Transformer(ours, intra_op_num_threads=1)
        theirs_q = CT_Transformer(fx, quantize=True, intra_op_num_threads=1)
        ours_q = CT_Transformer(ours, quantize=True, intra_op_num_threads=1)
        cases = []
        for text in PUNC_TEXTS[tag]:
            a, b = theirs_rt(text), ours_rt(text)
            a, b = [a[0], _plain(a[1])], [b[0], _plain(b[1])]
            qa, qb = theirs_q(text), ours_q(text)
            qa, qb = [qa[0], _plain(qa[1])], [qb[0], _plain(qb[1])]
            cases.append({"input": text, "funasr_export": a, "funasr_lite": b, "same": a == b, "quant_same": qa == qb})
        report[f"punc_{tag}_ct_transformer"] = {
            "model": name,
            "cases": cases,
            "same": all(c["same"] for c in cases),
            "quant_same": all(c["quant_same"] for c in cases),
        }


def cam_refs(work: str, arrays: dict, report: dict) -> None:
    from funasr import AutoModel

    rng = np.random.default_rng(19)
    model = AutoModel(model=os.path.join(MODELS, "campplus_tiny"), disable_update=True, device="cpu").model.eval()
    path = os.path.join(work, "funasr_campplus.onnx")
    with torch.no_grad():
        torch.onnx.export(  # 3D-Speaker's export_speaker_embedding_onnx.py recipe, opset 14
            model,
            torch.randn(1, 345, 80),
            path,
            export_params=True,
            opset_version=14,
            do_constant_folding=True,
            input_names=["feature"],
            output_names=["embedding"],
            dynamic_axes={"feature": {0: "batch_size", 1: "frame_num"}, "embedding": {0: "batch_size"}},
            dynamo=False,
        )
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feature = rng.standard_normal((2, 120, 80)).astype(np.float32)
    arrays["cam_feature"] = feature
    arrays["cam_embedding_onnx"] = sess.run(None, {"feature": feature})[0]
    with torch.no_grad():
        arrays["cam_embedding_eager"] = model(torch.from_numpy(feature)).numpy()


def _plain(x):
    """JSON-friendly copy (numpy scalars and arrays to Python)."""
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def main() -> None:
    import funasr
    import funasr_onnx  # noqa: F401
    import onnxruntime

    if not os.path.isfile(os.path.join(VAD_REAL, "model.pt")):
        raise SystemExit(f"{VAD_REAL} missing: bash tools/fetch_fsmn_vad.sh {VAD_REAL}")
    torch.set_num_threads(1)
    arrays: dict = {}
    report: dict = {
        "funasr": funasr.__version__,
        "torch": torch.__version__.split("+")[0],
        "onnxruntime": onnxruntime.__version__,
    }
    work = tempfile.mkdtemp(prefix="export_refs_")
    try:
        vad_refs(work, arrays, report)
        punc_refs(work, arrays, report)
        cam_refs(work, arrays, report)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    os.makedirs(OUT, exist_ok=True)
    save_npz(os.path.join(OUT, "refs.npz"), **arrays)
    with open(os.path.join(OUT, "funasr_onnx.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, ensure_ascii=False, indent=2)
        f.write("\n")
    print(json.dumps({k: v for k, v in report.items()}, ensure_ascii=False)[:3000])


if __name__ == "__main__":
    main()
