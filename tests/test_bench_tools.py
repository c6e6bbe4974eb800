"""bench/make_random_models.py (--tiny) and bench/long_form.py: folders load, rates are sensible, cuts are exact."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from funasr_lite import AutoModel
from funasr_lite.data.kaldi_lists import read_scp
from funasr_lite.diar.embed import extract_embeddings
from funasr_lite.modelio import load_checkpoint, open_model_dir
from funasr_lite.models.campplus import load_campplus
from funasr_lite.models.ct_transformer import load_punc_model

REPO = Path(__file__).resolve().parents[1]


def _bench(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look the module up
    spec.loader.exec_module(mod)
    return mod


mrm = _bench("make_random_models")
long_form = _bench("long_form")


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("random_models")
    assert mrm.main(["--out", str(out), "--tiny"]) == 0
    return out


def test_tiny_folders_layout(tiny_models: Path) -> None:
    info = json.loads((tiny_models / "build_info.json").read_text(encoding="utf-8"))
    assert info["preset"] == "tiny" and set(info["models"]) == set(mrm.FOLDERS.values())
    asr = open_model_dir(tiny_models / "paraformer_large_bicif")
    assert asr.model_class == "BiCifParaformer" and len(asr.token_list) == mrm.TINY.asr_vocab
    assert asr.token_list[:3] == ["<blank>", "<s>", "</s>"] and asr.token_list[-1] == "<unk>"
    assert sum(t.endswith("@@") for t in asr.token_list) == mrm.TINY.n_cont
    assert (tiny_models / "paraformer_large_bicif" / "seg_dict").is_file()
    punc = open_model_dir(tiny_models / "ct_punc_zh")
    assert punc.model_class == "CTTransformer" and len(punc.token_list) == mrm.TINY.punc_vocab
    assert punc.token_list[-1] == "<unk>" and set(asr.token_list[3 : 3 + mrm.TINY.n_chars]) <= set(punc.token_list)
    spk = open_model_dir(tiny_models / "campplus")
    assert spk.model_class == "CAMPPlus" and spk.checkpoint.name == "campplus_cn_common.bin"


def test_tiny_sample_rates(tiny_models: Path) -> None:
    sample = json.loads((tiny_models / "build_info.json").read_text(encoding="utf-8"))["sample"]
    assert 1.5 <= sample["asr"]["tokens_per_s"] <= 6.0, sample["asr"]
    assert all(r > 0 for r in sample["asr"]["per_clip_tokens_per_s"])
    assert 5 <= sample["punc"]["tokens_per_mark"] <= 30, sample["punc"]


def test_tiny_folders_decode(tiny_models: Path) -> None:
    waves = mrm.sample_waves()
    assert waves is not None, "espeak-ng is needed"
    _, wave, _ = waves[0]
    res = AutoModel(model=str(tiny_models / "paraformer_large_bicif")).generate(input=wave)[0]
    tokens = res["text"].split()
    assert 1.0 <= len(tokens) / (len(wave) / 16000) <= 8.0 and len(res["timestamp"]) == len(tokens)
    # 200 different characters of the punctuation vocabulary (the random ASR model's text can be a
    # few repeated characters, on which a random punctuation model may well put no mark at all)
    punc_dir = tiny_models / "ct_punc_zh"
    chars = [t for t in json.loads((punc_dir / "tokens.json").read_text()) if len(t) == 1 and "\u4e00" <= t <= "\u9fff"]
    punc = load_punc_model(punc_dir).punctuate(" ".join(chars[:200]))
    assert len(punc.punc_array) == 200 and any(p not in (1,) for p in punc.punc_array[:-1])
    emb = extract_embeddings(load_campplus(tiny_models / "campplus"), [wave[:24000], wave[-24000:]])
    assert emb.shape == (2, 16) and np.isfinite(emb).all() and (np.linalg.norm(emb, axis=1) > 0.1).all()


def test_tiny_build_is_deterministic(tiny_models: Path, tmp_path: Path) -> None:
    assert mrm.main(["--out", str(tmp_path), "--tiny", "--no-sample"]) == 0
    for name, weights in (
        ("paraformer_large_bicif", "model.pt"),
        ("ct_punc_zh", "model.pt"),
        ("campplus", "campplus_cn_common.bin"),
    ):
        a, b = load_checkpoint(tiny_models / name / weights), load_checkpoint(tmp_path / name / weights)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
        for f in ("config.yaml", "configuration.json", "tokens.json"):
            if (tmp_path / name / f).exists():
                assert (tmp_path / name / f).read_bytes() == (tiny_models / name / f).read_bytes()


def test_cut_points_rule() -> None:
    fs = long_form.FS
    loud = (3000 * np.sin(np.arange(40 * fs) * 0.3)).astype(np.int16)
    wave = loud.copy()
    wave[int(8.8 * fs) : int(9.2 * fs)] = 0  # pause, middle 9.0 s
    wave[int(11.8 * fs) : int(12.2 * fs)] = 0  # pause, middle 12.0 s: farther from 10 s
    cuts = long_form.cut_points(wave, 10.0)
    assert cuts[0] == (0, 9 * fs)
    assert cuts[1] == (9 * fs, 19 * fs)  # no pause in [16, 22] s -> exactly 10 s
    assert cuts[-1][1] == len(wave) and all(a[1] == b[0] for a, b in zip(cuts, cuts[1:]))
    assert long_form.cut_points(loud[: 22 * fs], 10.0) == [(0, 10 * fs), (10 * fs, 22 * fs)]
    # a tail shorter than 3 s joins the piece before it
    short = loud[: 14 * fs].copy()
    short[int(12.3 * fs) : int(12.7 * fs)] = 0  # the only pause: cut at 12.5 s leaves 1.5 s
    assert long_form.cut_points(short, 10.0) == [(0, 14 * fs)]
    assert long_form.cut_points(loud[: 5 * fs], 10.0) == [(0, 5 * fs)]


def test_long_form_small(tmp_path: Path) -> None:
    out, seg = tmp_path / "lf", tmp_path / "seg"
    assert long_form.main(["--out", str(out), "--files", "1", "--minutes", "0.2", "--segments", str(seg)]) == 0
    recs = read_scp(out / "wav.scp")
    assert len(recs) == 1
    ((rec, path),) = recs.items()
    wave, fs = sf.read(path, dtype="int16")
    assert fs == 16000 and wave.ndim == 1 and len(wave) >= 12 * fs
    assert abs(float(read_scp(out / "reco2dur")[rec]) - len(wave) / fs) < 1e-3
    assert (out / "ref.rttm").read_text().count(rec) >= 2  # two speakers take turns
    pieces = read_scp(seg / "wav.scp")
    cuts = {k: v.split() for k, v in read_scp(seg / "cuts").items()}
    assert pieces.keys() == cuts.keys() == read_scp(seg / "utt2dur").keys() and len(pieces) >= 1
    joined = np.concatenate([sf.read(p, dtype="int16")[0] for p in pieces.values()])
    assert np.array_equal(joined, wave)  # the pieces are the recording, cut without loss
    assert all(c[0] == rec for c in cuts.values()) and float(list(cuts.values())[-1][2]) == pytest.approx(
        len(wave) / fs, abs=1e-3
    )
