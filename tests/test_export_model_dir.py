"""Export of trained Paraformer weights as a FunASR 1.x model folder (drop-in; round trip)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
import yaml

from funasr_lite.bin import export_model as export_cli
from funasr_lite.errors import ModelError
from funasr_lite.modelio import open_model_dir
from funasr_lite.models.paraformer.build import ASR_CLASSES, load_paraformer
from funasr_lite.train.asr.export import export_model_dir
from funasr_lite.train.core.checkpoint import CheckpointManager, save_atomic

MODELS = Path(__file__).resolve().parent / "fixtures" / "models"


def _training_config(fixture: str) -> tuple[dict, list[str], Path]:
    """The tiny fixture config as a trainer would save it: file paths, dither on, training blocks, extra keys."""
    src = MODELS / fixture
    config = yaml.safe_load((src / "config.yaml").read_text(encoding="utf-8"))
    config["frontend_conf"].update(dither=1.0, cmvn_file=str(src / "am.mvn"))
    config["tokenizer_conf"].update(token_list=str(src / "tokens.json"), seg_dict_file=str(src / "seg_dict"))
    config.update(
        optim="adam",
        optim_conf={"lr": 5e-4},
        scheduler="warmuplr",
        scheduler_conf={"warmup_steps": 30000},
        train_conf={"max_epoch": 3, "keep_nbest_models": 5},
        train_data_set_list="data/train.jsonl",
        output_dir="exp/x",
    )
    tokens = json.loads((src / "tokens.json").read_text(encoding="utf-8"))
    return config, tokens, src / "am.mvn"


def _random_state(config: dict, n_tokens: int, seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return ASR_CLASSES[config["model"]].from_config(config, n_tokens).state_dict()


@pytest.mark.parametrize("fixture", ["paraformer_tiny", "bicif_paraformer_tiny"])
def test_export_round_trip(tmp_path, fixture) -> None:
    config, tokens, cmvn = _training_config(fixture)
    state = _random_state(config, len(tokens))
    out = export_model_dir(state, config, tokens, cmvn, tmp_path / "model_dir")
    assert out == tmp_path / "model_dir"
    assert sorted(p.name for p in out.iterdir()) == [
        "am.mvn",
        "config.yaml",
        "configuration.json",
        "model.pt",
        "tokens.json",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model_dir"]  # no temp folder left
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. WavFrontend's "ignoring unknown frontend_conf keys"
        model, frontend, token_list = load_paraformer(out)
    assert type(model).__name__ == config["model"] and token_list == tokens
    got = model.state_dict()
    assert list(got) == list(state) and all(torch.equal(got[k], state[k]) for k in state)
    assert frontend.fbank_opts.dither == 0.0  # inference features: FunASR decodes the folder as funasr_lite
    md = open_model_dir(out)
    assert (md.layout, md.model_class) == ("1.x", config["model"])
    assert (md.checkpoint.name, md.cmvn_file.name) == ("model.pt", "am.mvn")
    raw = torch.load(out / "model.pt", weights_only=True)  # the bare state dict, FunASR's model.pt
    assert list(raw) == list(state) and all(v.dtype == torch.float32 and v.is_contiguous() for v in raw.values())
    assert (out / "am.mvn").read_bytes() == cmvn.read_bytes()
    assert json.loads((out / "tokens.json").read_text(encoding="utf-8")) == tokens


def test_exported_config_and_configuration_json(tmp_path) -> None:
    config, tokens, cmvn = _training_config("paraformer_tiny")
    out = export_model_dir(
        _random_state(config, len(tokens)),
        config,
        tokens,
        cmvn,
        tmp_path / "m",
        seg_dict_file=MODELS / "paraformer_tiny" / "seg_dict",
    )
    cfg = yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8"))
    assert "cmvn_file" not in cfg["frontend_conf"]
    assert cfg["frontend_conf"]["dither"] == 0.0  # the training config had 1.0
    assert cfg["tokenizer_conf"] == {"unk_symbol": "<unk>", "split_with_space": True}
    assert cfg["tokenizer"] == "CharTokenizer" and cfg["frontend"] == "WavFrontend"
    assert "train_data_set_list" not in cfg and "output_dir" not in cfg
    assert cfg["optim"] == "adam" and cfg["scheduler_conf"] == {"warmup_steps": 30000}
    for key in ("model_conf", "encoder_conf", "decoder_conf", "predictor_conf", "specaug_conf", "ctc_conf"):
        assert cfg[key] == config[key]
    meta = json.loads((out / "configuration.json").read_text(encoding="utf-8"))
    assert meta["framework"] == "pytorch" and meta["task"] == "auto-speech-recognition"
    assert meta["model"] == {"type": "funasr"} and meta["pipeline"] == {"type": "funasr-pipeline"}
    assert meta["file_path_metas"] == {
        "init_param": "model.pt",
        "config": "config.yaml",
        "tokenizer_conf": {"token_list": "tokens.json", "seg_dict_file": "seg_dict"},
        "frontend_conf": {"cmvn_file": "am.mvn"},
    }
    assert (out / "seg_dict").read_bytes() == (MODELS / "paraformer_tiny" / "seg_dict").read_bytes()


def test_export_casts_and_replaces_existing_folder(tmp_path) -> None:
    config, tokens, cmvn = _training_config("paraformer_tiny")
    state = _random_state(config, len(tokens))
    out = tmp_path / "m"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    wrapped = {"module." + k: v.double() for k, v in state.items()}  # DDP names, float64
    export_model_dir(wrapped, config, tokens, cmvn, out)
    assert not (out / "stale.txt").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    got = load_paraformer(out)[0].state_dict()
    assert all(got[k].dtype == torch.float32 and torch.equal(got[k], state[k]) for k in state)


def test_mismatched_weights_leave_existing_folder(tmp_path) -> None:
    config, tokens, cmvn = _training_config("paraformer_tiny")
    state = _random_state(config, len(tokens))
    out = export_model_dir(state, config, tokens, cmvn, tmp_path / "m")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = dict(state)
    del bad["predictor.cif_output.bias"]
    bad["ctc.ctc_lo.weight"] = torch.zeros(1)
    missing_extra = r"missing key\(s\): predictor.cif_output.bias.*unexpected key\(s\): ctc.ctc_lo.weight"
    with pytest.raises(ModelError, match=missing_extra):
        export_model_dir(bad, config, tokens, cmvn, out)
    with pytest.raises(ModelError, match="wrong shape"):  # one token too many for the decoder's output layer
        export_model_dir(state, config, tokens + ["extra"], cmvn, out)
    with pytest.raises(ModelError, match="not one of"):
        export_model_dir(state, dict(config, model="CTTransformer"), tokens, cmvn, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_export_model_cli(tmp_path, monkeypatch) -> None:
    config, tokens, _ = _training_config("paraformer_tiny")
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    states = [_random_state(config, len(tokens), seed) for seed in (1, 2)]
    mgr = CheckpointManager(exp / "checkpoints")
    for i, s in enumerate(states):
        mgr.save(f"ep{i + 1}", {"model": s, "optimizer": {"state": {}, "param_groups": []}, "step": i}, 0.1 * i)
    monkeypatch.chdir(tmp_path)
    assert export_cli.main(["--exp_dir", "exp"]) == 0  # newest checkpoint -> exp/model_dir
    got = load_paraformer(exp / "model_dir")[0].state_dict()
    assert all(torch.equal(got[k], states[1][k]) for k in got)
    save_atomic({"model": states[0], "averaged": ["ep1.pt"]}, exp / "avg1.pt")
    assert export_cli.main(["--exp_dir", "exp", "--checkpoint", "avg1.pt", "--out_dir", "out"]) == 0
    got = load_paraformer(tmp_path / "out")[0].state_dict()
    assert all(torch.equal(got[k], states[0][k]) for k in got)
    assert export_cli.main(["--exp_dir", "exp", "--checkpoint", "nope.pt"]) == 1


def test_exported_config_has_no_dither_when_the_training_config_names_none(tmp_path) -> None:
    """Without ``frontend_conf.dither`` FunASR's WavFrontend dithers at 1.0 (its class default) and
    decodes the folder differently from funasr_lite: the export writes 0.0 (issue 16, item 8)."""
    config, tokens, cmvn = _training_config("paraformer_tiny")
    del config["frontend_conf"]["dither"]
    out = export_model_dir(_random_state(config, len(tokens)), config, tokens, cmvn, tmp_path / "m")
    text = (out / "config.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(text)["frontend_conf"]["dither"] == 0.0
    assert "dither" not in config["frontend_conf"]  # the caller's config is not modified
    _, frontend, _ = load_paraformer(out)
    assert frontend.fbank_opts.dither == 0.0


def test_campplus_export_config_has_no_dither(tmp_path) -> None:
    from funasr_lite.models.campplus import load_campplus
    from funasr_lite.train.spk.export import export_model_dir as export_spk

    model = load_campplus(MODELS / "campplus_tiny")
    conf = yaml.safe_load((MODELS / "campplus_tiny" / "config.yaml").read_text(encoding="utf-8"))["model_conf"]
    out = export_spk(model, conf, tmp_path / "spk")
    cfg = yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8"))
    assert cfg["frontend_conf"] == {"fs": 16000, "dither": 0.0}
    again = load_campplus(out)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
