"""ONNX / TorchScript export of FSMN-VAD, CT-Transformer (zh, cn-en) and CAM++ (issue 17 item 1).

References (tests/fixtures/export_vad_punc_spk/, tools/make_fixtures/make_export_vad_punc_spk.py,
FunASR 1.4.16 side venv):
- ``refs.npz``: FunASR's own ONNX export of the same weights run in onnxruntime on fixed inputs
  (VAD: the real checkpoint with its four cache inputs; punctuation: the tiny zh and cn-en folders;
  CAM++: FunASR has no export, so FunASR's ``CAMPPlus`` module exported with 3D-Speaker's recipe,
  plus its eager output);
- ``funasr_onnx.json``: funasr-onnx run unchanged on FunASR's export folder and on ours.
The exports are built here, at test time, from the tiny folders and tools/fsmn_vad.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from funasr_lite.bin.export import export, main  # noqa: E402
from funasr_lite.frontend.fbank import campplus_fbank  # noqa: E402
from funasr_lite.models.campplus import load_campplus  # noqa: E402
from funasr_lite.models.ct_transformer import CTTransformerPunc, load_punc_model  # noqa: E402
from funasr_lite.models.fsmn_vad import FsmnVAD, load_fsmn_vad  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "tests" / "fixtures" / "models"
FIX = REPO / "tests" / "fixtures" / "export_vad_punc_spk"
REFS = np.load(FIX / "refs.npz")
RT = json.loads((FIX / "funasr_onnx.json").read_text(encoding="utf-8"))
PUNC = {"zh": "ct_transformer_tiny", "cnen": "ct_transformer_cnen_tiny"}
TOL = {"rtol": 1e-5, "atol": 1e-5}


@pytest.fixture(scope="module")
def exports(tmp_path_factory, vad_dir) -> dict[str, Path]:
    """Each folder exported once (bin/export.py): ONNX + int8, then TorchScript, into one folder."""
    root = tmp_path_factory.mktemp("exports")
    jobs = {
        "vad": vad_dir,
        "vad_tiny": MODELS / "fsmn_vad_tiny",
        "vad_8k_tiny": MODELS / "fsmn_vad_8k_tiny",
        "zh": MODELS / PUNC["zh"],
        "cnen": MODELS / PUNC["cnen"],
        "cam": MODELS / "campplus_tiny",
    }
    for name, src in jobs.items():
        files = export(src, root / name, "onnx", "int8")
        assert {f.name for f in files} >= {"model.onnx", "model_quant.onnx", "config.yaml"}
        assert "model.torchscript" in {f.name for f in export(src, root / name, "torchscript")}
    return {name: root / name for name in jobs}


def _session(folder: Path, name: str = "model.onnx") -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(str(folder / name), so, providers=["CPUExecutionProvider"])


def _probe_wave() -> np.ndarray:
    wav = np.load(REPO / "tests" / "fixtures" / "vad" / "probs.npz")["probe_waveform"]
    return wav.astype(np.float32) / 32768.0


# ---------------------------------------------------------------- folder layout and graph signature


@pytest.mark.parametrize(
    ("name", "files"),
    [
        ("vad", {"config.yaml", "am.mvn"}),
        ("vad_tiny", {"config.yaml", "am.mvn"}),
        ("vad_8k_tiny", {"config.yaml", "am.mvn"}),
        ("zh", {"config.yaml", "tokens.json"}),
        ("cnen", {"config.yaml", "tokens.json", "jieba_usr_dict"}),
        ("cam", {"config.yaml"}),
    ],
)
def test_folder_layout(exports, name, files):
    got = {p.name for p in exports[name].iterdir()}
    assert got == files | {"model.onnx", "model_quant.onnx", "model.torchscript"}


def test_side_files_are_the_source_folders(exports, vad_dir):
    from funasr_lite.yamlio import read_yaml

    config = read_yaml(exports["vad"] / "config.yaml")
    assert config["model"] == "FsmnVADStreaming"  # FunASR's class name, as FunASR's export leaves it
    assert config["encoder_conf"] == read_yaml(vad_dir / "config.yaml")["encoder_conf"]
    assert (exports["vad"] / "am.mvn").read_bytes() == (vad_dir / "am.mvn").read_bytes()
    src = MODELS / PUNC["cnen"]
    assert (exports["cnen"] / "jieba_usr_dict").read_bytes() == (src / "jieba_usr_dict").read_bytes()
    tokens = json.loads((exports["cnen"] / "tokens.json").read_text(encoding="utf-8"))
    assert tokens == json.loads((src / "tokens.json").read_text(encoding="utf-8"))


def test_cli_exports_a_vad_folder(tmp_path, capsys):
    assert main(["--model", str(MODELS / "fsmn_vad_tiny"), "--type", "onnx", "--output_dir", str(tmp_path)]) == 0
    assert (tmp_path / "model.onnx").is_file() and str(tmp_path / "model.onnx") in capsys.readouterr().out


def test_vad_signature_is_funasrs(exports):
    sess = _session(exports["vad"])
    assert RT["vad_graph"]["inputs"] == [i.name for i in sess.get_inputs()]
    assert RT["vad_graph"]["outputs"] == [o.name for o in sess.get_outputs()]
    speech = sess.get_inputs()[0]
    assert speech.shape == [1, "feats_length", 400]
    assert [i.shape for i in sess.get_inputs()[1:]] == [[1, 128, 19, 1]] * 4
    tiny = _session(exports["vad_tiny"])  # one cache per FSMN layer (FunASR hard-codes four)
    assert [i.name for i in tiny.get_inputs()] == ["speech", "in_cache0", "in_cache1"]
    assert [o.name for o in tiny.get_outputs()] == ["logits", "out_cache0", "out_cache1"]


@pytest.mark.parametrize("name", ["zh", "cnen", "cam"])
def test_signature_and_dynamic_axes(exports, name):
    sess = _session(exports[name])
    ins = [(i.name, i.shape, i.type) for i in sess.get_inputs()]
    outs = [(o.name, o.shape) for o in sess.get_outputs()]
    if name == "cam":
        assert ins == [("feature", ["batch_size", "frame_num", 80], "tensor(float)")]
        assert outs == [("embedding", ["batch_size", 16])]
    else:
        assert ins == [
            ("inputs", ["batch_size", "feats_length"], "tensor(int32)"),
            ("text_lengths", ["batch_size"], "tensor(int32)"),
        ]
        assert outs == [("logits", ["batch_size", "logits_length", 6])]


# ---------------------------------------------------------------- our graph == FunASR's export


def test_vad_onnx_matches_funasr_export(exports):
    feed = {"speech": REFS["vad_speech"], **{f"in_cache{i}": REFS[f"vad_in_cache{i}"] for i in range(4)}}
    outs = _session(exports["vad"]).run(None, feed)
    np.testing.assert_allclose(outs[0], REFS["vad_logits"], **TOL)
    for i in range(4):
        np.testing.assert_allclose(outs[1 + i], REFS[f"vad_out_cache{i}"], **TOL)


@pytest.mark.parametrize("tag", ["zh", "cnen"])
def test_punc_onnx_matches_funasr_export(exports, tag):
    ids, lens = REFS[f"punc_{tag}_inputs"], REFS[f"punc_{tag}_lengths"]
    (logits,) = _session(exports[tag]).run(None, {"inputs": ids, "text_lengths": lens})
    ref = REFS[f"punc_{tag}_logits"]
    for row, n in enumerate(lens):  # padded positions are arbitrary in FunASR's graph
        np.testing.assert_allclose(logits[row, :n], ref[row, :n], **TOL)


def test_campplus_onnx_matches_funasr(exports):
    (emb,) = _session(exports["cam"]).run(None, {"feature": REFS["cam_feature"]})
    np.testing.assert_allclose(emb, REFS["cam_embedding_onnx"], **TOL)
    np.testing.assert_allclose(emb, REFS["cam_embedding_eager"], **TOL)


# ---------------------------------------------------------------- onnxruntime == our eager model


class _OrtFsmn(torch.nn.Module):
    """Stands in for ``FsmnVAD.encoder``: the exported graph, caches carried as FunASR's runtimes do."""

    def __init__(self, sess: ort.InferenceSession) -> None:
        super().__init__()
        self.sess = sess
        self.cache_shapes = [i.shape for i in sess.get_inputs()[1:]]
        self.calls = 0

    def forward(self, feats: torch.Tensor, cache):
        if cache is None:
            cache = [np.zeros(s, np.float32) for s in self.cache_shapes]
        feed = {"speech": feats.numpy()} | {f"in_cache{i}": np.asarray(c) for i, c in enumerate(cache)}
        outs = self.sess.run(None, feed)
        self.calls += 1
        return torch.from_numpy(outs[0]), outs[1:]


class _CpuVAD(FsmnVAD):
    @property
    def device(self) -> torch.device:
        return torch.device("cpu")


def _onnx_vad(folder: Path, model_dir: Path, name: str = "model.onnx") -> FsmnVAD:
    vad = load_fsmn_vad(model_dir)
    vad.encoder = _OrtFsmn(_session(folder, name))
    vad.__class__ = _CpuVAD
    return vad


@pytest.mark.parametrize("name", ["vad", "vad_tiny", "vad_8k_tiny"])
def test_vad_onnx_equals_eager_over_chunks(exports, vad_dir, name):
    src = vad_dir if name == "vad" else MODELS / name.replace("vad", "fsmn_vad")
    eager, onnx_vad = load_fsmn_vad(src), _onnx_vad(exports[name], src)
    wave = _probe_wave()
    if eager.sample_rate == 8000:
        wave = wave[::2].copy()  # a 4 s clip at the model's rate (aliasing is irrelevant here)
    cols = tuple(range(248))
    a = eager.frame_scores(wave, chunk_size_ms=700, sil_pdf_ids=cols)  # 6 chunks: the caches carry over
    b = onnx_vad.frame_scores(wave, chunk_size_ms=700, sil_pdf_ids=cols)
    assert onnx_vad.encoder.calls == 6 and a.chunk_ends == b.chunk_ends
    np.testing.assert_allclose(b.sil_probs, a.sil_probs, **TOL)
    assert onnx_vad.segments(wave) == eager.segments(wave)


def test_vad_segments_onnx_equal_eager_and_funasr_onnx(exports, vad_dir):
    wave = _probe_wave()
    rec = RT["vad_fsmn_vad"]
    assert rec["same"] and rec["funasr_lite"] == rec["funasr_export"]  # funasr-onnx: our folder == FunASR's
    assert rec["quant_same"] and rec["quant_funasr_lite"] == rec["funasr_export"]  # model_quant.onnx too
    eager = load_fsmn_vad(vad_dir).segments(wave)
    assert _onnx_vad(exports["vad"], vad_dir).segments(wave) == eager
    assert [eager] == rec["funasr_export"] == [[[140, 3980]]]
    tiny = load_fsmn_vad(MODELS / "fsmn_vad_tiny").segments(wave)
    assert _onnx_vad(exports["vad_tiny"], MODELS / "fsmn_vad_tiny").segments(wave) == tiny
    assert [tiny] == RT["vad_tiny_fsmn_vad"]["funasr_lite"]


def test_vad_quantized_keeps_the_segments(exports, vad_dir):
    wave = _probe_wave()
    quant = _onnx_vad(exports["vad"], vad_dir, "model_quant.onnx")
    assert quant.segments(wave) == load_fsmn_vad(vad_dir).segments(wave)


@pytest.mark.parametrize("tag", ["zh", "cnen"])
def test_punc_onnx_equals_eager(exports, tag):
    model = load_punc_model(MODELS / PUNC[tag]).model
    sess = _session(exports[tag])
    rng = np.random.default_rng(7)
    lens = np.array([31, 5, 18], dtype=np.int32)
    ids = rng.integers(0, model.embed.num_embeddings, (3, 31)).astype(np.int32)
    (logits,) = sess.run(None, {"inputs": ids, "text_lengths": lens})
    with torch.no_grad():
        ref = model(torch.from_numpy(ids).long(), torch.from_numpy(lens)).numpy()
    for row, n in enumerate(lens):
        np.testing.assert_allclose(logits[row, :n], ref[row, :n], **TOL)


class _OrtPunc(torch.nn.Module):
    def __init__(self, sess: ort.InferenceSession) -> None:
        super().__init__()
        self.sess = sess

    def forward(self, ids: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        feed = {"inputs": ids.numpy().astype(np.int32), "text_lengths": lens.numpy().astype(np.int32)}
        return torch.from_numpy(self.sess.run(None, feed)[0])


class _CpuPunc(CTTransformerPunc):
    @property
    def device(self) -> torch.device:
        return torch.device("cpu")


@pytest.mark.parametrize("tag", ["zh", "cnen"])
def test_punctuation_onnx_same_text_and_ids(exports, tag):
    eager = load_punc_model(MODELS / PUNC[tag])
    onnx_punc = load_punc_model(MODELS / PUNC[tag])
    onnx_punc.model = _OrtPunc(_session(exports[tag]))
    onnx_punc.__class__ = _CpuPunc
    rec = RT[f"punc_{tag}_ct_transformer"]
    assert rec["same"] and rec["quant_same"]  # funasr-onnx: our folder gives FunASR's export's text and ids
    for case in rec["cases"]:
        assert case["funasr_lite"] == case["funasr_export"]
        got, ref = onnx_punc.punctuate(case["input"]), eager.punctuate(case["input"])
        assert (got.text, got.punc_array) == (ref.text, ref.punc_array)
        assert ref.text == case["funasr_export"][0]  # funasr-onnx's text on FunASR's export
        if tag == "zh":  # funasr-onnx's ids are per word: per character only for the zh model
            assert ref.punc_array == case["funasr_export"][1]


def test_campplus_onnx_equals_eager_on_real_fbank(exports):
    model = load_campplus(MODELS / "campplus_tiny")
    sess = _session(exports["cam"])
    wave = torch.from_numpy(_probe_wave())
    for n in (24000, 64000):  # 1.5 s (a diarization chunk) and the whole 4 s clip
        feats = campplus_fbank(wave[:n]).unsqueeze(0)
        (emb,) = sess.run(None, {"feature": feats.numpy()})
        with torch.no_grad():
            ref = model(feats).numpy()
        np.testing.assert_allclose(emb, ref, **TOL)
        cos = float(emb[0] @ ref[0] / np.linalg.norm(emb[0]) / np.linalg.norm(ref[0]))
        assert cos > 1 - 1e-6
    quant = _session(exports["cam"], "model_quant.onnx")
    assert quant.run(None, {"feature": feats.numpy()})[0].shape == (1, 16)


# ---------------------------------------------------------------- TorchScript == eager


def test_torchscript_equals_eager(exports, vad_dir):
    torch.manual_seed(0)
    vad = load_fsmn_vad(vad_dir).encoder
    ts = torch.jit.load(str(exports["vad"] / "model.torchscript"))
    x = torch.randn(1, 57, 400)
    caches = [0.5 * torch.randn(1, 128, 19, 1) for _ in range(4)]
    with torch.no_grad():
        got = ts(x, *caches)
        probs, new_caches = vad(x, caches)
    torch.testing.assert_close(got[0], probs, **TOL)
    for a, b in zip(got[1:], new_caches):
        torch.testing.assert_close(a, b, **TOL)

    for tag in ("zh", "cnen"):
        model = load_punc_model(MODELS / PUNC[tag]).model
        ts = torch.jit.load(str(exports[tag] / "model.torchscript"))
        ids = torch.randint(0, model.embed.num_embeddings, (2, 23), dtype=torch.int32)
        lens = torch.tensor([23, 11], dtype=torch.int32)
        with torch.no_grad():
            got, ref = ts(ids, lens), model(ids.long(), lens)
        for row, n in enumerate(lens.tolist()):
            torch.testing.assert_close(got[row, :n], ref[row, :n], **TOL)

    cam = load_campplus(MODELS / "campplus_tiny")
    ts = torch.jit.load(str(exports["cam"] / "model.torchscript"))
    feats = torch.randn(2, 173, 80)
    with torch.no_grad():
        torch.testing.assert_close(ts(feats), cam(feats), **TOL)
