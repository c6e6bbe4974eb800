"""ONNX / TorchScript export of Paraformer and BiCif-Paraformer (funasr_lite.bin.export).

Expectations are independent of the exporter: FunASR 1.4.16's own export of the same weights
run by onnxruntime (tests/fixtures/export/*_funasr_onnx.npz), funasr-onnx 0.4.x decoding
FunASR's export and ours (funasr_onnx_runtime.json, *_runtime.npz; all made by
tools/make_fixtures/make_export.py), and our eager torch model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from funasr_lite.bin.export import main as export_main
from funasr_lite.errors import InputError, ModelError
from funasr_lite.export.paraformer import ParaformerExport
from funasr_lite.models.paraformer.build import load_paraformer

FIX = Path(__file__).parent / "fixtures"
MODELS = FIX / "models"
EXPORT_FIX = FIX / "export"
NAMES = ("paraformer_tiny", "bicif_paraformer_tiny")
TOL = 1e-5


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """name -> folder with model.onnx, model_quant.onnx and model.torchscript (+ side files)."""
    out = {}
    for name in NAMES:
        d = tmp_path_factory.mktemp(name)
        assert (
            export_main(["--model", str(MODELS / name), "--type", "onnx", "--quantize", "int8", "--output_dir", str(d)])
            == 0
        )
        assert export_main(["--model", str(MODELS / name), "--type", "torchscript", "--output_dir", str(d)]) == 0
        out[name] = d
    return out


def _session(path: Path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _run(sess, speech: np.ndarray, lengths: np.ndarray) -> dict[str, np.ndarray]:
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {"speech": speech, "speech_lengths": lengths.astype(np.int32)})))


def _cases(npz) -> dict[str, dict[str, np.ndarray]]:
    cases: dict[str, dict[str, np.ndarray]] = {}
    for key in npz.files:
        case, field = key.split(".", 1)
        cases.setdefault(case, {})[field] = npz[key]
    return cases


@pytest.mark.parametrize("name", NAMES)
def test_graph_interface_is_funasrs(exported, name):
    sess = _session(exported[name] / "model.onnx")
    assert [i.name for i in sess.get_inputs()] == ["speech", "speech_lengths"]
    expected = ["logits", "token_num"] + (["us_alphas", "us_cif_peak"] if name.startswith("bicif") else [])
    assert [o.name for o in sess.get_outputs()] == expected
    speech = sess.get_inputs()[0]
    assert speech.shape == ["batch_size", "feats_length", 560] and speech.type == "tensor(float)"
    assert sess.get_inputs()[1].type == "tensor(int32)" and sess.get_outputs()[1].type == "tensor(int32)"


@pytest.mark.parametrize("name", NAMES)
def test_graph_matches_funasr_export(exported, name):
    """Same inputs, same outputs as onnxruntime on FunASR's own model.onnx of the same weights."""
    sess = _session(exported[name] / "model.onnx")
    cases = _cases(np.load(EXPORT_FIX / f"{name}_funasr_onnx.npz"))
    assert len(cases) == 4
    for case, ref in cases.items():
        speech = ref["speech_x8"].astype(np.float32) / 8
        if "failed" in ref:  # no token at all: FunASR's graph raises (funasr-onnx reads that as silence); ours too
            with pytest.raises(Exception):  # noqa: B017 (onnxruntime's error classes are not public API)
                _run(sess, speech, ref["speech_lengths"])
            continue
        out = _run(sess, speech, ref["speech_lengths"])
        assert set(out) == {k for k in ref if k not in ("speech_x8", "speech_lengths")}
        np.testing.assert_array_equal(out["token_num"], ref["token_num"], err_msg=case)
        for key in out:
            assert out[key].shape == ref[key].shape, (case, key)
            np.testing.assert_allclose(out[key], ref[key], atol=TOL, rtol=0, err_msg=f"{case} {key}")
        np.testing.assert_array_equal(out["logits"].argmax(-1), ref["logits"].argmax(-1))


@pytest.mark.parametrize("name", NAMES)
def test_onnxruntime_matches_eager(exported, name):
    """A padded batch through onnxruntime: each item as the eager model decodes it alone."""
    model, _, _ = load_paraformer(MODELS / name)
    sess = _session(exported[name] / "model.onnx")
    g = torch.Generator().manual_seed(3)
    lens = [41, 12, 27]
    feats = torch.randn(len(lens), max(lens), 560, generator=g)
    out = _run(sess, feats.numpy(), np.array(lens))
    for i, n in enumerate(lens):
        eager = model.forward_outputs(feats[i : i + 1, :n], torch.tensor([n]))
        k = int(eager.pre_token_length[0])
        assert k > 0 and out["token_num"][i] == k
        np.testing.assert_allclose(out["logits"][i, :k], eager.decoder_logp[0].numpy(), atol=TOL, rtol=0)
        ids = [t for t in out["logits"][i, :k].argmax(-1).tolist() if t not in (0, 1, 2)]
        assert ids == model.greedy(eager)[0].token_ids
        if eager.us_alphas is not None:
            up = model.predictor.upsample_times
            np.testing.assert_allclose(out["us_alphas"][i, : n * up], eager.us_alphas[0].numpy(), atol=TOL, rtol=0)
            np.testing.assert_allclose(out["us_cif_peak"][i, : n * up], eager.us_peaks[0].numpy(), atol=TOL, rtol=0)
            assert not out["us_alphas"][i, n * up :].any()


@pytest.mark.parametrize("name", NAMES)
def test_funasr_onnx_runtime_record(exported, name):
    """funasr-onnx gave the same text/timestamps on our export as on FunASR's (recorded by the maker);
    our export today still gives FunASR's graph outputs on the features funasr-onnx computed."""
    record = json.loads((EXPORT_FIX / "funasr_onnx_runtime.json").read_text(encoding="utf-8"))["models"][name]
    assert len(record) == 4 and all(r["same"] for r in record)
    assert all(r["funasr_export"]["preds"] for r in record)
    if name.startswith("bicif"):
        assert all(r["our_export"]["timestamp"] for r in record)
    sess = _session(exported[name] / "model.onnx")
    cases = _cases(np.load(EXPORT_FIX / f"{name}_runtime.npz"))
    assert len(cases) == 2
    for case, ref in cases.items():
        out = _run(sess, ref["speech"], ref["speech_lengths"])
        for key in out:
            np.testing.assert_allclose(out[key], ref[key], atol=TOL, rtol=0, err_msg=f"{case} {key}")
        np.testing.assert_array_equal(out["logits"].argmax(-1), ref["logits"].argmax(-1))


@pytest.mark.parametrize("name", NAMES)
def test_torchscript_matches_eager(exported, name):
    model, _, _ = load_paraformer(MODELS / name)
    wrapper = ParaformerExport(model).eval()
    scripted = torch.jit.load(str(exported[name] / "model.torchscript"))
    g = torch.Generator().manual_seed(5)
    for lens in ([33, 19], [8]):
        feats = torch.randn(len(lens), max(lens), 560, generator=g)
        lengths = torch.tensor(lens, dtype=torch.int32)
        with torch.no_grad():
            want, got = wrapper(feats, lengths), scripted(feats, lengths)
        assert len(got) == len(want) == (4 if name.startswith("bicif") else 2)
        for a, b in zip(got, want):
            assert a.shape == b.shape and a.dtype == b.dtype
            torch.testing.assert_close(a, b, atol=TOL, rtol=0)
        for i, n in enumerate(lens):  # and the eager model on each item alone
            eager = model.forward_outputs(feats[i : i + 1, :n], torch.tensor([n]))
            k = int(eager.pre_token_length[0])
            torch.testing.assert_close(got[0][i, :k], eager.decoder_logp[0], atol=TOL, rtol=0)


@pytest.mark.parametrize("name", NAMES)
def test_quantized_graph(exported, name):
    """model_quant.onnx: FunASR's dynamic int8 MatMuls, output layers left in float; it decodes."""
    quant = onnx.load(str(exported[name] / "model_quant.onnx"))
    ops = [n.op_type for n in quant.graph.node]
    assert "MatMulInteger" in ops and "DynamicQuantizeLinear" in ops
    float_matmuls = [n.name for n in quant.graph.node if n.op_type == "MatMul"]
    assert any("output_layer" in n for n in float_matmuls)
    assert not any("MatMulInteger" == n.op_type and "output" in n.name for n in quant.graph.node)
    ref = _cases(np.load(EXPORT_FIX / f"{name}_runtime.npz"))["espeak_2p2s"]
    out = _run(_session(exported[name] / "model_quant.onnx"), ref["speech"], ref["speech_lengths"])
    assert out["logits"].shape[-1] == ref["logits"].shape[-1]
    assert np.isfinite(out["logits"]).all() and out["token_num"][0] > 0


@pytest.mark.parametrize("name", NAMES)
def test_output_folder(exported, name):
    """config.yaml that funasr-onnx accepts (no frontend_conf.cmvn_file, model_conf present), am.mvn, tokens.json."""
    d = exported[name]
    src_cfg = yaml.safe_load((MODELS / name / "config.yaml").read_text(encoding="utf-8"))
    cfg = yaml.safe_load((d / "config.yaml").read_text(encoding="utf-8"))
    assert "cmvn_file" not in cfg["frontend_conf"]
    assert cfg["frontend_conf"]["lfr_m"] == src_cfg["frontend_conf"]["lfr_m"] == 7
    assert cfg["model_conf"]["predictor_bias"] == src_cfg["model_conf"]["predictor_bias"]
    assert cfg["model"] == src_cfg["model"]
    assert (d / "am.mvn").read_bytes() == (MODELS / name / "am.mvn").read_bytes()
    assert json.loads((d / "tokens.json").read_text(encoding="utf-8")) == json.loads(
        (MODELS / name / "tokens.json").read_text(encoding="utf-8")
    )


def test_0x_folder_exports(tmp_path):
    """A 0.x-layout folder (model.pb, tokens.txt): 1.x names in config.yaml, tokens.json written, same graph."""
    out = tmp_path / "x"
    assert export_main(["--model", str(MODELS / "paraformer_tiny_0x"), "--output_dir", str(out)]) == 0
    cfg = yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8"))
    assert "cmvn_file" not in cfg.get("frontend_conf", {}) and "model_conf" in cfg
    tokens = (MODELS / "paraformer_tiny_0x" / "tokens.txt").read_text(encoding="utf-8").split()
    assert json.loads((out / "tokens.json").read_text(encoding="utf-8")) == tokens
    model, _, _ = load_paraformer(MODELS / "paraformer_tiny_0x")
    feats = torch.randn(1, 30, 560, generator=torch.Generator().manual_seed(7))
    got = _run(_session(out / "model.onnx"), feats.numpy(), np.array([30]))
    eager = model.forward_outputs(feats, torch.tensor([30]))
    k = int(eager.pre_token_length[0])
    np.testing.assert_allclose(got["logits"][0, :k], eager.decoder_logp[0].numpy(), atol=TOL, rtol=0)


def test_refusals(tmp_path, capsys):
    from funasr_lite.bin.export import export

    with pytest.raises(InputError, match="onnx only"):
        export(MODELS / "paraformer_tiny", tmp_path, "torchscript", "int8")
    with pytest.raises(ModelError, match="has no exporter"):
        export(MODELS / "seaco_paraformer_tiny", tmp_path, "onnx")
    assert export_main(["--model", str(MODELS / "seaco_paraformer_tiny"), "--output_dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("export: ") and "SeacoParaformer has no exporter" in err and "\n" not in err
