"""Token -> text (FunASR ``sentence_postprocess``) and BiCif timestamp rules (``ts_prediction_lfr6_standard``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from funasr_lite.postprocess import token_timestamps, tokens_to_text, ts_prediction_lfr6_standard
from funasr_lite.postprocess.text import abbr_dispose, is_all_alpha, is_all_chinese, is_chinese
from funasr_lite.postprocess.timestamps import cif_peaks

CASES_FILE = Path(__file__).parent / "fixtures" / "paraformer" / "postprocess.json"
CASES = json.loads(CASES_FILE.read_text(encoding="utf-8")) if CASES_FILE.is_file() else []


def test_postprocess_cases_present():
    assert CASES, f"{CASES_FILE} missing: run tools/make_fixtures/make_paraformer.py"


@pytest.mark.parametrize("case", CASES or [None], ids=lambda c: c["name"] if c else "missing")
def test_funasr_postprocess_cases(case):
    if case is None:
        pytest.fail(f"{CASES_FILE} missing")
    r = tokens_to_text(case["tokens"], case["timestamp_in"])
    assert r.text == case["text"]
    assert r.words == case["words"]
    assert r.timestamps == case["timestamp_out"]


# ---- hand-written token -> text cases -------------------------------------------------------
TS = [[0, 100], [100, 200], [200, 300], [300, 400], [400, 500]]


@pytest.mark.parametrize(
    "tokens,ts,text,ts_out",
    [
        (["欢", "迎", "大", "家"], None, "欢迎大家", None),
        (["欢", "迎", "大", "家"], TS[:4], "欢 迎 大 家", TS[:4]),  # space-separated with timestamps
        (["he@@", "llo", "wor@@", "ld"], None, "hello world", None),
        (["he@@", "llo", "wor@@", "ld"], TS[:4], "hello world", [[0, 200], [200, 400]]),
        (["你", "he@@", "llo", "好"], None, "你hello好", None),  # no space before a CJK char
        (["the", "你"], None, "the你", None),
        (["a", "b", "c", "的"], None, "ABC的", None),  # single letters -> upper-case abbreviation
        (["a", "b", "c"], TS[:3], "ABC", [[0, 300]]),
        # <unk> leaves the words but not the timestamps: later words get earlier times (FunASR)
        (["你", "<unk>", "好"], TS[:3], "你 好", [[0, 100], [100, 200]]),
        (["<unk>", "好"], TS[:2], "好", [[0, 100]]),
        (["he@@", "<unk>", "llo"], None, "hello", None),
        (["wor@@"], None, "", None),  # a dangling piece is dropped
        ([], None, "", None),
    ],
)
def test_tokens_to_text_hand_cases(tokens, ts, text, ts_out):
    r = tokens_to_text(tokens, ts)
    assert r.text == text
    assert r.timestamps == ts_out


def test_funasr_string_comparisons_kept():
    assert is_chinese("你") and is_chinese("7") and is_chinese("@")
    assert is_chinese("你好")  # multi-char tokens compare as strings (FunASR)
    assert not is_chinese("a") and not is_chinese("")
    assert is_all_chinese(["你", "1"]) and not is_all_chinese([])
    assert is_all_alpha(["hello", "it's"]) is False  # "it's" is not isalpha
    assert is_all_alpha(["hello", "'"]) and not is_all_alpha(["he@@"])
    assert tokens_to_text([b"\xe4\xbd\xa0"]).text == "你"  # bytes are decoded


def test_abbr_dispose_timestamps_by_non_space_index():
    words, ts = abbr_dispose(["x", " ", "y", " ", "z", "好"], [[0, 1], [1, 2], [2, 3], [3, 4]])
    assert words == ["XYZ", "好"] and ts == [[0, 3], [3, 4]]


# ---- timestamps: hand-computed from funasr/utils/timestamp_tools.py ts_prediction_lfr6_standard ----
def _peaks(n: int, at: list[int]) -> torch.Tensor:
    p = torch.zeros(n)
    p[at] = 1.0
    return p


def test_timestamps_leading_and_trailing_silence():
    # fires at 10, 20, 30 (+ shift -1.5 -> 8.5, 18.5, 28.5); 40 frames of 20 ms
    # 8.5 > 5: leading <sil> [0, 170]; tokens [170, 370], [370, ...]
    # 40 - 28.5 = 11.5 > 5: end = (40 + 28.5) / 2 = 34.25 -> 685; <sil> [685, 800]
    text, ts = ts_prediction_lfr6_standard(torch.zeros(40), _peaks(40, [10, 20, 30]), ["a", "b"])
    assert ts == [[170, 370], [370, 685]]
    assert text == "<sil> 0.000 0.170;a 0.170 0.370;b 0.370 0.685;<sil> 0.685 0.800;"


def test_timestamps_long_token_is_cut_at_12_frames():
    # fires 2, 30, 33 -> 0.5, 28.5, 31.5; gap 28 > 12: token0 [0.5, 12.5] = [10, 250], <sil> after
    # tail 35 - 31.5 = 3.5 <= 5: last token ends at 35 frames = 700 ms
    assert token_timestamps(torch.zeros(35), _peaks(35, [2, 30, 33]), 2) == [[10, 250], [570, 700]]


def test_timestamps_peaks_recomputed_and_input_not_mutated():
    # peaks do not give tokens + 1 fires: alphas rescaled to sum 2 (0.25 each), peaks recomputed
    # with threshold 0.9999: fires at 3 and 7 -> 1.5, 5.5 -> [30, 110]; tail 8 - 5.5 <= 5 -> ends at 160
    alphas = torch.full((8,), 0.5)
    before = alphas.clone()
    assert token_timestamps(alphas, torch.zeros(8), 1) == [[30, 160]]
    assert torch.equal(alphas, before)  # FunASR rescales its argument in place; we do not


def test_timestamps_int_truncation_and_vad_offset():
    # fires 6, 10 -> 4.5, 8.5; start 4.5 * 0.02 + 0.010 s = 0.09999999999999999 s -> 99 ms (not 100)
    assert token_timestamps(torch.zeros(12), _peaks(12, [6, 10]), 1, vad_offset=10) == [[99, 250]]
    assert token_timestamps(torch.zeros(12), _peaks(12, [6, 10]), 1) == [[90, 240]]


def test_timestamps_trailing_eos_dropped_and_empty():
    assert ts_prediction_lfr6_standard(torch.zeros(12), _peaks(12, [6, 10]), ["a", "</s>"])[1] == [[90, 240]]
    assert ts_prediction_lfr6_standard(torch.zeros(12), torch.zeros(12), []) == ("", [])


def test_cif_peaks_threshold():
    fires = cif_peaks(torch.tensor([[0.5, 0.5, 0.5, 0.5]]), 1.0 - 1e-4)
    assert torch.allclose(fires, torch.tensor([[0.5, 1.0, 0.5001, 1.0001]]))
