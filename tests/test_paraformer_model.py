"""Paraformer / BiCif-Paraformer: parameter names and shapes, building and strict loading."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from funasr_lite.errors import ModelError
from funasr_lite.models.paraformer import BiCifParaformer, Paraformer, load_paraformer

FIX = Path(__file__).parent / "fixtures" / "models"

# Official hyper-parameters (FunASR's funasr/models/paraformer/template.yaml).
LARGE = {
    "encoder": "SANMEncoder",
    "encoder_conf": {
        "output_size": 512,
        "attention_heads": 4,
        "linear_units": 2048,
        "num_blocks": 50,
        "dropout_rate": 0.1,
        "positional_dropout_rate": 0.1,
        "attention_dropout_rate": 0.1,
        "input_layer": "pe",
        "pos_enc_class": "SinusoidalPositionEncoder",
        "normalize_before": True,
        "kernel_size": 11,
        "sanm_shfit": 0,
        "selfattention_layer_type": "sanm",
    },
    "decoder": "ParaformerSANMDecoder",
    "decoder_conf": {
        "attention_heads": 4,
        "linear_units": 2048,
        "num_blocks": 16,
        "dropout_rate": 0.1,
        "positional_dropout_rate": 0.1,
        "self_attention_dropout_rate": 0.1,
        "src_attention_dropout_rate": 0.1,
        "att_layer_num": 16,
        "kernel_size": 11,
        "sanm_shfit": 0,
    },
    "predictor": "CifPredictorV2",
    "predictor_conf": {"idim": 512, "threshold": 1.0, "l_order": 1, "r_order": 1, "tail_threshold": 0.45},
    "frontend_conf": {"n_mels": 80, "lfr_m": 7, "lfr_n": 6},
}
BICIF_PREDICTOR = {
    "smooth_factor2": 0.25,
    "noise_threshold2": 0.01,
    "upsample_times": 3,
    "use_cif1_cnn": False,
    "upsample_type": "cnn_blstm",
}


def _large_config(bicif: bool) -> dict:
    cfg = json.loads(json.dumps(LARGE))
    if bicif:
        cfg["predictor"] = "CifPredictorV3"
        cfg["predictor_conf"].update(BICIF_PREDICTOR)
    return cfg


@pytest.mark.parametrize(
    "cls,keys_file,count,params",
    [
        (Paraformer, "keys_paraformer_large.json", 956, 220_084_533),
        (BiCifParaformer, "keys_bicif_paraformer_large.json", 968, 225_074_998),
    ],
)
def test_full_size_state_dict_matches_funasr(cls, keys_file, count, params):
    """Names, shapes and order of every tensor equal FunASR's (built on the meta device)."""
    expected = json.loads((FIX / keys_file).read_text())
    with torch.device("meta"):
        model = cls.from_config(_large_config(cls is BiCifParaformer), 8404)
    got = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert len(got) == len(expected) == count
    assert list(got) == list(expected)
    assert got == {k: list(v) for k, v in expected.items()}
    assert sum(v.numel() for v in model.state_dict().values()) == params


@pytest.mark.parametrize("name,cls", [("paraformer_tiny", Paraformer), ("bicif_paraformer_tiny", BiCifParaformer)])
def test_load_tiny_folders(name, cls):
    model, frontend, tokens = load_paraformer(FIX / name)
    assert type(model) is cls and not model.training
    assert len(tokens) == 61 and tokens[-1] == "<unk>"
    assert frontend.output_size() == 560 and frontend.fbank_opts.dither == 0.0


def test_load_0x_folder_gives_same_model():
    m1, _, t1 = load_paraformer(FIX / "paraformer_tiny")
    m0, _, t0 = load_paraformer(FIX / "paraformer_tiny_0x")
    assert t0 == t1
    s0, s1 = m0.state_dict(), m1.state_dict()
    assert list(s0) == list(s1) and all(torch.equal(s0[k], s1[k]) for k in s0)


def test_refuses_non_asr_folder():
    with pytest.raises(ModelError, match="not an ASR model"):
        load_paraformer(FIX / "fsmn_vad_tiny")


def _copy(tmp_path: Path, name: str) -> Path:
    dst = tmp_path / name
    shutil.copytree(FIX / name, dst)
    return dst


def test_strict_loading_reports_missing_and_wrong_shape(tmp_path):
    folder = _copy(tmp_path, "paraformer_tiny")
    state = torch.load(folder / "model.pt", weights_only=True)
    del state["decoder.embed.0.weight"]  # only used in training, still required (FunASR would warn)
    state["predictor.cif_output.bias"] = torch.zeros(2)
    torch.save(state, folder / "model.pt")
    with pytest.raises(ModelError) as err:
        load_paraformer(folder)
    assert "decoder.embed.0.weight" in str(err.value) and "predictor.cif_output.bias" in str(err.value)


def test_dither_default_and_override(tmp_path):
    folder = _copy(tmp_path, "paraformer_tiny")
    cfg = yaml.safe_load((folder / "config.yaml").read_text())
    del cfg["frontend_conf"]["dither"]  # as in the official config.yaml
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    assert load_paraformer(folder)[1].fbank_opts.dither == 1.0  # FunASR's WavFrontend default
    assert load_paraformer(folder, dither=0.0)[1].fbank_opts.dither == 0.0


def test_unsupported_config_value_is_refused():
    cfg = _large_config(False)
    cfg["encoder_conf"]["input_layer"] = "conv2d"
    with pytest.raises(ModelError, match="input_layer"), torch.device("meta"):
        Paraformer.from_config(cfg, 10)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_runs(dtype):
    """No dtype is hard-coded: the model runs in half precision (CIF integrates in float32)."""
    model, frontend, _ = load_paraformer(FIX / "bicif_paraformer_tiny")
    gen = torch.Generator().manual_seed(0)
    wave = torch.randn(1, 16000, generator=gen) * 0.1
    feats, lens = frontend(wave, [16000])
    ref = model.recognize(feats, lens)[0]
    res = model.to(dtype).recognize(feats.to(dtype), lens)[0]
    out = model.forward_outputs(feats.to(dtype), lens)
    assert out.encoder_out.dtype == dtype and out.alphas.dtype == torch.float32
    assert isinstance(res.score, float) and res.timestamps is not None
    assert abs(len(res.token_ids) - len(ref.token_ids)) <= 1


def test_paraformer_template_predictors_and_sizes():
    """FunASR's template: Paraformer gets CifPredictorV2, BiCif CifPredictorV3 with the timestamp
    head's keys; sizes go to encoder, decoder and predictor; other models are refused."""
    from funasr_lite.models.paraformer.template import paraformer_template

    plain, bicif = paraformer_template("Paraformer"), paraformer_template("BiCifParaformer", 256, 4, 1024, 12, 6)
    assert plain["predictor"] == "CifPredictorV2" and "upsample_times" not in plain["predictor_conf"]
    assert (plain["encoder_conf"]["num_blocks"], plain["decoder_conf"]["num_blocks"]) == (50, 16)
    assert bicif["predictor"] == "CifPredictorV3" and bicif["predictor_conf"]["upsample_type"] == "cnn_blstm"
    assert bicif["predictor_conf"]["idim"] == bicif["encoder_conf"]["output_size"] == 256
    assert bicif["decoder_conf"]["att_layer_num"] == 6
    with pytest.raises(ValueError, match="no template"):
        paraformer_template("Conformer")
