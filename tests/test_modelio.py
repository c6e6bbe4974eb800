"""Model-folder reading: tokens, safe checkpoint loading, strict matching, configs, class detection.

Expectations are independent of the code under test: key lists and folders produced by
FunASR 1.4.16 itself (tests/fixtures/models, see its README), and hand-written files.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from funasr_lite.errors import ModelError
from funasr_lite.modelio import load_checkpoint, load_state_dict_strict, open_model_dir, read_token_list
from funasr_lite.modelio.config import to_1x
from funasr_lite.modelio.model_dir import detect_class_from_keys

FIXTURES = Path(__file__).parent / "fixtures" / "models"


# ---------------------------------------------------------------- tokens
def test_tokens_json_and_txt_agree(tmp_path: Path) -> None:
    toks = ["<blank>", "<s>", "</s>", "and@@", "你", "好", "<unk>"]
    (tmp_path / "tokens.json").write_text(json.dumps(toks, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "tokens.txt").write_text("\n".join(t + "  " for t in toks) + "\n\n", encoding="utf-8")
    assert read_token_list(tmp_path / "tokens.json") == toks
    assert read_token_list(tmp_path / "tokens.txt") == toks  # lines are right-stripped


@pytest.mark.parametrize(
    "content, problem",
    [
        ('["a", "b", "a", "<unk>"]', "duplicate token 'a' at ids 0 and 2"),
        ('["a", "b"]', "no <unk>"),
        ("[]", "empty"),
        ('{"a": 1}', "JSON array"),
        ('["a", ', "not valid JSON"),
    ],
)
def test_bad_token_lists(tmp_path: Path, content: str, problem: str) -> None:
    p = tmp_path / "tokens.json"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(ModelError, match=problem) as err:
        read_token_list(p)
    assert str(p) in str(err.value)


def test_token_list_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "tokens.txt"
    p.write_bytes(b"<blank>\n\xff\xfe\n<unk>\n")
    with pytest.raises(ModelError, match="not UTF-8"):
        read_token_list(p)


# ---------------------------------------------------------------- checkpoints
def _tiny_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {"a.weight": torch.randn(3, 2), "a.bias": torch.randn(3)}


@pytest.mark.parametrize("wrap", [None, "state_dict", "model_state_dict", "model", "module."])
def test_checkpoint_unwrapping(tmp_path: Path, wrap: str | None) -> None:
    sd = _tiny_state()
    if wrap == "module.":
        obj: object = {"module." + k: v for k, v in sd.items()}
    elif wrap:
        obj = {wrap: sd, "epoch": 3}
    else:
        obj = sd
    torch.save(obj, tmp_path / "model.pt")
    got = load_checkpoint(tmp_path / "model.pt")
    assert sorted(got) == sorted(sd)
    for k in sd:
        assert torch.equal(got[k], sd[k])


def test_truncated_and_empty_checkpoints(tmp_path: Path) -> None:
    torch.save(_tiny_state(), tmp_path / "good.pt")
    data = (tmp_path / "good.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(ModelError, match="corrupt or truncated"):
        load_checkpoint(tmp_path / "cut.pt")
    with pytest.raises(ModelError, match="empty"):
        load_checkpoint(tmp_path / "empty.pt")
    with pytest.raises(ModelError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")


class _Evil:
    """Unpickling this calls os.system: a checkpoint that runs code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: D105
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    torch.save({"w": torch.zeros(1), "payload": _Evil(marker)}, tmp_path / "evil.pt")
    assert not marker.exists()
    with pytest.raises(ModelError, match="refusing to load") as err:
        load_checkpoint(tmp_path / "evil.pt")
    assert "evil.pt" in str(err.value)
    assert not marker.exists(), "the pickle's code ran"
    # A legacy (non-zip) pickle is refused as well.
    with open(tmp_path / "evil_legacy.pt", "wb") as f:
        pickle.dump({"payload": _Evil(marker)}, f)
    with pytest.raises(ModelError):
        load_checkpoint(tmp_path / "evil_legacy.pt")
    assert not marker.exists()


def test_strict_load_lists_every_mismatch(tmp_path: Path) -> None:
    module = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 4))
    sd = {k: v.clone() for k, v in module.state_dict().items()}
    del sd["1.bias"]  # missing
    sd["2.weight"] = torch.zeros(1)  # unexpected
    sd["0.weight"] = torch.zeros(5, 2)  # wrong shape
    with pytest.raises(ModelError) as err:
        load_state_dict_strict(module, sd, "ckpt.pt")
    msg = str(err.value)
    assert msg.startswith("ckpt.pt: checkpoint does not match Sequential")
    assert "1 missing key(s): 1.bias" in msg
    assert "1 unexpected key(s): 2.weight" in msg
    assert "0.weight: checkpoint (5, 2) vs model (3, 2)" in msg
    good = {k: torch.ones_like(v) for k, v in module.state_dict().items()}
    load_state_dict_strict(module, good, "ckpt.pt")
    assert torch.equal(module[0].weight, torch.ones(3, 2))


# ---------------------------------------------------------------- configs
def test_0x_config_names_map_to_1x() -> None:
    cfg = {
        "model": "paraformer",
        "encoder": "sanm",
        "decoder": "paraformer_decoder_sanm",
        "predictor": "cif_predictor_v2",
        "frontend": "wav_frontend",
        "specaug": "specaug_lfr",
        "encoder_conf": {"output_size": 512},
    }
    out = to_1x(cfg)
    assert (out["model"], out["encoder"], out["decoder"], out["predictor"], out["frontend"], out["specaug"]) == (
        "Paraformer",
        "SANMEncoder",
        "ParaformerSANMDecoder",
        "CifPredictorV2",
        "WavFrontend",
        "SpecAugLFR",
    )
    assert out["encoder_conf"] == {"output_size": 512}
    vad = to_1x({"encoder": "fsmn", "vad_post_conf": {"max_end_silence_time": 800}})
    assert vad["model"] == "FsmnVADStreaming" and vad["model_conf"] == {"max_end_silence_time": 800}
    one = {"model": "Paraformer", "encoder": "SANMEncoder"}
    assert to_1x(one) == one


# ---------------------------------------------------------------- folders
def test_hub_name_is_refused_with_download_hint() -> None:
    with pytest.raises(ModelError, match="never downloads models") as err:
        open_model_dir("iic/speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-pytorch")
    assert "modelscope download --model iic/speech_paraformer-large" in str(err.value)
    with pytest.raises(ModelError, match="never downloads"):
        open_model_dir("paraformer-zh")


def test_missing_folder_and_file_instead_of_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        open_model_dir(tmp_path / "nope")
    (tmp_path / "model.pt").write_bytes(b"x")
    with pytest.raises(ModelError, match="is a file"):
        open_model_dir(tmp_path / "model.pt")


def _write_folder(
    root: Path, state: dict[str, torch.Tensor], config: str, tokens: list[str] | None = None, mvn: bool = True
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    torch.save(state, root / "model.pt")
    (root / "config.yaml").write_text(config, encoding="utf-8")
    if tokens is not None:
        (root / "tokens.json").write_text(json.dumps(tokens), encoding="utf-8")
    if mvn:
        (root / "am.mvn").write_text("<Nnet>\n</Nnet>\n", encoding="utf-8")
    return root


_PARAFORMER_KEYS = {"predictor.cif_output.weight": torch.zeros(1, 4), "encoder.after_norm.weight": torch.zeros(4)}
_BICIF_KEYS = dict(_PARAFORMER_KEYS, **{"predictor.blstm.weight_ih_l0": torch.zeros(8, 4)})


def test_bicif_keys_override_a_paraformer_config(tmp_path: Path) -> None:
    md = open_model_dir(_write_folder(tmp_path / "m", _BICIF_KEYS, "model: Paraformer\n", ["<blank>", "<unk>"]))
    assert md.model_class == "BiCifParaformer"
    assert md.layout == "1.x" and md.cmvn_file == md.path / "am.mvn" and md.token_list == ["<blank>", "<unk>"]


@pytest.mark.parametrize(
    "config, state, tokens, mvn, problem",
    [
        (
            "model: CAMPPlus\n",
            _PARAFORMER_KEYS,
            ["<unk>"],
            True,
            "holds a Paraformer model but config.yaml says 'CAMPPlus'",
        ),
        ("model: SenseVoiceSmall\n", _PARAFORMER_KEYS, ["<unk>"], True, "unsupported model class 'SenseVoiceSmall'"),
        ("model: Paraformer\n", _PARAFORMER_KEYS, None, True, "no token list found"),
        ("model: Paraformer\n", _PARAFORMER_KEYS, ["<unk>"], False, "no CMVN file found"),
        (
            "model: Paraformer\nencoder_conf: [1, 2]\n",
            _PARAFORMER_KEYS,
            ["<unk>"],
            True,
            "'encoder_conf' must be a mapping, got list",
        ),
        ("model: [Paraformer]\n", _PARAFORMER_KEYS, ["<unk>"], True, "'model' must be a class name string"),
        ("model: Paraformer\n  bad: : indent\n", _PARAFORMER_KEYS, ["<unk>"], True, "not valid YAML"),
        ("- a\n- b\n", _PARAFORMER_KEYS, ["<unk>"], True, "must be a YAML mapping"),
        ("frontend: WavFrontend\n", {"x.weight": torch.zeros(1)}, ["<unk>"], True, "cannot tell the model class"),
    ],
)
def test_bad_folders(tmp_path: Path, config: str, state: dict, tokens: list | None, mvn: bool, problem: str) -> None:
    root = _write_folder(tmp_path / "m", state, config, tokens, mvn)
    with pytest.raises(ModelError, match=problem.replace("[", r"\[").replace("(", r"\(")):
        open_model_dir(root)


# ---------------------------------------------------------------- FunASR-made fixtures
_KEY_LISTS = {
    "keys_paraformer_large.json": ("Paraformer", 956),
    "keys_bicif_paraformer_large.json": ("BiCifParaformer", 968),
    "keys_fsmn_vad.json": ("FsmnVAD", 24),
    "keys_ct_transformer_zh.json": ("CTTransformer", None),
    "keys_campplus.json": ("CAMPPlus", 937),
}


@pytest.mark.parametrize("name", sorted(_KEY_LISTS))
def test_detect_class_on_funasr_key_lists(name: str) -> None:
    path = FIXTURES / name
    assert path.is_file(), f"missing fixture {path}; run tools/make_fixtures (see tests/fixtures/README.md)"
    keys = json.loads(path.read_text())
    cls, count = _KEY_LISTS[name]
    if count is not None:
        assert len(keys) == count
    assert detect_class_from_keys(keys) == cls


_FOLDERS = {
    "paraformer_tiny": ("Paraformer", "1.x", "model.pt", True),
    "bicif_paraformer_tiny": ("BiCifParaformer", "1.x", "model.pt", True),
    "fsmn_vad_tiny": ("FsmnVAD", "1.x", "model.pt", False),
    "ct_transformer_tiny": ("CTTransformer", "1.x", "model.pt", True),
    "campplus_tiny": ("CAMPPlus", "1.x", "campplus_cn_common.bin", False),
    "paraformer_tiny_0x": ("Paraformer", "0.x", "model.pb", True),
}


@pytest.mark.parametrize("name", sorted(_FOLDERS))
def test_open_funasr_made_folders(name: str) -> None:
    cls, layout, ckpt, has_tokens = _FOLDERS[name]
    md = open_model_dir(FIXTURES / name)
    assert (md.model_class, md.layout, md.checkpoint.name) == (cls, layout, ckpt)
    assert (md.token_list is not None) == has_tokens
    assert (md.cmvn_file is not None) == (cls in ("Paraformer", "BiCifParaformer", "FsmnVAD"))
    if has_tokens:
        assert md.token_list[-1] == "<unk>"
    assert all(isinstance(v, torch.Tensor) for v in md.state_dict().values())


def test_0x_folder_equals_1x_folder() -> None:
    """The 0.x copy (model.pb, tokens.txt, lower-case names) resolves to the same model as 1.x."""
    new, old = open_model_dir(FIXTURES / "paraformer_tiny"), open_model_dir(FIXTURES / "paraformer_tiny_0x")
    assert old.token_list == new.token_list
    for block in ("encoder", "decoder", "predictor", "frontend"):
        assert old.config[block] == new.config[block], block
        # The 0.x copy leaves `dither` unset, like the official asr.yaml; the 1.x one sets 0.0.
        strip = lambda conf: {k: v for k, v in conf.items() if k != "dither"}  # noqa: E731
        assert strip(old.config[f"{block}_conf"]) == strip(new.config[f"{block}_conf"]), block
    a, b = new.state_dict(), old.state_dict()
    assert sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a)


def test_folder_copied_without_tokens_or_mvn_is_refused(tmp_path: Path) -> None:
    for missing, problem in (("tokens.json", "no token list found"), ("am.mvn", "no CMVN file found")):
        dst = tmp_path / missing
        shutil.copytree(FIXTURES / "paraformer_tiny", dst)
        (dst / missing).unlink()
        with pytest.raises(ModelError, match=problem):
            open_model_dir(dst)


def test_no_random_init_draws_nothing_and_restores_torch_init():
    """Inside: building layers draws no random numbers (the RNG state does not move); after,
    even when the block raises, torch.nn.init is the original again and draws as before."""
    import torch

    from funasr_lite.modelio.checkpoint import no_random_init

    originals = (torch.nn.init.uniform_, torch.nn.init.normal_, torch.nn.init.kaiming_uniform_)
    state = torch.random.get_rng_state()
    with no_random_init():
        torch.nn.Linear(8, 8), torch.nn.Embedding(5, 3), torch.nn.LSTM(4, 4), torch.nn.Conv1d(2, 2, 3)
    assert torch.equal(torch.random.get_rng_state(), state)
    try:
        with no_random_init():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert (torch.nn.init.uniform_, torch.nn.init.normal_, torch.nn.init.kaiming_uniform_) == originals
    torch.nn.Linear(8, 8)
    assert not torch.equal(torch.random.get_rng_state(), state)
