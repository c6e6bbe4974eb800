"""Plain Paraformer CIF-peak timestamps against FunASR 1.4.16.

Fixtures: tests/fixtures/paraformer_timestamps/ (tools/make_fixtures/make_paraformer_timestamps.py):
FunASR's ``AutoModel(paraformer_tiny).generate(input=wave, output_timestamp=True)`` on 6 clips (the
4 of tests/fixtures/paraformer/ and 2 longer ones), the ``ts_prediction_lfr6_standard`` call it made
(raw timestamps and string), and FunASR's function on hand-made inputs for the branches the random
model does not reach. The recorded tie margins (rescaled running sum vs the 1-1e-4 threshold, token
fires vs integers) are far above the cross-CPU spread of the alphas (<= 1e-5), so the timestamps are
identical on any CPU.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch

from funasr_lite.models.paraformer import load_paraformer
from funasr_lite.postprocess import ids_to_tokens, tokens_to_text
from funasr_lite.postprocess.timestamps import cif_peak_timestamps, ts_prediction_lfr6_standard

FIX = Path(__file__).parent / "fixtures"
REF = json.loads((FIX / "paraformer_timestamps" / "results.json").read_text(encoding="utf-8"))
NEW_CLIPS = np.load(FIX / "paraformer_timestamps" / "clips.npz")
CLIPS = list(REF["clips"])


def _wave(clip: str) -> np.ndarray:
    if clip in NEW_CLIPS.files:
        return NEW_CLIPS[clip].astype(np.float32) / 32768.0
    return np.load(FIX / "paraformer" / f"paraformer_tiny_{clip}.npz")["waveform"]


@cache
def _model():
    return load_paraformer(FIX / "models" / "paraformer_tiny")


def _recognize(waves: list[np.ndarray], timestamps: bool):
    model, frontend, token_list = _model()
    lens = [len(w) for w in waves]
    batch = torch.zeros(len(waves), max(lens))
    for i, w in enumerate(waves):
        batch[i, : len(w)] = torch.from_numpy(w)
    feats, feat_lens = frontend(batch, torch.tensor(lens))
    return model.recognize(feats, feat_lens, timestamps=timestamps), token_list


def test_fixture_is_meaningful() -> None:
    assert len(CLIPS) == 6
    total = 0
    for clip, e in REF["clips"].items():
        assert e["result"]["timestamp"], clip
        assert e["rescaled"]  # FunASR's alphas are never >= 1-1e-4 here: the fires are rescaled
        assert e["kwargs"] == {"vad_offset": 0, "upsample_rate": 1}
        assert e["fire_margin"] >= 3e-4 and e["cif_margin"] >= 1e-3 and e["alpha_margin"] >= 1e-3, clip
        total += len(e["tokens"])
    assert total >= 50
    # the rescaled fires of the random model are spread evenly: no silence in the real clips, so the
    # silence branches (a gap over 12 frames = 720 ms, leading/trailing silence over 5 frames) and the
    # no-rescaling branch are pinned by FunASR's function on hand-made inputs
    assert all("<sil>" not in e["timestamp_str"] for e in REF["clips"].values())
    assert sum("<sil>" in c["timestamp_str"] for c in REF["synthetic"]) == 2


@pytest.mark.parametrize("clip", CLIPS)
def test_generate_with_timestamps_matches_funasr(clip: str) -> None:
    e = REF["clips"][clip]
    (res,), token_list = _recognize([_wave(clip)], timestamps=True)
    tokens = ids_to_tokens(res.token_ids, token_list)
    assert tokens == e["tokens"]
    assert res.timestamps == e["timestamp_raw"]
    text = tokens_to_text(tokens, res.timestamps)
    assert text.text == e["result"]["text"]
    assert text.timestamps == e["result"]["timestamp"]


@pytest.mark.parametrize("clip", CLIPS)
def test_without_timestamps_unchanged(clip: str) -> None:
    """FunASR's default (no ``output_timestamp``): no timestamps, text without spaces between characters."""
    (res,), token_list = _recognize([_wave(clip)], timestamps=False)
    assert res.timestamps is None
    assert (
        tokens_to_text(ids_to_tokens(res.token_ids, token_list)).text == REF["clips"][clip]["text_without_timestamps"]
    )


def test_batched_timestamps_equal_batch_of_one() -> None:
    """One padded batch of all clips: every item gets its batch-1 (FunASR batch-1) timestamps."""
    results, _ = _recognize([_wave(c) for c in CLIPS], timestamps=True)
    for clip, res in zip(CLIPS, results):
        assert res.timestamps == REF["clips"][clip]["timestamp_raw"], clip


def test_vad_offset_shifts_every_span() -> None:
    model, frontend, _ = _model()
    w = torch.from_numpy(_wave("espeak_2p2s"))[None]
    feats, lens = frontend(w, torch.tensor([w.shape[1]]))
    (res,) = model.recognize(feats, lens, vad_offset_ms=1230, timestamps=True)
    ref = REF["clips"]["espeak_2p2s"]["timestamp_raw"]
    # FunASR adds vad_offset / 1000 s to float seconds before truncating to ms: within 1 ms of +1230
    assert len(res.timestamps) == len(ref)
    for (s, e), (s0, e0) in zip(res.timestamps, ref):
        assert abs(s - (s0 + 1230)) <= 1 and abs(e - (e0 + 1230)) <= 1


@pytest.mark.parametrize("case", REF["synthetic"], ids=lambda c: c["name"])
def test_synthetic_cases(case: dict) -> None:
    fires = torch.tensor(case["fires"], dtype=torch.float32)
    alphas = torch.tensor(case["alphas"], dtype=torch.float32)
    n = len(case["tokens"])
    assert cif_peak_timestamps(alphas, fires, n, case["vad_offset"]) == case["timestamp"]
    # FunASR's own call, argument order included
    s, ts = ts_prediction_lfr6_standard(fires, alphas, case["tokens"], vad_offset=case["vad_offset"], upsample_rate=1)
    assert (s, ts) == (case["timestamp_str"], case["timestamp"])
    assert fires.tolist() == torch.tensor(case["fires"], dtype=torch.float32).tolist()  # input not rescaled in place


def test_automodel_output_timestamp_and_pred_timestamp() -> None:
    """``AutoModel.generate``: FunASR's options and their precedence (``pred_timestamp`` wins)."""
    from funasr_lite import AutoModel

    m = AutoModel(model=str(FIX / "models" / "paraformer_tiny"), device="cpu", disable_update=True)
    clips = ["espeak_2p2s", "speechlike_4s"]
    waves = [_wave(c) for c in clips]
    for kw in (
        {"output_timestamp": True},
        {"pred_timestamp": True},
        {"pred_timestamp": True, "output_timestamp": False},
    ):
        got = m.generate(input=waves, key=clips, **kw)
        assert [{k: r[k] for k in ("key", "text", "timestamp")} for r in got] == [
            REF["clips"][c]["result"] for c in clips
        ], kw
    for kw in ({}, {"output_timestamp": False}, {"pred_timestamp": False, "output_timestamp": True}):
        got = m.generate(input=waves, key=clips, **kw)
        assert [r["text"] for r in got] == [REF["clips"][c]["text_without_timestamps"] for c in clips], kw
        assert all("timestamp" not in r for r in got), kw
    # a constructor default, as FunASR merges constructor keywords into every call
    m2 = AutoModel(
        model=str(FIX / "models" / "paraformer_tiny"), device="cpu", disable_update=True, output_timestamp=True
    )
    assert m2.generate(input=waves[0], key=clips[0])[0]["timestamp"] == REF["clips"][clips[0]]["result"]["timestamp"]
