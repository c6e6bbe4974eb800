"""Full-size random-weight model folders in FunASR's layout, for the speed benchmark (issue 7).

    python bench/make_random_models.py --out DIR [--seed 0] [--which asr,punc,spk] [--tiny] [--no-sample]

Builds with funasr_lite's own classes (funasr is never imported) and writes under DIR:

- ``paraformer_large_bicif/``: BiCif-Paraformer-large, the architecture of the official
  ``speech_paraformer-large-vad-punc_asr_nat-zh-cn-16k-common-vocab8404-pytorch`` (50 SANM encoder
  blocks, d 512; 16 decoder blocks; CifPredictorV3 with the cnn_blstm timestamp head; 8404 tokens).
  ``config.yaml`` is FunASR's template (the one ``tools/make_fixtures/check_fullsize.py`` uses),
  the folder is written by ``funasr_lite.train.asr.export.export_model_dir`` (model.pt, tokens.json,
  am.mvn = ``tests/fixtures/frontend/am_560.mvn``, seg_dict, configuration.json).
- ``ct_punc_zh/``: CT-Transformer punctuation at the size of ``punc_ct-transformer_zh-cn-common-
  vocab272727-pytorch`` (embed/att 256, 8 heads, 1024 units, 4 blocks, 272727 tokens, 6 marks).
- ``campplus/``: CAM++ (``speech_campplus_sv_zh-cn_16k-common`` layout: config.yaml +
  ``campplus_cn_common.bin`` with 3D-Speaker key names), FunASR's default size.
- ``build_info.json``: settings, parameter counts, file sizes, a sha256 of each model's tensors
  and the sample results.

Tokens. ASR: ``<blank> <s> </s>``, the 8000 most frequent CJK characters of jieba's dictionary
(character counts summed over its words, ties by code point), 300 lower-case ``xx@@`` pieces and
100 word-end pieces (drawn exactly as ``check_fullsize.py`` draws them), ``<unk>`` last.
Punctuation: ``<blank> <s> </s>``, then, sorted by code point, every ASR character and English
word piece plus jieba's dictionary words by frequency up to the vocabulary size (unique
``<fill_N>`` strings only if those ran out), ``<unk>`` last.

Weights (``init_weights``): one ``torch.Generator`` seeded from ``--seed`` fills every module, in
sorted module-name order, with torch's default distributions (Linear/Conv weight and bias
U(+-1/sqrt(fan_in)), LSTM U(+-1/sqrt(hidden)), Embedding N(0, 1)); LayerNorm/BatchNorm weights
are 1 + 0.1 N(0, 1) and biases 0.1 N(0, 1), so they are not trivially 1/0. Then, deterministically:

- ASR: the CIF alpha head is rescaled, ``predictor.cif_output.weight *= cif_scale`` and
  ``predictor.cif_output.bias = cif_bias`` (as ``cif_alpha_adjust`` in check_fullsize.py), with
  constants (``Preset``: 8.0, -1.5) chosen on espeak-ng Mandarin speech: with seed 0, 3.7 tokens
  fire per second of speech in bench/long_form.py meetings (3.2 per second of audio with its
  pauses, ~0.6 on silence; 1.6-5.6 per voice); seed 1 gives 3.3. Without it the random model fires
  ~8 tokens/s (one per two 60 ms frames), on silence as much as on speech.
- Punctuation: ``decoder.bias`` = (-10, b, 0, 0, -0.5, -0.5) for (``<unk>``, ``_``, ``，``,
  ``。``, ``？``, ``、``): ``<unk>`` is never predicted, ``，``/``。`` are the usual marks, and ``b``
  is set (``punc_none_bias``) so that on 100 seeded 20-token windows of random ASR characters one
  token in ``punc_tokens_per_mark`` (16) gets a mark. The random ASR output repeats a few
  characters, so its rate depends on which: a mark every ~16 tokens for seed 0, ~6 for seed 1.
- CAM++: BatchNorm running statistics from one train-mode pass (cumulative average) over the
  CAM++ features of 64 seeded synthetic speech-like 1.5 s chunks (``calibration_feats``), rounded
  to bfloat16 precision, so that activations stay O(1) through the 80 layers (calibrated on
  N(0, 9) noise instead, espeak-ng speech gets embedding norms up to 10^4). Embeddings of espeak-ng speech then have norms
  of about 10-300 and cosine similarities of ~0.85 (a random network gives little speaker
  contrast: same-voice chunks ~0.03 more similar than different voices).

Generation takes seconds (the full-size set is ~1.2 GB on disk). With espeak-ng on PATH a short
sample is decoded at the end (tokens per second fired, punctuation rate, embedding size); pass
``--no-sample`` to skip it. ``--tiny`` builds the same folders through the same code with tiny
dimensions (for tests). Check the folders against FunASR with ``bench/check_random_models.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "tools"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from funasr_lite.fileio import write_text_atomic  # noqa: E402
from funasr_lite.models.campplus import DEFAULT_CONF as CAMPPLUS_DEFAULTS  # noqa: E402
from funasr_lite.models.campplus import CAMPPlus, campplus_config  # noqa: E402
from funasr_lite.models.ct_transformer import CTTransformer  # noqa: E402
from funasr_lite.models.paraformer.model import BiCifParaformer  # noqa: E402
from funasr_lite.models.paraformer.template import paraformer_template  # noqa: E402
from funasr_lite.train.asr.export import export_model_dir  # noqa: E402
from funasr_lite.train.core.checkpoint import save_atomic  # noqa: E402

MVN560 = REPO / "tests" / "fixtures" / "frontend" / "am_560.mvn"
KEY_LISTS = REPO / "tests" / "fixtures" / "models"
FOLDERS = {"asr": "paraformer_large_bicif", "punc": "ct_punc_zh", "spk": "campplus"}
PUNC_LIST = ["<unk>", "_", "，", "。", "？", "、"]
SEED_OFFSETS = {"asr": 1, "punc": 2, "spk": 3}  # each model gets its own generator seed


@dataclass(frozen=True)
class Preset:
    """Sizes and the deterministic output-head constants of one build (full or tiny)."""

    d_model: int = 512
    enc_heads: int = 4
    enc_units: int = 2048
    enc_blocks: int = 50
    dec_blocks: int = 16
    n_chars: int = 8000  # ASR vocabulary = 3 specials + n_chars + pieces + <unk>
    n_cont: int = 300
    n_end: int = 100
    cif_scale: float = 8.0  # tuned for seed 0 on espeak-ng speech (~3.7 tokens/s, ~0.6/s on silence)
    cif_bias: float = -1.5
    punc_dim: int = 256
    punc_heads: int = 8
    punc_units: int = 1024
    punc_blocks: int = 4
    punc_vocab: int = 272727
    punc_bias: tuple[float, ...] = (-10.0, 0.0, 0.0, 0.0, -0.5, -0.5)  # [1] (no mark) is calibrated
    punc_tokens_per_mark: float = 16.0
    campplus: dict[str, Any] = field(default_factory=dict)  # over CAMPPLUS_DEFAULTS
    key_lists: bool = True  # compare names/shapes with the official key lists

    @property
    def asr_vocab(self) -> int:
        return 3 + self.n_chars + self.n_cont + self.n_end + 1


FULL = Preset()
TINY = Preset(
    d_model=32,
    enc_heads=2,
    enc_units=64,
    enc_blocks=3,
    dec_blocks=2,
    n_chars=380,
    n_cont=15,
    n_end=5,
    cif_scale=-8.0,
    cif_bias=-1.5,
    punc_dim=16,
    punc_heads=2,
    punc_units=32,
    punc_blocks=2,
    punc_vocab=3000,
    campplus={"embedding_size": 16, "growth_rate": 4, "bn_size": 2, "init_channels": 8},
    key_lists=False,
)


# ------------------------------------------------------------------------------------------
# token lists
def _jieba_dict() -> list[tuple[str, int]]:
    """jieba's dictionary as ``(word, count)``, most frequent first (ties by code point)."""
    import jieba  # funasr_lite dependency

    entries = []
    with open(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"), encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2:
                entries.append((parts[0], int(parts[1])))
    entries.sort(key=lambda e: (-e[1], e[0]))
    return entries


def frequent_chars(entries: list[tuple[str, int]], n: int) -> list[str]:
    """The ``n`` most frequent CJK characters, counts summed over the dictionary's words."""
    counts: dict[str, int] = {}
    for word, c in entries:
        for ch in word:
            if "\u4e00" <= ch <= "\u9fff":
                counts[ch] = counts.get(ch, 0) + c
    chars = sorted(counts, key=lambda ch: (-counts[ch], ch))
    if len(chars) < n:
        raise ValueError(f"jieba's dictionary has only {len(chars)} CJK characters, {n} asked")
    return chars[:n]


def english_pieces(n_cont: int, n_end: int) -> list[str]:
    """``n_cont`` ``xx@@`` continuation pieces and ``n_end`` word-end pieces (check_fullsize.py's draw)."""
    rng = np.random.RandomState(8404)
    letters = list("abcdefghijklmnopqrstuvwxyz")
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < n_cont + n_end:
        w = "".join(rng.choice(letters, size=rng.randint(1, 5)))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return [w + "@@" for w in words[:n_cont]] + words[n_cont:]


def asr_tokens(p: Preset, entries: list[tuple[str, int]]) -> list[str]:
    """The ASR token list (official layout: specials, characters, pieces, ``<unk>`` last)."""
    toks = ["<blank>", "<s>", "</s>"] + frequent_chars(entries, p.n_chars) + english_pieces(p.n_cont, p.n_end)
    toks.append("<unk>")
    assert len(toks) == p.asr_vocab and len(set(toks)) == len(toks)
    return toks


def punc_tokens(n: int, asr: list[str], entries: list[tuple[str, int]]) -> list[str]:
    """``n`` punctuation tokens: every ASR character/word piece, then jieba words by frequency."""
    body: dict[str, None] = {}
    for t in asr[3:-1]:
        body[t[:-2] if t.endswith("@@") else t] = None
    for word, _ in entries:
        if len(body) >= n - 4:
            break
        body.setdefault(word, None)
    i = 0
    while len(body) < n - 4:
        body.setdefault(f"<fill_{i}>", None)
        i += 1
    toks = ["<blank>", "<s>", "</s>"] + sorted(body) + ["<unk>"]
    assert len(toks) == n and len(set(toks)) == n
    return toks


def seg_dict_text(asr: list[str]) -> str:
    """``word piece piece`` lines for the English pieces (FunASR's seg_dict format)."""
    cont = [t for t in asr if t.endswith("@@")]
    ends = [t for t in asr[3:-1] if t.isascii() and not t.endswith("@@")]
    lines = [f"{e} {e}" for e in ends]
    lines += [f"{c[:-2]}{e} {c} {e}" for c, e in zip(cont, ends * (len(cont) // max(len(ends), 1) + 1))]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------
# configs (FunASR 1.x config.yaml content)
def asr_config(p: Preset) -> dict[str, Any]:
    """FunASR's BiCifParaformer template config, dimensions from ``p``."""
    return paraformer_template("BiCifParaformer", p.d_model, p.enc_heads, p.enc_units, p.enc_blocks, p.dec_blocks)


def punc_config(p: Preset) -> dict[str, Any]:
    """The zh CT-Transformer config (FunASR's funasr/models/ct_transformer/template.yaml; layout of
    ct_transformer_tiny/config.yaml)."""
    return {
        "model": "CTTransformer",
        "model_conf": {
            "ignore_id": 0,
            "embed_unit": p.punc_dim,
            "att_unit": p.punc_dim,
            "dropout_rate": 0.1,
            "punc_list": PUNC_LIST,
            "punc_weight": [1.0] * len(PUNC_LIST),
            "sentence_end_id": 3,
        },
        "encoder": "SANMEncoder",
        "encoder_conf": {
            "input_size": p.punc_dim,
            "output_size": p.punc_dim,
            "attention_heads": p.punc_heads,
            "linear_units": p.punc_units,
            "num_blocks": p.punc_blocks,
            "dropout_rate": 0.1,
            "positional_dropout_rate": 0.1,
            "attention_dropout_rate": 0.0,
            "input_layer": "pe",
            "pos_enc_class": "SinusoidalPositionEncoder",
            "normalize_before": True,
            "kernel_size": 11,
            "sanm_shfit": 0,
            "selfattention_layer_type": "sanm",
            "padding_idx": 0,
        },
        "tokenizer": "CharTokenizer",
        "tokenizer_conf": {"unk_symbol": "<unk>"},
    }


def campplus_conf(p: Preset) -> dict[str, Any]:
    """CAM++ ``config.yaml`` (the official model_conf keys, FunASR's default values over ``p``)."""
    return {
        "model": "CAMPPlus",
        "model_conf": {**CAMPPLUS_DEFAULTS, **p.campplus},
        "frontend": "WavFrontend",
        "frontend_conf": {"fs": 16000},
    }


def configuration_json(task: str, metas: dict[str, Any], name: str) -> dict[str, Any]:
    """ModelScope ``configuration.json`` with ``file_path_metas`` (what FunASR merges into the config)."""
    return {
        "framework": "pytorch",
        "task": task,
        "model": {"type": "funasr"},
        "pipeline": {"type": "funasr-pipeline"},
        "model_name_in_hub": {"ms": f"funasr_lite/bench/{name}", "hf": ""},
        "file_path_metas": metas,
    }


# ------------------------------------------------------------------------------------------
# weights
def _uniform(t: torch.Tensor, bound: float, g: torch.Generator) -> None:
    t.copy_(torch.empty(t.shape, dtype=torch.float32).uniform_(-bound, bound, generator=g))


def _normal(t: torch.Tensor, mean: float, std: float, g: torch.Generator) -> None:
    t.copy_(torch.empty(t.shape, dtype=torch.float32).normal_(mean, std, generator=g))


@torch.no_grad()
def init_weights(model: nn.Module, seed: int) -> None:
    """Fill every parameter from one seeded generator (module docstring); unknown layers raise."""
    g = torch.Generator().manual_seed(seed)
    for name, m in sorted(model.named_modules(), key=lambda kv: kv[0]):
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d)):
            w = m.weight
            bound = 1.0 / math.sqrt(w.shape[1] * math.prod(w.shape[2:]))
            _uniform(w, bound, g)
            if m.bias is not None:
                _uniform(m.bias, bound, g)
        elif isinstance(m, nn.LSTM):
            for _, p in sorted(m.named_parameters(recurse=False)):
                _uniform(p, 1.0 / math.sqrt(m.hidden_size), g)
        elif isinstance(m, nn.Embedding):
            _normal(m.weight, 0.0, 1.0, g)
        elif isinstance(m, (nn.LayerNorm, nn.BatchNorm1d, nn.BatchNorm2d)):
            if getattr(m, "weight", None) is not None:
                _normal(m.weight, 1.0, 0.1, g)
                _normal(m.bias, 0.0, 0.1, g)
        elif any(True for _ in m.parameters(recurse=False)):
            raise TypeError(f"init_weights: no rule for {name} ({type(m).__name__})")


@torch.no_grad()
def calibrate_batchnorm(model: nn.Module, feats: torch.Tensor) -> None:
    """Running statistics = those of one train-mode pass over ``feats``, rounded to bfloat16."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: one batch gives exactly its statistics
    model.train()
    model(feats)
    model.eval()
    for m in bns:
        m.momentum = 0.1
        m.running_mean.copy_(m.running_mean.to(torch.bfloat16).float())
        m.running_var.copy_(m.running_var.clamp_min(1e-3).to(torch.bfloat16).float())
        m.num_batches_tracked.zero_()


def calibration_feats(seed: int, n: int = 64) -> torch.Tensor:
    """CAM++ features ``(n, 148, 80)`` of seeded 1.5 s speech-like signals (``speech_like`` of
    tools/make_fixtures/common.py: harmonic syllables and pauses) at random gains and noise floors,
    every 4th with a silent start, as the diarization chunks are."""
    from funasr_lite.frontend.fbank import campplus_fbank

    spec = importlib.util.spec_from_file_location("_fixture_common", REPO / "tools" / "make_fixtures" / "common.py")
    common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(common)  # numpy/torch only, no funasr

    rng = np.random.RandomState(seed)
    feats = []
    for i in range(n):
        w = common.speech_like(24000, seed=seed * 1000 + i).astype(np.float64) * rng.uniform(0.05, 1.0)
        w += rng.randn(len(w)) * 10 ** rng.uniform(-4.5, -2.5)
        if i % 4 == 0:
            k = rng.randint(2000, 12000)
            w[:k] = rng.randn(k) * 3e-4
        feats.append(campplus_fbank(torch.from_numpy(w.astype(np.float32))))
    return torch.stack(feats)


@torch.no_grad()
def punc_none_bias(
    model: CTTransformer, char_ids: list[int], bias: torch.Tensor, tokens_per_mark: float, seed: int
) -> float:
    """The ``_`` (no mark) bias that leaves one token in ``tokens_per_mark`` with a mark, measured on
    100 windows of 20 seeded random ``char_ids`` (rounded to 1/64)."""
    rng = np.random.RandomState(seed)
    ids = torch.tensor(np.asarray(char_ids)[rng.randint(len(char_ids), size=(100, 20))])
    model.decoder.bias.zero_()
    logits = model.eval()(ids, torch.full((100,), 20)).reshape(-1, bias.numel()) + bias
    others = torch.cat([logits[:, :1], logits[:, 2:]], dim=1).max(dim=1).values
    margin = others - logits[:, 1]  # "_" wins where its bias exceeds this
    return round(float(torch.quantile(margin, 1.0 - 1.0 / tokens_per_mark)) * 64) / 64


def state_of(model: nn.Module) -> dict[str, torch.Tensor]:
    """Contiguous CPU copies of the state dict (float tensors as float32)."""
    return {
        k: (v.detach().float() if v.is_floating_point() else v.detach()).contiguous().clone()
        for k, v in model.state_dict().items()
    }


def check_key_list(state: dict[str, torch.Tensor], name: str) -> str:
    """Compare names and shapes with the official key list ``tests/fixtures/models/keys_<name>.json``."""
    path = KEY_LISTS / f"keys_{name}.json"
    if not path.is_file():
        return f"(no {path.name})"
    want = json.loads(path.read_text(encoding="utf-8"))
    got = {k: list(v.shape) for k, v in state.items()}
    if got != want:
        missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
        wrong = sorted(k for k in set(want) & set(got) if want[k] != got[k])
        raise RuntimeError(
            f"{name}: not the official names/shapes: missing {missing[:5]}, "
            f"unexpected {extra[:5]}, wrong shape {wrong[:5]}"
        )
    return f"names and shapes == official ({path.name}, {len(want)} entries)"


# ------------------------------------------------------------------------------------------
# folders
@contextmanager
def _staged(out: Path) -> Iterator[Path]:
    """A temporary sibling of ``out`` to build in: renamed into place when the block succeeds,
    removed when it fails (a half-written folder never takes ``out``'s name)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        if out.exists():
            shutil.rmtree(out)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _dump_yaml(obj: dict[str, Any]) -> str:
    return yaml.safe_dump(obj, allow_unicode=True, sort_keys=False, default_flow_style=False)


def build_asr(out: Path, p: Preset, seed: int, entries: list[tuple[str, int]]) -> dict[str, Any]:
    """BiCif-Paraformer folder via ``export_model_dir``; returns build facts."""
    config = asr_config(p)
    tokens = asr_tokens(p, entries)
    model = BiCifParaformer.from_config(config, len(tokens))
    init_weights(model, seed)
    state = state_of(model)
    state["predictor.cif_output.weight"] = state["predictor.cif_output.weight"] * p.cif_scale
    state["predictor.cif_output.bias"] = torch.full_like(state["predictor.cif_output.bias"], p.cif_bias)
    keys = check_key_list(state, "bicif_paraformer_large") if p.key_lists else "tiny: not compared"
    with tempfile.TemporaryDirectory() as tmp:
        seg = Path(tmp) / "seg_dict"
        seg.write_text(seg_dict_text(tokens), encoding="utf-8")
        export_model_dir(state, config, tokens, MVN560, out, seg_dict_file=seg)
    return {"tokens": len(tokens), "keys": keys, "cif_scale": p.cif_scale, "cif_bias": p.cif_bias, **_counts(state)}


def build_punc(out: Path, p: Preset, seed: int, entries: list[tuple[str, int]]) -> dict[str, Any]:
    """CT-Transformer folder (config.yaml, model.pt, tokens.json, configuration.json)."""
    config = punc_config(p)
    tokens = punc_tokens(p.punc_vocab, asr_tokens(p, entries), entries)
    model = CTTransformer.from_config(config, len(tokens))
    init_weights(model, seed)
    state = state_of(model)
    index = {t: i for i, t in enumerate(tokens)}
    ids = [index[t] for t in asr_tokens(p, entries)[3 : 3 + p.n_chars]]
    bias = torch.tensor(p.punc_bias, dtype=torch.float32)
    bias[1] = punc_none_bias(model, ids, bias, p.punc_tokens_per_mark, seed)
    state["decoder.bias"] = bias
    keys = check_key_list(state, "ct_transformer_zh") if p.key_lists else "tiny: not compared"
    metas = {"init_param": "model.pt", "config": "config.yaml", "tokenizer_conf": {"token_list": "tokens.json"}}
    with _staged(out) as tmp:
        write_text_atomic(tmp / "config.yaml", _dump_yaml(config))
        write_text_atomic(tmp / "tokens.json", json.dumps(tokens, ensure_ascii=False, indent=2) + "\n")
        write_text_atomic(
            tmp / "configuration.json", json.dumps(configuration_json("punctuation", metas, out.name), indent=2) + "\n"
        )
        save_atomic(state, tmp / "model.pt")
    return {"tokens": len(tokens), "keys": keys, "punc_bias": bias.tolist(), **_counts(state)}


def build_campplus(out: Path, p: Preset, seed: int) -> dict[str, Any]:
    """CAM++ folder (config.yaml, campplus_cn_common.bin, configuration.json)."""
    config = campplus_conf(p)
    model = CAMPPlus(**campplus_config(config["model_conf"]))
    init_weights(model, seed)
    calibrate_batchnorm(model, calibration_feats(seed + 1))
    state = state_of(model)
    keys = check_key_list(state, "campplus") if p.key_lists else "tiny: not compared"
    metas = {"init_param": "campplus_cn_common.bin", "config": "config.yaml"}
    with _staged(out) as tmp:
        write_text_atomic(tmp / "config.yaml", _dump_yaml(config))
        write_text_atomic(
            tmp / "configuration.json",
            json.dumps(configuration_json("speaker-verification", metas, out.name), indent=2) + "\n",
        )
        save_atomic(state, tmp / "campplus_cn_common.bin")
    return {"keys": keys, **_counts(state)}


def _counts(state: dict[str, torch.Tensor]) -> dict[str, int]:
    return {"tensors": len(state), "parameters": sum(v.numel() for v in state.values())}


def folder_files(d: Path) -> dict[str, int]:
    """File name -> size in bytes."""
    return {f.name: f.stat().st_size for f in sorted(d.iterdir()) if f.is_file()}


def weights_sha256(path: Path) -> str:
    """sha256 over the tensors (name, dtype, shape, bytes in name order): equal for equal weights,
    unlike the file's bytes (torch.save writes a random serialization id)."""
    from funasr_lite.modelio import load_checkpoint

    h = hashlib.sha256()
    for k, v in sorted(load_checkpoint(path).items()):
        h.update(f"{k} {v.dtype} {tuple(v.shape)}\n".encode())
        h.update(v.contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


# ------------------------------------------------------------------------------------------
# sample decoding (espeak-ng)
SAMPLE_TEXTS = (  # (held-out meeting voice, pitch, speed, text), as bench/long_form.py speaks them
    ("m7", 50, 160, "今天下午三点我们在会议室讨论一下明年的预算安排"),
    ("f5", 60, 175, "这个方案的成本比较高但是效果应该会更好一些"),
    ("klatt4", 40, 145, "请大家在周五之前把各自的报告发给我"),
    ("Alicia", 65, 185, "我觉得这个问题还需要再仔细研究一下"),
    ("Hugo", 45, 130, "上个月的销售数据已经整理好了"),
    ("anika", 55, 190, "如果没有其他问题的话我们今天就先到这里"),
)


def sample_waves() -> list[tuple[str, np.ndarray, str]] | None:
    """``(key, 16 kHz float32 speech, text)`` of the espeak-ng sample sentences (leading and
    trailing silence trimmed), or None without espeak-ng."""
    if shutil.which("espeak-ng") is None:
        return None
    from recipe_local import add_recipe_local

    add_recipe_local("synth")
    from espeak_corpus import Utterance, synthesise  # egs/synth/local
    from espeak_speakers import trim_silence

    from funasr_lite.frontend.audio import load_audio

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (variant, pitch, speed, text) in enumerate(SAMPLE_TEXTS):
            path = Path(tmp) / f"s{i}.wav"
            synthesise(Utterance(f"s{i}", variant, variant, pitch, speed, text), path)
            out.append((f"sample{i}_{variant}", trim_silence(load_audio(str(path)).waveform), text))
    return out


def sample_report(out: Path, which: list[str], waves: list[tuple[str, np.ndarray, str]]) -> dict[str, Any]:
    """Decode the sample with the new folders; tokens/s, punctuation rate, embedding norms."""
    rep: dict[str, Any] = {}
    texts = [t for _, _, t in waves]
    audio_s = sum(len(w) for _, w, _ in waves) / 16000
    if "asr" in which:
        from funasr_lite.asr import SpeechRecognizer

        rec = SpeechRecognizer(str(out / FOLDERS["asr"]))
        t0 = time.perf_counter()
        results = [r for batch in rec.recognize([(k, w) for k, w, _ in waves]) for r in batch]
        n_tok = sum(len(r.token_ids) for r in results)
        rep["asr"] = {
            "speech_s": round(audio_s, 2),
            "tokens": n_tok,
            "tokens_per_s": round(n_tok / audio_s, 2),
            "per_clip_tokens_per_s": [round(len(r.token_ids) / r.audio_s, 2) for r in results],
            "spoken_chars_per_s": round(sum(map(len, texts)) / audio_s, 2),
            "decode_s": round(time.perf_counter() - t0, 2),
            "first_text": results[0].text,
        }
        texts = [r.text for r in results] + texts
    if "punc" in which:
        from funasr_lite.models.ct_transformer import load_punc_model

        punc = load_punc_model(out / FOLDERS["punc"])
        arrays = [punc.punctuate(t).punc_array for t in texts if t.strip()]
        n = sum(len(a) for a in arrays)
        marks = sum(1 for a in arrays for x in a[:-1] if x != 1)  # the final mark is forced
        rep["punc"] = {
            "tokens": n,
            "marks_before_the_last_token": marks,
            "tokens_per_mark": round(n / max(marks, 1), 1),
            "example": punc.punctuate(texts[0]).text if texts else "",
        }
    if "spk" in which:
        from funasr_lite.diar.embed import extract_embeddings
        from funasr_lite.models.campplus import load_campplus

        model = load_campplus(out / FOLDERS["spk"])
        chunks = [torch.from_numpy(w[:24000]) for _, w, _ in waves]  # 1.5 s, as the diarization chunks
        emb = extract_embeddings(model, chunks)
        rep["spk"] = {
            "embedding_dim": int(emb.shape[1]),
            "norms": [round(float(x), 2) for x in np.linalg.norm(emb, axis=1)],
        }
    return rep


# ------------------------------------------------------------------------------------------
def build(out: Path, which: list[str], seed: int, preset: Preset) -> dict[str, Any]:
    """Build the folders named in ``which``; returns ``build_info``."""
    entries = _jieba_dict() if {"asr", "punc"} & set(which) else []
    info: dict[str, Any] = {
        "seed": seed,
        "preset": "tiny" if preset is TINY else "full",
        "torch": torch.__version__,
        "models": {},
    }
    for what in which:
        d = out / FOLDERS[what]
        s = seed * 100 + SEED_OFFSETS[what]
        t0 = time.perf_counter()
        if what == "asr":
            facts = build_asr(d, preset, s, entries)
        elif what == "punc":
            facts = build_punc(d, preset, s, entries)
        else:
            facts = build_campplus(d, preset, s)
        files = folder_files(d)
        weights = d / ("campplus_cn_common.bin" if what == "spk" else "model.pt")
        facts.update(
            seconds=round(time.perf_counter() - t0, 2),
            files=files,
            bytes=sum(files.values()),
            weights_sha256=weights_sha256(weights),
        )
        info["models"][FOLDERS[what]] = facts
        print(
            f"[{FOLDERS[what]}] {facts['parameters']:,} parameters in {facts['tensors']} tensors, "
            f"{facts['bytes'] / 2**20:.1f} MiB, {facts['seconds']:.1f} s; {facts['keys']}",
            flush=True,
        )
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--which", default="asr,punc,spk", help="comma list of asr, punc, spk")
    ap.add_argument("--tiny", action="store_true", help="tiny dimensions (tests), same code path")
    ap.add_argument("--no-sample", action="store_true", help="skip the espeak-ng sample decode")
    args = ap.parse_args(argv)
    which = [w for w in args.which.split(",") if w]
    bad = sorted(set(which) - set(FOLDERS))
    if bad or not which:
        ap.error(f"--which: unknown {bad}; choose from {', '.join(FOLDERS)}")
    t0 = time.perf_counter()
    info = build(args.out, which, args.seed, TINY if args.tiny else FULL)
    info["build_s"] = round(time.perf_counter() - t0, 2)
    print(f"built {', '.join(FOLDERS[w] for w in which)} under {args.out} in {info['build_s']:.1f} s")
    waves = None if args.no_sample else sample_waves()
    if waves is None:
        print("sample: skipped" + ("" if args.no_sample else " (no espeak-ng on PATH)"))
    else:
        info["sample"] = sample_report(args.out, which, waves)
        for k, v in info["sample"].items():
            print(f"sample {k}: " + json.dumps(v, ensure_ascii=False))
    write_text_atomic(args.out / "build_info.json", json.dumps(info, ensure_ascii=False, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
