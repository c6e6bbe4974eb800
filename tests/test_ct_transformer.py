"""CT-Transformer punctuation: parameter names, strict loading, FunASR 1.4.16 parity, text rules."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch
import yaml

from funasr_lite.errors import InputError, ModelError
from funasr_lite.models.ct_transformer import CTTransformer, CTTransformerPunc, PuncResult, load_punc_model
from funasr_lite.punc import (
    WindowCut,
    expand_punc_array,
    find_cut,
    finish_text,
    normalize_punc_list,
    render_window,
    split_to_mini_sentence,
    split_words,
)

FIX = Path(__file__).parent / "fixtures"
MODELS = FIX / "models"
CASES = json.loads((FIX / "punc" / "cases.json").read_text(encoding="utf-8"))
PUNC = ["<unk>", "_", "，", "。", "？", "、"]


def jieba_version() -> str | None:
    try:
        import jieba
    except ImportError:
        return None
    return jieba.__version__


def run_folder(run: dict, tmp_path: Path) -> Path:
    """The fixture folder of a run, copied without the file FunASR was run without."""
    src = MODELS / run["model"]
    if not run["drop_file"]:
        return src
    dst = tmp_path / run["model"]
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(run["drop_file"]))
    return dst


@pytest.fixture(scope="module")
def zh() -> CTTransformerPunc:
    return load_punc_model(MODELS / "ct_transformer_tiny")


# --- network / loading -------------------------------------------------------------------------


def test_full_size_key_names_and_shapes():
    expected = json.loads((MODELS / "keys_ct_transformer_zh.json").read_text())
    config = {
        "model_conf": {"embed_unit": 256, "att_unit": 256, "punc_list": PUNC},
        "encoder": "SANMEncoder",
        "encoder_conf": {
            "input_size": 256,
            "output_size": 256,
            "attention_heads": 8,
            "linear_units": 1024,
            "num_blocks": 4,
            "input_layer": "pe",
            "kernel_size": 11,
            "sanm_shfit": 0,
            "padding_idx": 0,
        },
    }
    with torch.device("meta"):
        model = CTTransformer.from_config(config, 272727)
    got = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert list(got) == list(expected)
    assert got == expected
    assert len(got) == 57 and sum(v.numel() for v in model.state_dict().values()) == 72990470


@pytest.mark.parametrize("name", ["ct_transformer_tiny", "ct_transformer_cnen_tiny"])
def test_strict_load_of_tiny_folders(name):
    p = load_punc_model(MODELS / name)
    saved = torch.load(MODELS / name / "model.pt", weights_only=True)
    got = p.model.state_dict()
    assert got.keys() == saved.keys() and all(torch.equal(got[k], saved[k]) for k in saved)
    assert not p.model.training
    assert p.punc_list == PUNC
    assert (p.cut is not None) == (name == "ct_transformer_cnen_tiny")


def test_checkpoint_mismatch_is_reported(tmp_path):
    d = tmp_path / "m"
    shutil.copytree(MODELS / "ct_transformer_tiny", d)
    sd = torch.load(d / "model.pt", weights_only=True)
    del sd["decoder.bias"]
    torch.save(sd, d / "model.pt")
    with pytest.raises(ModelError, match="decoder.bias"):
        load_punc_model(d)


def test_not_a_punc_folder():
    with pytest.raises(ModelError, match="not a CT-Transformer"):
        load_punc_model(MODELS / "paraformer_tiny")


def test_0x_folder_builds_the_same_model(tmp_path, zh):
    """0.x layout: punc.yaml (punctuation: target_delay, punctuation_conf), config.yaml with an
    inline token_list and ASCII `,`/`?` in punc_list, punc.pb with `punc_model.` keys."""
    src = MODELS / "ct_transformer_tiny"
    d = tmp_path / "punc_0x"
    d.mkdir()
    tokens = json.loads((src / "tokens.json").read_text(encoding="utf-8"))
    (d / "punc.yaml").write_text(
        yaml.safe_dump(
            {
                "punctuation": "target_delay",
                "punctuation_conf": {
                    "embed_unit": 16,
                    "att_unit": 16,
                    "head": 2,
                    "unit": 32,
                    "layer": 2,
                    "dropout_rate": 0.1,
                },
            }
        ),
        encoding="utf-8",
    )
    (d / "config.yaml").write_text(
        yaml.safe_dump({"token_list": tokens, "punc_list": ["<unk>", "_", ",", "。", "?", "、"]}, allow_unicode=True),
        encoding="utf-8",
    )
    sd = torch.load(src / "model.pt", weights_only=True)
    torch.save({"punc_model." + k: v for k, v in sd.items()}, d / "punc.pb")
    p = load_punc_model(d)
    assert p.punc_list == PUNC
    for case in CASES["runs"]["ct_transformer_tiny"]["cases"].values():
        if len(case["input"]) > 130:
            continue  # keep the test fast; the long cases run against the 1.x folder
        got = p.punctuate(case["input"])
        assert (got.text, got.punc_array) == (case["text"], case["punc_array"] or [])


# --- FunASR parity ------------------------------------------------------------------------------


def _parity_params():
    for run_name, run in CASES["runs"].items():
        for case_name in run["cases"]:
            yield pytest.param(run_name, case_name, id=f"{run_name}-{case_name}")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    cache: dict[str, CTTransformerPunc] = {}

    def get(run_name: str) -> CTTransformerPunc:
        if run_name not in cache:
            run = CASES["runs"][run_name]
            cache[run_name] = load_punc_model(run_folder(run, tmp_path_factory.mktemp(run_name)))
        return cache[run_name]

    return get


@pytest.mark.parametrize("run_name,case_name", list(_parity_params()))
def test_funasr_generate_parity(loaded, run_name, case_name):
    run = CASES["runs"][run_name]
    if run["uses_jieba"] and jieba_version() != CASES["jieba"]:
        pytest.skip(f"jieba {jieba_version()} installed; the fixtures were made with jieba {CASES['jieba']}")
    case = run["cases"][case_name]
    p = loaded(run_name)
    assert (p.cut is not None) == run["uses_jieba"]
    got = p.punctuate(case["input"])
    assert got.text == case["text"]
    assert got.punc_array == (case["punc_array"] or [])  # FunASR: None for empty input


@pytest.mark.parametrize("run_name", sorted(CASES["runs"]))
def test_punctuate_many_gives_each_text_funasrs_answer(loaded, run_name):
    """All of a run's FunASR cases at once (windows of different texts share padded batches,
    texts of 1 to many windows, an empty text): each gets FunASR's own result."""
    run = CASES["runs"][run_name]
    if run["uses_jieba"] and jieba_version() != CASES["jieba"]:
        pytest.skip(f"jieba {jieba_version()} installed; the fixtures were made with jieba {CASES['jieba']}")
    cases = list(run["cases"].values())
    got = loaded(run_name).punctuate_many([c["input"] for c in cases] + [""])
    assert [g.text for g in got] == [c["text"] for c in cases] + [""]
    assert [g.punc_array for g in got] == [c["punc_array"] or [] for c in cases] + [[]]


def test_fixtures_exercise_every_label_and_the_forced_cut():
    hist = [sum(x) for x in zip(*(r["label_histogram"] for r in CASES["runs"].values()))]
    assert all(n > 0 for n in hist)
    assert all(n > 0 for n in CASES["runs"]["ct_transformer_cnen_tiny"]["label_histogram"])
    assert CASES["funasr"] == "1.4.16"


def test_jieba_version_matches_fixtures():
    """The word-level fixtures were made with jieba 0.42.1; pin it (setup.py)."""
    v = jieba_version()
    if v is None:
        pytest.skip("jieba not installed")
    assert v == CASES["jieba"]


# --- windowing, by hand -------------------------------------------------------------------------


class ScriptedPunc(CTTransformerPunc):
    """Labels come from a word -> label table (default `_`); records the windows the model saw."""

    def __init__(self, zh: CTTransformerPunc, table: dict[str, int]) -> None:
        super().__init__(zh.model, zh.token_list, PUNC)
        self.table = {self.token2id[w]: lab for w, lab in table.items()}
        self.windows: list[list[int]] = []

    def labels_many(self, windows):
        self.windows += [list(ids) for ids in windows]
        return [[self.table.get(i, 1) for i in ids] for ids in windows]


def test_carry_over_without_sentence_end(zh):
    p = ScriptedPunc(zh, {})
    res = p.punctuate("你" * 45)
    assert [len(w) for w in p.windows] == [20, 40, 45]  # whole windows carried over
    assert res.text == "你" * 45 + "。"
    assert res.punc_array == [1] * 44 + [3]


def test_cut_after_last_sentence_end_in_range(zh):
    p = ScriptedPunc(zh, {"好": 3})
    # 好 at index 5 and 19 (= len-1: never a cut point) of the first window -> cut after 5
    text = "你" * 5 + "好" + "你" * 13 + "好" + "世" * 10
    res = p.punctuate(text)
    assert [len(w) for w in p.windows] == [20, 24]
    assert res.text == "你" * 5 + "好。" + "你" * 13 + "好。" + "世" * 10 + "。"
    assert res.punc_array == [1] * 5 + [3] + [1] * 13 + [3] + [1] * 9 + [3]


def test_sentence_end_at_index_1_is_not_a_cut(zh):
    p = ScriptedPunc(zh, {"好": 4})
    res = p.punctuate("你好" + "你" * 18 + "世")
    assert [len(w) for w in p.windows] == [20, 21]
    assert res.text == "你好？" + "你" * 18 + "世。"


def test_forced_comma_cut_after_200(zh):
    p = ScriptedPunc(zh, {"好": 2})
    text = "".join("好" if i % 50 == 7 else "你" for i in range(230))
    res = p.punctuate(text)
    sizes = [len(w) for w in p.windows]
    assert sizes[:11] == [20 * k for k in range(1, 12)]  # 200 is not > 200: still carried
    # window of 220: last comma in [2, 218] is at 207 -> relabelled as sentence end
    assert sizes[11] == 230 - 208
    assert res.punc_array[207] == 3 and res.punc_array[57] == 2
    first, rest = res.text.split("。", 1)
    assert first.endswith("好") and first.count("，") == 4 and rest.endswith("你。")
    assert res.text.count("。") == 2


def test_no_comma_cut_without_long_window(zh):
    assert find_cut([1, 1, 1, 2, 1, 1], PUNC).keep == 0
    assert find_cut([1] * 150 + [2] + [1] * 50, PUNC) == WindowCut(151, forced=True)
    assert find_cut([1] * 150 + [2] + [1] * 49, PUNC) == WindowCut(0)  # 200 words: not > 200
    assert find_cut([1] * 200 + [2], PUNC).keep == 0  # the last word is never a cut point
    assert find_cut([1, 1, 3, 1, 4, 1, 3], PUNC).keep == 5
    assert find_cut([3, 3, 1, 1], PUNC).keep == 0


# --- surface text rules --------------------------------------------------------------------------


def test_render_capitalisation_spaces_and_ascii_marks():
    words = ["hello", "world", "你", "好", "iPHONE", "is", "ok", "吗"]
    labels = [2, 3, 1, 3, 1, 4, 1, 4]
    assert render_window(words, labels, PUNC) == " Hello, world.你好。Iphone is? Ok吗？"
    assert render_window(["你", "ok"], [5, 0], PUNC) == "你、ok<unk>"
    assert render_window(["3d", "打"], [1, 1], PUNC) == " 3d打"
    assert render_window(["ABC"], [1], PUNC) == " Abc"


def test_finish_text():
    assert finish_text("你好，") == ("你好。", True)
    assert finish_text("你好、") == ("你好。", True)
    assert finish_text(" Hello,") == (" Hello.", True)
    assert finish_text("你好") == ("你好。", True)
    assert finish_text("你好？") == ("你好？", False)
    assert finish_text(" ok") == (" ok.", True)
    assert finish_text(" ok?") == (" ok?", False)
    assert finish_text("你<unk>") == ("你<unk>.", True)


def test_punc_list_normalisation_is_idempotent():
    ascii_list = ["<unk>", "_", ",", "。", "?", "、"]
    assert normalize_punc_list(ascii_list) == PUNC
    assert normalize_punc_list(normalize_punc_list(ascii_list)) == PUNC


def test_expand_punc_array_keeps_funasr_typo_range():
    words = ["你好", "hello", "2024", "鿐鿐", "\u0e01\u0e02", "卡拉OK", "好"]
    labels = [2, 1, 1, 3, 1, 4, 3]
    assert expand_punc_array(words, labels) == [1, 2, 1, 1, 3, 1, 1, 1, 1, 1, 4, 3]


# --- word splitting ------------------------------------------------------------------------------


def test_split_words_char_level():
    assert split_words("欢 迎hello大家 a1b2c 你") == ["欢", "迎", "hello", "大", "家", "a1b2c", "你"]


def test_split_words_jieba_grouping():
    seen = []

    def cut(s):
        seen.append(s)
        return [s]

    assert split_words("欢 迎 hello don't 大家 12 hello3", cut) == ["欢迎", "hello", "don't", "大家12hello3"]
    assert seen == ["欢迎", "大家12hello3"]


def test_split_to_mini_sentence():
    assert split_to_mini_sentence(list(range(5)), 20) == [list(range(5))]
    assert [len(c) for c in split_to_mini_sentence(list(range(45)), 20)] == [20, 20, 5]
    assert [len(c) for c in split_to_mini_sentence(list(range(40)), 20)] == [20, 20]
    with pytest.raises(ValueError):
        split_to_mini_sentence([1, 2], 1)


def test_unknown_words_use_unk_id(zh):
    p = ScriptedPunc(zh, {})
    p.punctuate("猫你")
    assert p.windows == [[zh.unk_id, zh.token2id["你"]]]


# --- jieba availability, bad input ----------------------------------------------------------------


def test_missing_jieba_usr_dict_falls_back_to_char_split(tmp_path):
    d = tmp_path / "m"
    shutil.copytree(MODELS / "ct_transformer_cnen_tiny", d, ignore=shutil.ignore_patterns("jieba_usr_dict"))
    assert load_punc_model(d).cut is None


def test_jieba_usr_dict_not_in_file_path_metas_is_ignored(tmp_path):
    """FunASR only passes jieba_usr_dict on when configuration.json names it (or there is none)."""
    d = tmp_path / "m"
    shutil.copytree(MODELS / "ct_transformer_cnen_tiny", d)
    meta = json.loads((d / "configuration.json").read_text(encoding="utf-8"))
    del meta["file_path_metas"]["jieba_usr_dict"]
    (d / "configuration.json").write_text(json.dumps(meta), encoding="utf-8")
    assert load_punc_model(d).cut is None
    (d / "configuration.json").unlink()
    assert load_punc_model(d).cut is not None


def test_jieba_not_installed_is_a_model_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "jieba", None)
    with pytest.raises(ModelError, match="needs jieba"):
        load_punc_model(MODELS / "ct_transformer_cnen_tiny")


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text(zh, text):
    assert zh.punctuate(text) == PuncResult("", [])


@pytest.mark.parametrize("bad", [None, 3, b"abc", ["你好"]])
def test_non_str_input(zh, bad):
    with pytest.raises(InputError, match="must be a str"):
        zh.punctuate(bad)
