"""SeACo-Paraformer (hotwords) against FunASR 1.4.16 (tests/fixtures/seaco/, tests/fixtures/models/seaco_paraformer_tiny,
made by tools/make_fixtures/make_seaco.py).

Per clip and hotword case (none, "", words, unknown words, 60 words -> ASF, a .txt file), on
FunASR's own features: the bias encoder's hotword embeddings (``ATOL``), the merged decoder
log-probs (``DECODER_ATOL``), the ASF's kept hotwords, token ids and score (``SCORE_ATOL``);
from our own features: text and timestamps equal to FunASR's ``generate(hotword=...)``. The
hotword tokenisation equals FunASR's ``generate_hotwords_list`` on strings and files, with and
without ``seg_dict``. Tolerances are the Paraformer golden tests'.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from test_paraformer_golden import ATOL, DECODER_ATOL, SCORE_ATOL
from test_paraformer_model import _large_config

from funasr_lite.errors import InputError, ModelError
from funasr_lite.hotwords import HotwordTokenizer, read_seg_dict
from funasr_lite.modelio.model_dir import detect_class_from_keys, open_model_dir
from funasr_lite.models.paraformer import SeacoParaformer, load_paraformer
from funasr_lite.models.paraformer.seaco import decoder_hidden, decoder_layers
from funasr_lite.postprocess import ids_to_tokens, tokens_to_text

FIX = Path(__file__).parent / "fixtures"
MODEL = FIX / "models" / "seaco_paraformer_tiny"
GOLDEN = FIX / "seaco"
META = json.loads((GOLDEN / "meta.json").read_text(encoding="utf-8"))
CLIPS = META["clip_order"]
CASES = list(META["cases"])
GENERATE = json.loads((GOLDEN / "generate.json").read_text(encoding="utf-8"))


@cache
def _load():
    return load_paraformer(MODEL)


def _hotword_ids(d, case: str) -> list[list[int]] | None:
    key = f"{case}__hotword_ids"
    if key not in d:
        return None
    out, cur = [], []
    for i in d[key].tolist():
        if i == -1:
            out.append(cur)
            cur = []
        else:
            cur.append(i)
    return out


def _hotword_arg(case: str, tmp_path: Path) -> str | None:
    value = META["cases"][case]
    if isinstance(value, list):  # a file case: its lines
        path = tmp_path / f"{case}.txt"
        path.write_text("\n".join(value) + "\n", encoding="utf-8")
        return str(path)
    return value


def _close(ours: torch.Tensor, ref: np.ndarray, what: str, atol: float = ATOL) -> None:
    ref_t = torch.from_numpy(np.asarray(ref))
    assert ours.shape == ref_t.shape, f"{what}: shape {tuple(ours.shape)} vs {tuple(ref_t.shape)}"
    diff = (ours.float() - ref_t.float()).abs().max().item() if ours.numel() else 0.0
    assert diff <= atol, f"{what}: max abs diff {diff:g} > {atol:g}"


def test_full_size_state_dict_matches_funasr():
    """Names, shapes and order of every tensor of the official SeACo architecture equal FunASR's (meta device)."""
    expected = json.loads((FIX / "models" / "keys_seaco_paraformer_large.json").read_text())
    large = META["keys_seaco_paraformer_large"]
    cfg = _large_config(True)
    cfg["model"] = "SeacoParaformer"
    cfg["model_conf"] = large["model_conf"]
    cfg["seaco_decoder"] = "ParaformerSANMDecoder"
    cfg["seaco_decoder_conf"] = large["seaco_decoder_conf"]
    with torch.device("meta"):
        model = SeacoParaformer.from_config(cfg, 8404)
    got = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert len(got) == len(expected) == 1095
    assert list(got) == list(expected)
    assert got == {k: list(v) for k, v in expected.items()}
    assert detect_class_from_keys(got) == "SeacoParaformer"


def test_folder_is_recognised_and_loads_strictly():
    md = open_model_dir(MODEL)
    assert md.model_class == "SeacoParaformer"
    model, frontend, tokens = _load()
    assert type(model) is SeacoParaformer and not model.training
    assert model.no_bias == META["no_bias"] and len(tokens) == 61
    assert frontend.fbank_opts.dither == 0.0


@pytest.mark.parametrize("clip", CLIPS)
@pytest.mark.parametrize("case", CASES)
def test_golden_tensors_and_ids(clip, case):
    """On FunASR's features: hotword embeddings, merged log-probs, ASF choice, ids and score."""
    model, _, _ = _load()
    d = np.load(GOLDEN / f"{clip}.npz")
    feats = torch.from_numpy(d["feats"])[None]
    lens = torch.tensor([feats.shape[1]])
    hotwords = _hotword_ids(d, case)
    assert (hotwords is None) == (case == "none")
    out = model.forward_outputs(feats, lens, hotwords)
    _close(out.decoder_logp[0], d[f"{case}__logp"], "merged decoder_logp", DECODER_ATOL)
    if hotwords is not None:
        _close(model.hotword_embeddings(hotwords, torch.device("cpu")), d[f"{case}__hotword_emb"], "hotword emb")
    if f"{case}__asf_kept" in d:
        # the ASF scores the ASR decoder's hidden states (recomputed here as forward_outputs does)
        hidden = decoder_hidden(
            decoder_layers(model.decoder), model.decoder.after_norm, out.encoder_out, out.encoder_out_lens,
            out.acoustic_embeds, out.pre_token_length,
        )  # fmt: skip
        emb = model.hotword_embeddings(hotwords, torch.device("cpu"))
        keep = model.asf_keep(emb, hidden, out.pre_token_length)
        assert keep == [d[f"{case}__asf_kept"].tolist()]
        assert len(keep[0]) == 51 and len(hotwords) == 61
    res = model.recognize(feats, lens, hotwords=hotwords)[0]
    assert res.token_ids == d[f"{case}__token_ids"].tolist()
    assert abs(res.score - float(d[f"{case}__score"])) <= SCORE_ATOL


@pytest.mark.parametrize("clip", CLIPS)
@pytest.mark.parametrize("case", CASES)
def test_generate_results_from_our_features(clip, case, tmp_path):
    """Waveform -> our features -> hotwords from FunASR's argument -> text and timestamps of FunASR's generate()."""
    model, frontend, token_list = _load()
    d = np.load(GOLDEN / f"{clip}.npz")
    tokenizer = HotwordTokenizer.for_model_dir(MODEL, token_list, model.sos)
    hotwords = tokenizer(_hotword_arg(case, tmp_path))
    if hotwords is not None:
        assert hotwords == _hotword_ids(d, case)
    wave = torch.from_numpy(d["waveform"])[None]
    feats, lens = frontend(wave, [wave.shape[1]])
    res = model.recognize(feats, lens, hotwords=hotwords)[0]
    text = tokens_to_text(ids_to_tokens(res.token_ids, token_list), res.timestamps)
    ref = GENERATE[f"{clip}__{case}"]
    assert text.text == ref["text"]
    assert text.timestamps == ref["timestamp"]


def test_hotwords_change_the_output():
    """The fixtures exercise both sides of FunASR's merge: hotwords change some texts, not all positions."""
    texts = {case: {GENERATE[f"{c}__{case}"]["text"] for c in CLIPS} for case in CASES}
    assert texts["none"] != texts["words"]
    kept = [n for n in META["notes"] if "positions keep the ASR decoder" in n]
    assert any(" 0/" in n for n in kept) and any(" 0/" not in n for n in kept)


HOTWORDS = json.loads((GOLDEN / "hotwords.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", sorted(HOTWORDS["cases"]))
def test_hotword_tokenisation_matches_funasr(case, tmp_path):
    """``generate_hotwords_list`` on strings and .txt files, with and without the folder's seg_dict."""
    c = HOTWORDS["cases"][case]
    _, _, token_list = _load()
    for name, text in HOTWORDS["files"].items():
        (tmp_path / name).write_bytes(text.encode("utf-8"))
    seg = read_seg_dict(MODEL / "seg_dict") if case.endswith("__seg_dict") else None
    tok = HotwordTokenizer(token_list, seg, sos=1)
    value = c["input"]
    if value.startswith("<an existing file"):
        value = str(FIX / "frontend" / "am_560.mvn")
    value = value.replace("<tmp>", str(tmp_path))
    expected = c["ids"]
    if expected is not None:
        expected = [h for h in expected if h]  # deliberate: an empty line is skipped (FunASR's LSTM raises)
    assert tok(value) == expected


def test_hotword_inputs_funasr_lite_refuses_or_warns(tmp_path, caplog):
    _, _, token_list = _load()
    tok = HotwordTokenizer.for_model_dir(MODEL, token_list, 1)
    with pytest.raises(InputError, match="downloads nothing"):
        tok("https://example.com/hotwords.txt")
    with pytest.raises(InputError, match="must be a string"):
        tok(["你好"])  # type: ignore[arg-type]
    assert tok(str(tmp_path / "missing.txt")) is None
    assert "does not exist" in caplog.text
    assert tok(tmp_path / "missing.txt") is None  # a Path is a path
    assert tok("") == [[1]]  # FunASR: an empty string still biases (towards <s> alone)
    assert HotwordTokenizer(["<blank>", "<s>", "</s>", "你"], None, 1)("你") == [[3], [1]]
    with pytest.raises(InputError, match="no <unk>"):
        HotwordTokenizer(["<blank>", "<s>", "</s>", "你"], None, 1)("好")


@pytest.mark.parametrize("case", ["words", "many"])
def test_batched_equals_single(case):
    """A padded batch gives every item its batch-of-one ids, timestamps and log-probs (ASF chosen per item)."""
    model, frontend, _ = _load()
    waves = [torch.from_numpy(np.load(GOLDEN / f"{c}.npz")["waveform"]) for c in CLIPS]
    hotwords = _hotword_ids(np.load(GOLDEN / f"{CLIPS[0]}.npz"), case)
    single = []
    for w in waves:
        feats, lens = frontend(w[None], [len(w)])
        single.append(
            (model.recognize(feats, lens, hotwords=hotwords)[0], model.forward_outputs(feats, lens, hotwords))
        )
    batch = torch.zeros(len(waves), max(len(w) for w in waves))
    for i, w in enumerate(waves):
        batch[i, : len(w)] = w
    feats, lens = frontend(batch, [len(w) for w in waves])
    got = model.recognize(feats, lens, hotwords=hotwords)
    out = model.forward_outputs(feats, lens, hotwords)
    for i, ((res, one), b) in enumerate(zip(single, got)):
        assert (b.token_ids, b.timestamps) == (res.token_ids, res.timestamps)
        assert abs(b.score - res.score) <= SCORE_ATOL
        n = int(one.pre_token_length[0])
        _close(out.decoder_logp[i, :n], one.decoder_logp[0].numpy(), "batched logp")


def _config_with(tmp_path: Path, change) -> Path:
    import shutil

    dst = tmp_path / "m"
    shutil.copytree(MODEL, dst)
    cfg = yaml.safe_load((dst / "config.yaml").read_text(encoding="utf-8"))
    change(cfg)
    (dst / "config.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return dst


@pytest.mark.parametrize(
    "change,match",
    [
        (lambda c: c["model_conf"].update(bias_encoder_type="mean"), "bias_encoder_type"),
        (lambda c: c["model_conf"].update(inner_dim=32), "inner_dim"),
        (lambda c: c["seaco_decoder_conf"].update(use_output_layer=True), "use_output_layer"),
        (lambda c: c["seaco_decoder_conf"].update(att_layer_num=5), "att_layer_num"),
        (lambda c: c.update(predictor="CifPredictorV2"), "predictor"),
    ],
)
def test_unsupported_seaco_configs_are_refused(tmp_path, change, match):
    with pytest.raises(ModelError, match=match):
        load_paraformer(_config_with(tmp_path, change))


# ---- the hotword option through AutoModel.generate and bin/inference


def _waves() -> dict[str, np.ndarray]:
    return {c: np.load(GOLDEN / f"{c}.npz")["waveform"] for c in CLIPS}


@pytest.mark.parametrize("case", CASES)
def test_automodel_generate_hotword(case, tmp_path):
    """``generate(input=[4 clips], hotword=...)``: one batch, every item FunASR's batch-1 result."""
    from funasr_lite import AutoModel

    m = AutoModel(model=str(MODEL))
    hotword = _hotword_arg(case, tmp_path)
    kw = {} if hotword is None else {"hotword": hotword}
    got = m.generate(input=list(_waves().values()), key=CLIPS, **kw)
    for clip, g in zip(CLIPS, got):
        ref = GENERATE[f"{clip}__{case}"]
        assert (g["key"], g["text"], g["timestamp"]) == (clip, ref["text"], ref["timestamp"]), clip


def test_automodel_constructor_hotword_is_every_calls_default():
    from funasr_lite import AutoModel

    wave = _waves()[CLIPS[-1]]
    m = AutoModel(model=str(MODEL), hotword=META["cases"]["words"])
    assert m.generate(input=wave)[0]["text"] == GENERATE[f"{CLIPS[-1]}__words"]["text"]
    assert m.generate(input=wave, hotword=META["cases"]["unk"])[0]["text"] == GENERATE[f"{CLIPS[-1]}__unk"]["text"]


def test_hotword_on_a_model_without_biasing_is_ignored_with_a_warning(caplog):
    from funasr_lite import AutoModel

    m = AutoModel(model=str(FIX / "models" / "paraformer_tiny"))
    wave = _waves()[CLIPS[0]]
    plain = m.generate(input=wave)[0]
    assert m.generate(input=wave, hotword="你好")[0] == plain
    assert "hotword ignored: a Paraformer has no hotword biasing" in caplog.text


@pytest.mark.parametrize("case", ["words", "file"])
def test_bin_inference_hotword(case, tmp_path):
    """``bin/inference --hotword``: the pipeline path (DecodeOptions) gives FunASR's generate() texts."""
    import soundfile as sf

    from funasr_lite.bin import inference

    lines = []
    for clip, wave in _waves().items():
        sf.write(tmp_path / f"{clip}.wav", wave, 16000, subtype="PCM_16")
        lines.append(f"{clip} {tmp_path / f'{clip}.wav'}\n")
    (tmp_path / "wav.scp").write_text("".join(lines), encoding="utf-8")
    out = tmp_path / "out"
    argv = ["--model", str(MODEL), "--wav_scp", str(tmp_path / "wav.scp"), "--output_dir", str(out)]
    assert inference.main([*argv, "--hotword", _hotword_arg(case, tmp_path)]) == 0
    got = dict(line.split(" ", 1) for line in (out / "1best_recog" / "text").read_text(encoding="utf-8").splitlines())
    for clip in CLIPS:
        assert got[clip] == GENERATE[f"{clip}__{case}"]["text"].replace(" ", ""), clip


def test_bin_inference_bad_hotword_is_one_line(tmp_path, capsys):
    from funasr_lite.bin import inference

    (tmp_path / "wav.scp").write_text("", encoding="utf-8")
    argv = ["--model", str(MODEL), "--wav_scp", str(tmp_path / "wav.scp"), "--output_dir", str(tmp_path / "o")]
    assert inference.main([*argv, "--hotword", "http://example.com/hw.txt"]) == 1
    assert "downloads nothing" in capsys.readouterr().err
