"""AutoModel options (issue 16, items 4 and 6): honoured, or refused in the constructor; device fallback.

Expectations come from FunASR 1.4.16's auto_model.py (read in tools/funasr_venv): ``vda_model``
raises TypeError, ``ncpu`` (default 4) becomes torch's thread count, an unavailable device runs on
the CPU, constructor options are defaults for every ``generate``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from funasr_lite.auto_model import AutoModel
from funasr_lite.devices import resolve_device

MODELS = Path(__file__).parent / "fixtures" / "models"
ASR = str(MODELS / "bicif_paraformer_tiny")
VAD = str(MODELS / "fsmn_vad_tiny")


def _wave() -> np.ndarray:
    rng = np.random.default_rng(1)
    return (0.1 * rng.standard_normal(16000)).astype(np.float32)


def test_vda_model_typo_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="use `vad_model`"):
        AutoModel(model=ASR, vda_model=VAD)


def test_unknown_and_unsupported_options_are_refused_up_front() -> None:
    with pytest.raises(TypeError, match="unknown option.*beam_size"):
        AutoModel(model=ASR, beam_size=5)
    with pytest.raises(ValueError, match="return_spk_center=True is not supported"):
        AutoModel(model=ASR, return_spk_center=True)
    with pytest.raises(TypeError, match=r"vad_kwargs: unknown option\(s\) max_silence"):
        AutoModel(model=ASR, vad_model=VAD, vad_kwargs={"max_silence": 3})
    with pytest.raises(ValueError, match="frontend_conf\\['lfr_m'\\]=3 differs"):
        AutoModel(model=ASR, frontend_conf={"lfr_m": 3})
    m = AutoModel(model=ASR, disable_update=True, hub="ms", disable_pbar=True)  # harmless: accepted
    with pytest.raises(TypeError, match="unknown option.*beam_size"):
        m.generate(input=_wave(), beam_size=5)


def test_ncpu_sets_torch_threads() -> None:
    before = torch.get_num_threads()
    try:
        AutoModel(model=ASR, ncpu=1)
        assert torch.get_num_threads() == 1
        AutoModel(model=ASR)
        assert torch.get_num_threads() == 4  # FunASR's default
    finally:
        torch.set_num_threads(before)


def test_constructor_defaults_apply_to_every_call() -> None:
    wave = _wave()
    per_call = AutoModel(model=ASR, vad_model=VAD).generate(input=wave, sentence_timestamp=True)
    default = AutoModel(model=ASR, vad_model=VAD, sentence_timestamp=True).generate(input=wave)
    assert default == per_call
    overridden = AutoModel(model=ASR, vad_model=VAD, sentence_timestamp=True).generate(
        input=wave, sentence_timestamp=False
    )
    assert "sentence_info" not in overridden[0]


def test_output_dir_writes_1best_recog(tmp_path: Path) -> None:
    m = AutoModel(model=ASR, output_dir=str(tmp_path))
    res = m.generate(input=_wave(), key="u1")
    lines = (tmp_path / "1best_recog" / "text").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 and lines[0].split(maxsplit=1)[0] == "u1"
    tokens = (tmp_path / "1best_recog" / "token").read_text(encoding="utf-8").split()[1:]
    assert "".join(tokens).replace("@@", "") == res[0]["text"].replace(" ", "")


def test_unavailable_device_falls_back_to_cpu(caplog: pytest.LogCaptureFixture) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with caplog.at_level(logging.WARNING):
        assert resolve_device("cuda") == "cpu"
        assert resolve_device("mps") == ("mps" if torch.backends.mps.is_available() else "cpu")
    assert "cuda is not available" in caplog.text
    assert resolve_device("cpu") == "cpu" and resolve_device(None) == "cpu"
    with pytest.raises(ValueError, match="device='gpu' is not a device"):
        resolve_device("gpu")
    m = AutoModel(model=ASR, vad_model=VAD, device="cuda", vad_kwargs={"device": "cuda:0"})
    assert m.recognizer.device.type == "cpu" and m.kwargs["device"] == "cpu"


def test_hub_alias_error_names_the_modelscope_folder() -> None:
    # FunASR 1.4.16 name_maps_ms: "fsmn-vad" -> iic/speech_fsmn_vad_zh-cn-16k-common-pytorch
    with pytest.raises(
        ValueError, match=r"fsmn-vad: is a FunASR hub alias.*iic/speech_fsmn_vad_zh-cn-16k-common-pytorch"
    ):
        AutoModel(model="fsmn-vad")
    with pytest.raises(ValueError, match=r"iic/speech_campplus_sv_zh-cn_16k-common"):
        AutoModel(model="cam++")
