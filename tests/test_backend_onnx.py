"""``backend="onnxruntime"``: the ASR model as our exported ONNX graph (funasr_lite/backends/).

The same results as the torch backend and as FunASR 1.4.16's generate() (tests/fixtures/paraformer,
as in test_asr_entry_points.py), one by one and batched; through the long-audio pipeline with the
real FSMN-VAD (tools/fsmn_vad) and punctuation, against the torch backend; export folders used as
they are (``model_quant.onnx`` with ``quantize="int8"``); and one-line refusals.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from funasr_lite import AutoModel
from funasr_lite.backends import check_backend
from funasr_lite.bin import inference
from funasr_lite.bin.export import main as export_main
from funasr_lite.errors import ModelError

REPO = Path(__file__).resolve().parents[1]
FIX = REPO / "tests" / "fixtures"
MODELS = ("paraformer_tiny", "bicif_paraformer_tiny")
CLIPS = ("sines_0p6s", "espeak_1p3s", "espeak_2p2s", "speechlike_3p5s")
GENERATE = json.loads((FIX / "paraformer" / "generate.json").read_text(encoding="utf-8"))
VAD = REPO / "tools" / "fsmn_vad"
PUNC = FIX / "models" / "ct_transformer_tiny"


@pytest.fixture(scope="module", autouse=True)
def onnx_cache(tmp_path_factory):
    """Exports on the fly go to a temporary cache, not the user's."""
    mp = pytest.MonkeyPatch()
    cache = tmp_path_factory.mktemp("cache")
    mp.setenv("FUNASR_LITE_CACHE", str(cache))
    yield cache
    mp.undo()


def _wave(model: str, clip: str) -> np.ndarray:
    return np.load(FIX / "paraformer" / f"{model}_{clip}.npz")["waveform"]


@pytest.fixture(scope="module", params=MODELS)
def pair(request) -> tuple[str, AutoModel, AutoModel]:
    """(name, torch AutoModel, onnxruntime AutoModel)."""
    path = str(FIX / "models" / request.param)
    return request.param, AutoModel(model=path), AutoModel(model=path, backend="onnxruntime")


def test_generate_matches_funasr_one_by_one(pair) -> None:
    name, _, m = pair
    assert type(m.recognizer.model).__name__ == "OnnxParaformer"
    for clip in CLIPS:
        ref = GENERATE[f"{name}_{clip}"]
        got = m.generate(input=_wave(name, clip), key=ref["key"])[0]
        assert got == {k: ref[k] for k in ("key", "text", "timestamp") if k in ref}, clip


def test_generate_batched_matches_funasr_and_torch(pair) -> None:
    name, torch_m, m = pair
    waves = [_wave(name, c) for c in CLIPS]
    got = m.generate(input=waves, key=list(CLIPS))
    assert got == torch_m.generate(input=waves, key=list(CLIPS))
    for clip, g in zip(CLIPS, got):
        ref = GENERATE[f"{name}_{clip}"]
        assert (g["text"], g.get("timestamp")) == (ref["text"], ref.get("timestamp")), clip


def test_recognitions_equal_torch_backend(pair) -> None:
    """Token ids, tokens, timestamps equal; scores to 1e-4 (float graph vs eager), batched and alone."""
    name, torch_m, m = pair
    items = [(c, _wave(name, c)) for c in CLIPS]
    for batch_size_token in (6000, 1):  # one padded batch; one utterance per batch
        m.recognizer.batch_size_token = torch_m.recognizer.batch_size_token = batch_size_token
        got = {r.key: r for b in m.recognizer.recognize(items) for r in b}
        ref = {r.key: r for b in torch_m.recognizer.recognize(items) for r in b}
        for clip in CLIPS:
            g, r = got[clip], ref[clip]
            assert (g.token_ids, g.tokens, g.text, g.timestamp) == (r.token_ids, r.tokens, r.text, r.timestamp)
            assert g.score == pytest.approx(r.score, abs=1e-4)
    m.recognizer.batch_size_token = torch_m.recognizer.batch_size_token = 6000


def test_batch_without_tokens_is_empty_as_in_torch(pair) -> None:
    """The graph raises when no item fires a token (as FunASR's export); the backend returns empty
    results, as the torch model does."""
    name, torch_m, m = pair
    npz = np.load(FIX / "export" / f"{name}_funasr_onnx.npz")
    case = next(k.split(".")[0] for k in npz.files if k.endswith(".failed"))
    feats = torch.from_numpy(npz[f"{case}.speech_x8"].astype(np.float32) / 8)
    lens = torch.from_numpy(npz[f"{case}.speech_lengths"].astype(np.int64))
    got = m.recognizer.model.recognize(feats, lens)
    ref = torch_m.recognizer.model.recognize(feats, lens)
    assert got == ref and all(not r.token_ids for r in got)


@pytest.mark.parametrize("name", MODELS)
def test_long_audio_pipeline_with_real_vad_equals_torch(name: str) -> None:
    sil = np.zeros(32000, np.float32)
    wave = np.concatenate([p for c in CLIPS[1:] + CLIPS[:1] for p in (_wave(name, c).astype(np.float32), sil)])
    kw = {"model": str(FIX / "models" / name), "vad_model": str(VAD), "punc_model": str(PUNC)}
    torch_m, m = AutoModel(**kw), AutoModel(**kw, backend="onnxruntime")
    call = {"max_end_silence_time": 300, "sentence_timestamp": True, "return_raw_text": True}
    assert len(m.pipeline.segments(wave, max_end_silence_time=300)) > 3
    inputs = [wave, wave[::-1].copy()]
    got = m.generate(input=inputs, key=["a", "b"], **call)
    assert got == torch_m.generate(input=inputs, key=["a", "b"], **call)
    assert got[0]["text"] and len(got[0]["sentence_info"]) > 1


def test_export_folder_used_directly_and_int8(tmp_path: Path, onnx_cache: Path) -> None:
    name = "bicif_paraformer_tiny"
    out = tmp_path / "deploy"
    assert export_main(["--model", str(FIX / "models" / name), "--type", "onnx", "--output_dir", str(out)]) == 0
    m = AutoModel(model=str(out), backend="onnxruntime")
    assert m.recognizer.model.graph == out / "model.onnx"
    ref = GENERATE[f"{name}_espeak_2p2s"]
    assert m.generate(input=_wave(name, "espeak_2p2s"), key=ref["key"])[0]["text"] == ref["text"]
    with pytest.raises(ModelError, match="has no model_quant.onnx: export it with --quantize int8") as e:
        AutoModel(model=str(out), backend="onnxruntime", quantize="int8")
    assert "\n" not in str(e.value)
    q = AutoModel(model=str(FIX / "models" / name), backend="onnxruntime", quantize="int8")
    assert q.recognizer.model.graph.name == "model_quant.onnx"
    assert q.recognizer.model.graph.parent.parent == onnx_cache / "onnx"
    res = q.generate(input=[_wave(name, c) for c in CLIPS])
    assert len(res) == len(CLIPS) and all("timestamp" in r for r in res)


def test_cache_is_reused(onnx_cache: Path) -> None:
    path = str(FIX / "models" / "paraformer_tiny")
    first = AutoModel(model=path, backend="onnxruntime").recognizer.model.graph
    stamp = first.stat().st_mtime_ns
    again = AutoModel(model=path, backend="onnxruntime").recognizer.model.graph
    assert again == first and again.stat().st_mtime_ns == stamp
    assert not [p for p in (onnx_cache / "onnx").iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"backend": "tensorrt"}, "unknown backend 'tensorrt': use one of torch, onnxruntime"),
        ({"backend": "onnxruntime", "dtype": "bf16"}, "dtype='bf16' applies to the torch backend"),
        ({"backend": "onnxruntime", "model": str(FIX / "models" / "seaco_paraformer_tiny")}, "not SeacoParaformer"),
        ({"backend": "onnxruntime", "model": str(FIX / "models" / "fsmn_vad_tiny")}, "runs ASR models only"),
        (
            {"backend": "onnxruntime", "vad_model": str(VAD), "spk_model": str(FIX / "models" / "campplus_tiny")},
            "spk_model needs token timestamps",
        ),
    ],
)
def test_refusals_are_one_line(kwargs, match) -> None:
    kwargs = {"model": str(FIX / "models" / "paraformer_tiny"), **kwargs}
    with pytest.raises(ValueError, match=match) as e:
        AutoModel(**kwargs)
    assert "\n" not in str(e.value)


def test_device_and_plain_timestamps_refused() -> None:
    with pytest.raises(ValueError, match="runs on the CPU only for now") as e:
        check_backend("onnxruntime", "cuda:0")
    assert "\n" not in str(e.value)
    m = AutoModel(model=str(FIX / "models" / "paraformer_tiny"), backend="onnxruntime")
    with pytest.raises(ValueError, match="timestamps of a plain Paraformer") as e:
        m.generate(input=_wave("paraformer_tiny", "espeak_1p3s"), output_timestamp=True)
    assert "\n" not in str(e.value)


def test_inference_cli_backend(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import soundfile as sf

    name = "bicif_paraformer_tiny"
    for clip in CLIPS[1:3]:
        sf.write(tmp_path / f"{clip}.wav", _wave(name, clip), 16000, subtype="FLOAT")
    (tmp_path / "wav.scp").write_text("".join(f"{c} {tmp_path / c}.wav\n" for c in CLIPS[1:3]))
    texts = {}
    for backend in ("torch", "onnxruntime"):
        out = tmp_path / backend
        argv = ["--model", str(FIX / "models" / name), "--wav_scp", str(tmp_path / "wav.scp")]
        assert inference.main([*argv, "--output_dir", str(out), "--backend", backend]) == 0
        texts[backend] = (out / "1best_recog" / "text").read_text(encoding="utf-8")
    assert texts["onnxruntime"] == texts["torch"] and texts["torch"].count("\n") == 2
    argv = ["--model", str(FIX / "models" / name), "--wav_scp", str(tmp_path / "wav.scp")]
    assert (
        inference.main([*argv, "--output_dir", str(tmp_path / "x"), "--backend", "onnxruntime", "--dtype", "fp16"]) == 1
    )
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: dtype='fp16' applies to the torch backend")
