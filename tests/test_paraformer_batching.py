"""A padded batch gives every item exactly its batch-of-one result (FunASR's batches do not, trap 3)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from funasr_lite.models.paraformer import BiCifParaformer, Paraformer, load_paraformer
from funasr_lite.postprocess import ids_to_tokens, tokens_to_text

FIX = Path(__file__).parent / "fixtures"
MODELS = ["paraformer_tiny", "bicif_paraformer_tiny"]
SCORE_ATOL = 1e-4
TENSOR_ATOL = 1e-5  # FunASR's padding leaks are 1e-4 .. 1e-1 (generate_batched.json)


def _pad(items: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    lens = torch.tensor([x.shape[0] for x in items])
    out = items[0].new_zeros((len(items), int(lens.max()), *items[0].shape[1:]))
    for i, x in enumerate(items):
        out[i, : x.shape[0]] = x
    return out, lens


def _assert_same(model, feats: list[torch.Tensor]) -> None:
    batch, lens = _pad(feats)
    batched = model.recognize(batch, lens)
    out_b = model.forward_outputs(batch, lens)
    assert len(batched) == len(feats)
    for i, f in enumerate(feats):
        n = f.shape[0]
        single = model.recognize(f[None], torch.tensor([n]))[0]
        out_1 = model.forward_outputs(f[None], torch.tensor([n]))
        assert torch.allclose(out_b.encoder_out[i, :n], out_1.encoder_out[0], atol=TENSOR_ATOL)
        assert torch.allclose(out_b.alphas[i, : n + 1], out_1.alphas[0], atol=TENSOR_ATOL)
        assert float(out_b.token_num[i]) == float(out_1.token_num[0])
        if out_1.us_alphas is not None:
            up = model.predictor.upsample_times
            assert torch.allclose(out_b.us_alphas[i, : n * up], out_1.us_alphas[0], atol=TENSOR_ATOL)
        assert batched[i].token_ids == single.token_ids, i
        assert batched[i].timestamps == single.timestamps, i
        assert abs(batched[i].score - single.score) <= SCORE_ATOL, i


def _clip_waves(name: str) -> dict[str, np.ndarray]:
    files = sorted((FIX / "paraformer").glob(f"{name}_*.npz"))
    assert files, "golden fixtures missing: run tools/make_fixtures/make_paraformer.py"
    waves = {p.stem: np.load(p)["waveform"] for p in files}
    waves["paraformer_0p3s"] = np.load(FIX / "frontend" / "paraformer_0p3s.npz")["waveform"]
    return waves


@pytest.mark.parametrize("name", MODELS)
def test_batched_equals_unbatched_on_clips(name):
    """Five clips of mixed lengths (0.3 s .. 3.5 s), batched together vs one by one."""
    model, frontend, _ = load_paraformer(FIX / "models" / name)
    feats = []
    for w in _clip_waves(name).values():
        f, n = frontend(torch.from_numpy(w)[None], [len(w)])
        feats.append(f[0, : int(n[0])])
    _assert_same(model, feats)
    _assert_same(model, feats[::-1])


@pytest.mark.parametrize("name", MODELS)
def test_batched_matches_funasr_batch1_where_funasr_batched_differs(name):
    """FunASR's own batched generate() changes some texts; ours gives the batch-1 texts."""
    batched = json.loads((FIX / "paraformer" / "generate_batched.json").read_text(encoding="utf-8"))[name]
    gen1 = json.loads((FIX / "paraformer" / "generate.json").read_text(encoding="utf-8"))
    keys = list(batched["results"])
    model, frontend, token_list = load_paraformer(FIX / "models" / name)
    waves = [torch.from_numpy(np.load(FIX / "paraformer" / f"{k}.npz")["waveform"]) for k in keys]
    wav, wav_lens = _pad(waves)
    feats, lens = frontend(wav, wav_lens)
    results = model.recognize(feats, lens)
    differs = 0
    for key, res in zip(keys, results):
        text = tokens_to_text(ids_to_tokens(res.token_ids, token_list), res.timestamps)
        assert text.text == gen1[key]["text"], key
        assert text.timestamps == gen1[key].get("timestamp"), key
        differs += batched["results"][key]["text"] != gen1[key]["text"]
    assert differs >= 1, "FunASR's batched run was expected to differ from batch 1 on at least one clip"


def _random_model(cls, seed: int):
    torch.manual_seed(seed)
    cfg = {
        "encoder": "SANMEncoder",
        "encoder_conf": {
            "output_size": 24,
            "attention_heads": 3,
            "linear_units": 40,
            "num_blocks": 3,
            "kernel_size": 5,
            "sanm_shfit": 1,
        },
        "decoder": "ParaformerSANMDecoder",
        # num_blocks > att_layer_num: exercises decoders2 (FSMN-only layers)
        "decoder_conf": {
            "attention_heads": 2,
            "linear_units": 40,
            "num_blocks": 3,
            "att_layer_num": 2,
            "kernel_size": 7,
            "sanm_shfit": 0,
        },
        "predictor": "CifPredictorV3" if cls is BiCifParaformer else "CifPredictorV2",
        "predictor_conf": {"idim": 24, "threshold": 1.0, "l_order": 1, "r_order": 1, "tail_threshold": 0.45},
        "frontend_conf": {"n_mels": 8, "lfr_m": 2},
    }
    if cls is BiCifParaformer:
        cfg["predictor_conf"].update(
            {
                "smooth_factor2": 0.25,
                "noise_threshold2": 0.01,
                "upsample_times": 3,
                "use_cif1_cnn": False,
                "upsample_type": "cnn_blstm",
            }
        )
    model = cls.from_config(cfg, 30).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():  # non-trivial norms/biases so padding leaks would show
            if "norm" in name or name.endswith("bias"):
                p.add_(torch.randn_like(p) * 0.3)
    return model


@pytest.mark.parametrize("cls", [Paraformer, BiCifParaformer])
def test_batched_equals_unbatched_random(cls):
    model = _random_model(cls, 0)
    gen = torch.Generator().manual_seed(1)
    lengths = [1, 2, 9, 23, 40, 57]
    feats = [torch.randn(n, 16, generator=gen) * 2 for n in lengths]
    single = [model.recognize(f[None], torch.tensor([len(f)]))[0] for f in feats]
    assert sum(len(r.token_ids) for r in single) > 10  # the random model does emit tokens
    _assert_same(model, feats)
    # garbage in the padding must not matter either
    batch, lens = _pad(feats)
    for i, n in enumerate(lens.tolist()):
        batch[i, n:] = 1e3
    for r, s in zip(model.recognize(batch, lens), single):
        assert r.token_ids == s.token_ids and r.timestamps == s.timestamps


def test_zero_token_items_in_a_batch():
    """An item with no frames / no token gets an empty result; the others are unaffected."""
    model = _random_model(BiCifParaformer, 3)
    feats = [torch.randn(30, 16), torch.zeros(0, 16), torch.randn(12, 16)]
    batch, lens = _pad(feats)
    res = model.recognize(batch, lens)
    assert res[1].token_ids == [] and res[1].timestamps == [] and res[1].score == 0.0
    for i in (0, 2):
        one = model.recognize(feats[i][None], torch.tensor([len(feats[i])]))[0]
        assert res[i].token_ids == one.token_ids and res[i].timestamps == one.timestamps
