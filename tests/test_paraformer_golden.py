"""Golden parity with FunASR 1.4.16 (tests/fixtures/paraformer/, made by tools/make_fixtures/make_paraformer.py).

Per clip and model: encoder output, CIF alphas, token count, acoustic embeddings, decoder
log-probs (``DECODER_ATOL``) and BiCif upsampled alphas/peaks within ``ATOL`` given FunASR's own features (they are
bit-identical on the machine that made them); our features within the frontend's measured
cross-CPU bound (tests/test_frontend_fixtures.py); token ids, tokens, text and timestamps from
our own features identical; score within ``SCORE_ATOL``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch
from test_frontend_fixtures import ATOL as FEATS_ATOL

from funasr_lite.models.paraformer import load_paraformer
from funasr_lite.postprocess import ids_to_tokens, tokens_to_text

FIX = Path(__file__).parent / "fixtures"
GOLDEN = FIX / "paraformer"
FILES = sorted(GOLDEN.glob("*.npz"))
ATOL = 1e-5
# FunASR's own decoder log-probs move by up to 1.72e-5 under other instruction sets
# (tools/make_fixtures/isa_spread.py, docs/compatibility.md); its other tensors by <= 4.8e-6
DECODER_ATOL = 5e-5
SCORE_ATOL = 1e-4


def _model_name(path: Path) -> str:
    return "bicif_paraformer_tiny" if path.name.startswith("bicif_paraformer_tiny_") else "paraformer_tiny"


@cache
def _load(name: str):
    return load_paraformer(FIX / "models" / name)


def _run(path: Path):
    model, frontend, tokens = _load(_model_name(path))
    d = np.load(path)
    wave = torch.from_numpy(d["waveform"])[None]
    feats, lens = frontend(wave, [wave.shape[1]])
    return d, model, tokens, feats, lens


def test_golden_fixtures_present():
    assert FILES, f"no golden fixtures in {GOLDEN}: run tools/make_fixtures/make_paraformer.py"
    names = {_model_name(p) for p in FILES}
    assert names == {"paraformer_tiny", "bicif_paraformer_tiny"}, names


def _close(ours: torch.Tensor, ref: np.ndarray, what: str, atol: float = ATOL) -> None:
    ref_t = torch.from_numpy(np.asarray(ref))
    assert ours.shape == ref_t.shape, f"{what}: shape {tuple(ours.shape)} vs {tuple(ref_t.shape)}"
    diff = (ours.float() - ref_t.float()).abs().max().item() if ours.numel() else 0.0
    assert diff <= atol, f"{what}: max abs diff {diff:g} > {atol:g}"


@pytest.mark.parametrize("path", FILES or [None], ids=lambda p: p.stem if p else "missing")
def test_intermediate_tensors(path):
    if path is None:
        pytest.fail(f"no golden fixtures in {GOLDEN}")
    d, model, _, feats, lens = _run(path)
    _close(feats[0], d["feats"], "feats", FEATS_ATOL)
    # the model on FunASR's own features: its tensors are compared given identical input
    funasr_feats = torch.from_numpy(d["feats"])[None]
    out = model.forward_outputs(funasr_feats, torch.tensor([funasr_feats.shape[1]]))
    T = int(d["encoder_out_lens"])
    assert int(out.encoder_out_lens[0]) == T
    _close(out.encoder_out[0, :T], d["encoder_out"], "encoder_out")
    _close(out.alphas[0], d["alphas_tail"], "alphas (with tail)")
    _close(out.peaks[0], d["cif_peak"], "cif peaks")
    assert float(out.token_num[0]) == float(d["pre_token_length"])
    assert int(out.pre_token_length[0]) == int(d["num_tokens"])
    _close(out.acoustic_embeds[0], d["pre_acoustic_embeds"], "pre_acoustic_embeds")
    _close(out.decoder_logp[0], d["decoder_logp"], "decoder_logp", DECODER_ATOL)
    if "us_alphas" in d:
        _close(out.us_alphas[0], d["us_alphas"], "us_alphas")
        _close(out.us_peaks[0], d["us_peaks"], "us_peaks")
    else:
        assert out.us_alphas is None


@pytest.mark.parametrize("path", FILES or [None], ids=lambda p: p.stem if p else "missing")
def test_recognition_output(path):
    if path is None:
        pytest.fail(f"no golden fixtures in {GOLDEN}")
    d, model, token_list, feats, lens = _run(path)
    res = model.recognize(feats, lens)[0]
    assert res.token_ids == d["token_ids"].tolist()
    tokens = ids_to_tokens(res.token_ids, token_list)
    assert " ".join(tokens) == str(d["tokens"])
    assert abs(res.score - float(d["score"])) <= SCORE_ATOL
    if "timestamp" in d:
        assert res.timestamps == d["timestamp_raw"].tolist()
        text = tokens_to_text(tokens, res.timestamps)
        assert text.timestamps == d["timestamp"].tolist()
    else:
        assert res.timestamps is None
        text = tokens_to_text(tokens)
    assert text.text == str(d["text"])


def test_generate_json_results():
    """Text/timestamps equal FunASR ``AutoModel.generate`` (batch 1) for every clip."""
    gen = json.loads((GOLDEN / "generate.json").read_text(encoding="utf-8"))
    assert gen and set(gen) == {p.stem for p in FILES}
    for key, ref in gen.items():
        _, model, token_list, feats, lens = _run(GOLDEN / f"{key}.npz")
        res = model.recognize(feats, lens)[0]
        tokens = ids_to_tokens(res.token_ids, token_list)
        text = tokens_to_text(tokens, res.timestamps)
        assert text.text == ref["text"], key
        if "timestamp" in ref:
            assert text.timestamps == ref["timestamp"], key
