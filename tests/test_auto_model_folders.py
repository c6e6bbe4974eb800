"""AutoModel on VAD, punctuation and CAM++ folders, list inputs and merge_vad (issue 16, items 5 and 7).

References: FunASR 1.4.16 run in tools/funasr_venv (tests/fixtures/auto_model/funasr_refs.json,
``_how`` says what was run) and hand-computed values.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from funasr_lite.auto_asr import merge_vad
from funasr_lite.auto_inputs import keyed_items, read_list
from funasr_lite.auto_model import AutoModel
from funasr_lite.errors import InputError

FIX = Path(__file__).parent / "fixtures"
MODELS = FIX / "models"
REFS = json.loads((FIX / "auto_model" / "funasr_refs.json").read_text(encoding="utf-8"))
SEGS = [[0, 3000], [3500, 9000], [9600, 16000], [17000, 30000], [30500, 31000]]


def _spk_wave() -> np.ndarray:
    """The clip FunASR embedded: a 220 Hz sine plus seeded noise (2 s, 16 kHz)."""
    rng = np.random.default_rng(0)
    rng.standard_normal(32000)
    t = np.arange(32000) / 16000
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def test_merge_vad_matches_funasr_and_hand_computed() -> None:
    # edges 0,3000,3500,9000,9600,16000,17000,30000,30500,31000; a span closes at the last edge
    # before 15 s from its start: [0,9600] (16000 is 16 s away), [9600,17000], then the rest.
    assert merge_vad(SEGS, 15000) == [[0, 9600], [9600, 17000], [17000, 31000]] == REFS["merge_vad"]
    assert merge_vad(SEGS, 10000) == REFS["merge_vad_10s"]
    assert merge_vad([[5, 9]], 10) == [[5, 9]]


def test_vad_folder_gives_segments_as_value(tmp_path: Path) -> None:
    m = AutoModel(model=str(MODELS / "fsmn_vad_tiny"))
    wave = np.zeros(16000, dtype=np.float32)
    res = m.generate(input=wave, key="a")
    assert list(res[0]) == ["key", "value"] and res[0]["key"] == "a"
    assert res[0]["value"] == m.model.segments(wave)
    assert m.model_path == str((MODELS / "fsmn_vad_tiny").resolve()) and m.kwargs["model"] == "FsmnVAD"


def test_punc_folder_gives_funasr_text_and_punc_array() -> None:
    m = AutoModel(model=str(MODELS / "ct_transformer_tiny"))
    res = m.generate(input="你好 世界 今天 天气")
    assert res[0]["text"] == REFS["punc"]["text"]
    assert isinstance(res[0]["punc_array"], torch.Tensor)
    assert res[0]["punc_array"].tolist() == REFS["punc"]["punc_array"]


def test_campplus_folder_gives_funasr_embedding() -> None:
    m = AutoModel(model=str(MODELS / "campplus_tiny"))
    res = m.generate(input=[_spk_wave(), _spk_wave()[:16000]])
    assert len(res) == 2 and list(res[0]) == ["spk_embedding"]
    ref = torch.tensor(REFS["spk"])
    assert res[0]["spk_embedding"].shape == ref.shape == (1, 16)
    torch.testing.assert_close(res[0]["spk_embedding"], ref, atol=1e-4, rtol=1e-4)


def test_list_formats_follow_funasr_rules(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("k1 x.wav\n\ny.wav\n", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text('{"source": "x.wav", "key": "k9"}\n{"source": "z.wav"}\n', encoding="utf-8")
    (tmp_path / "c.json").write_text("k2 hello world\n", encoding="utf-8")  # FunASR: lines, not one JSON
    assert read_list(tmp_path / "a.txt") == [("k1", "x.wav"), (None, "y.wav")]
    assert read_list(tmp_path / "b.jsonl") == [("k9", "x.wav"), (None, "z.wav")]
    assert read_list(tmp_path / "c.json") == [("k2", "hello world")]
    assert keyed_items(str(tmp_path / "a.txt"), None) == [("k1", "x.wav"), ("y", "y.wav")]
    (tmp_path / "bad.jsonl").write_text('{"key": "k"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.jsonl:1: a .jsonl line needs"):
        read_list(tmp_path / "bad.jsonl")


@pytest.mark.parametrize("name", ["list.txt", "list.text", "list.jsonl", "wav.SCP", "list.JSON"])
def test_audio_lists_decode_like_direct_input(tmp_path: Path, name: str) -> None:
    m = AutoModel(model=str(MODELS / "fsmn_vad_tiny"))
    wave = _spk_wave()
    sf.write(tmp_path / "clip.wav", wave, 16000, subtype="FLOAT")
    line = json.dumps({"source": str(tmp_path / "clip.wav"), "key": "u1"}) if name.endswith(".jsonl") else ""
    (tmp_path / name).write_text((line or f"u1 {tmp_path / 'clip.wav'}") + "\n", encoding="utf-8")
    assert m.generate(input=str(tmp_path / name)) == [{"key": "u1", "value": m.model.segments(wave)}]


def test_punc_text_list(tmp_path: Path) -> None:
    m = AutoModel(model=str(MODELS / "ct_transformer_tiny"))
    (tmp_path / "t.txt").write_text("s1 你好 世界 今天 天气\n", encoding="utf-8")
    res = m.generate(input=str(tmp_path / "t.txt"))
    assert res[0]["key"] == "s1" and res[0]["text"] == REFS["punc"]["text"]
