"""CT-Transformer punctuation (FunASR ``CTTransformer``): network, folder loader and inference.

``load_punc_model(dir).punctuate(text)`` equals FunASR 1.4.16's
``AutoModel(model=dir).generate(input=text)[0]`` (``text``, ``punc_array``) for the
character-level zh model and the word-level (jieba) cn-en model. The text rules live in
``funasr_lite.punc``; the encoder is the Paraformer ``SANMEncoder``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from funasr_lite.errors import InputError, ModelError
from funasr_lite.modelio import load_state_dict_strict, open_model_dir
from funasr_lite.modelio.checkpoint import no_random_init
from funasr_lite.models.paraformer.model import build_encoder
from funasr_lite.punc import (
    expand_punc_array,
    find_cut,
    finish_text,
    normalize_punc_list,
    render_window,
    split_to_mini_sentence,
    split_words,
)

SPLIT_SIZE = 20  # FunASR's default `split_size` (words per window before carry-over)
_MODEL_KEYS = {
    "embed_unit",
    "att_unit",
    "punc_list",
    "punc_weight",
    "sentence_end_id",
    "ignore_id",
    "sos",
    "eos",
    "dropout_rate",
}
log = logging.getLogger(__name__)


@dataclass
class PuncResult:
    """``text``: punctuated text; ``punc_array``: label ids (one per word, or per character for
    the jieba model, FunASR's expansion), empty for empty input (FunASR gives ``None``)."""

    text: str
    punc_array: list[int]


class CTTransformer(nn.Module):
    """``embed`` (vocab x embed_unit) -> ``encoder`` (SANMEncoder) -> ``decoder`` (att_unit x n_punc)."""

    def __init__(self, vocab_size: int, punc_size: int, embed_unit: int, encoder: nn.Module, att_unit: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_unit)
        self.decoder = nn.Linear(att_unit, punc_size)  # registered before `encoder`, as in FunASR
        self.encoder = encoder

    @classmethod
    def from_config(cls, config: dict[str, Any], vocab_size: int) -> CTTransformer:
        """Build from a 1.x config (``model_conf`` + ``encoder_conf``) or a 0.x ``punctuation_conf``."""
        config = config_1x(config)
        mc = config["model_conf"]
        unknown = sorted(set(mc) - _MODEL_KEYS)
        if unknown:  # FunASR passes every config key to CTTransformer(**kwargs) and ignores the rest
            log.debug("CTTransformer ignores model_conf key(s): %s", ", ".join(unknown))
        embed_unit, att_unit = int(mc.get("embed_unit", 128)), int(mc.get("att_unit", 256))
        enc_conf = dict(config.get("encoder_conf") or {})
        enc_conf.pop("padding_idx", None)  # only used by an `embed` input layer; CT uses `pe`
        input_size = int(enc_conf.get("input_size", embed_unit))
        if input_size != embed_unit:
            raise ModelError("encoder_conf", f"input_size {input_size} != model_conf.embed_unit {embed_unit}")
        encoder = build_encoder({**config, "encoder_conf": enc_conf}, input_size)
        if encoder.output_size() != att_unit:
            raise ModelError("encoder_conf", f"output_size {encoder.output_size()} != model_conf.att_unit {att_unit}")
        return cls(vocab_size, len(mc["punc_list"]), embed_unit, encoder, att_unit)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """``(B, T)`` ids -> ``(B, T, n_punc)`` logits (FunASR ``punc_forward``)."""
        h, _ = self.encoder(self.embed(ids), lengths)
        return self.decoder(h)


def config_1x(config: dict[str, Any]) -> dict[str, Any]:
    """Map a 0.x punctuation config (``punctuation_conf`` + top-level ``punc_list``) onto 1.x blocks."""
    out = dict(config)
    mc = dict(out.get("model_conf") or {})
    pc = out.pop("punctuation_conf", None)
    if pc is not None:  # 0.x TargetDelayTransformer(embed_unit, att_unit, head, unit, layer): SANM defaults
        pc = dict(pc)
        mc.setdefault("embed_unit", pc.get("embed_unit", 128))
        mc.setdefault("att_unit", pc.get("att_unit", 256))
        out.setdefault("encoder", "SANMEncoder")
        out.setdefault(
            "encoder_conf",
            {
                "input_size": mc["embed_unit"],
                "output_size": mc["att_unit"],
                "attention_heads": pc.get("head", 2),
                "linear_units": pc.get("unit", 1024),
                "num_blocks": pc.get("layer", 4),
                "input_layer": "pe",
                "kernel_size": 11,
                "sanm_shfit": 0,
            },
        )
    if "punc_list" not in mc and "punc_list" in out:
        mc["punc_list"] = out["punc_list"]
    if not isinstance(mc.get("punc_list"), list) or not mc["punc_list"]:
        raise ModelError("model_conf", "no punc_list in the config")
    out["model_conf"] = mc
    return out


class CTTransformerPunc:
    """A loaded punctuation model: ``punctuate(text)`` runs FunASR's windowed inference."""

    def __init__(
        self,
        model: CTTransformer,
        token_list: list[str],
        punc_list: list[str],
        sentence_end_id: int = 3,
        cut: Callable[[str], Iterable[str]] | None = None,
        unk_symbol: str = "<unk>",
    ) -> None:
        self.model = model.eval()
        self.token_list = token_list
        self.token2id = {t: i for i, t in enumerate(token_list)}
        if unk_symbol not in self.token2id:
            raise ModelError("token_list", f"no {unk_symbol!r} token")
        self.unk_id = self.token2id[unk_symbol]
        self.punc_list = normalize_punc_list(punc_list)
        self.sentence_end_id = sentence_end_id
        self.cut = cut  # jieba segmenter (word-level model) or None (character level)

    @property
    def device(self) -> torch.device:
        return self.model.embed.weight.device

    def words(self, text: str) -> list[str]:
        """The model's words for ``text`` (jieba or character split)."""
        return split_words(text, self.cut)

    @torch.no_grad()
    def labels(self, ids: list[int]) -> list[int]:
        """Argmax label per word of one window (FunASR ``topk(1)``)."""
        return self.labels_many([ids])[0]

    @torch.no_grad()
    def labels_many(self, windows: list[list[int]]) -> list[list[int]]:
        """:meth:`labels` of several windows in one padded batch (the encoder masks the padding)."""
        lens = [len(w) for w in windows]
        x = torch.zeros(len(windows), max(lens), dtype=torch.long)
        for row, ids in enumerate(windows):
            x[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        y = self.model(x.to(self.device), torch.tensor(lens, device=self.device))
        top = y.topk(1, dim=-1)[1][..., 0].tolist()
        return [row[:n] for row, n in zip(top, lens)]

    def punctuate(self, text: str, split_size: int = SPLIT_SIZE) -> PuncResult:
        """Punctuate one text. Empty or whitespace-only text gives ``PuncResult("", [])``."""
        return self.punctuate_many([text], split_size)[0]

    def punctuate_many(self, texts: list[str], split_size: int = SPLIT_SIZE) -> list[PuncResult]:
        """:meth:`punctuate` of several texts, their windows run in lockstep: the n-th window of
        every text that has one goes through the network in one batch (each text's windows
        depend on its own previous ones, so a text still takes one pass per window)."""
        for text in texts:
            if not isinstance(text, str):
                raise InputError(type(text).__name__, "punctuation input must be a str")
        steps = [self._steps(text, split_size) for text in texts]
        results: list[PuncResult | None] = [None] * len(texts)
        pending: dict[int, list[int]] = {}
        for i, step in enumerate(steps):
            try:
                pending[i] = next(step)
            except StopIteration as done:
                results[i] = done.value
        while pending:
            order = list(pending)
            for i, labels in zip(order, self.labels_many([pending[i] for i in order])):
                try:
                    pending[i] = steps[i].send(labels)
                except StopIteration as done:
                    results[i] = done.value
                    del pending[i]
        return [r for r in results if r is not None]

    def _steps(self, text: str, split_size: int) -> Generator[list[int], list[int], PuncResult]:
        """FunASR's windowed inference over one text: yields each window's ids, receives its labels."""
        if not text.strip():
            return PuncResult("", [])
        words = self.words(text)
        ids = [self.token2id.get(w, self.unk_id) for w in words]
        windows = split_to_mini_sentence(list(zip(words, ids)), split_size)
        carry: list[tuple[str, int]] = []
        out_text, punc_array = "", []
        for n, window in enumerate(windows):
            window = carry + window
            labels = list((yield [i for _, i in window]))
            if n < len(windows) - 1:
                cut = find_cut(labels, self.punc_list)
                if cut.forced:
                    labels[cut.keep - 1] = self.sentence_end_id
                window, carry, labels = window[: cut.keep], window[cut.keep :], labels[: cut.keep]
            out_text += render_window([w for w, _ in window], labels, self.punc_list)
            if n == len(windows) - 1:
                out_text, relabel = finish_text(out_text)
                if relabel:
                    labels[-1] = self.sentence_end_id
            punc_array += labels
        if self.cut is not None:
            punc_array = expand_punc_array(words, punc_array)
        return PuncResult(out_text, punc_array)


def load_punc_model(model_dir: str | Path, device: str | torch.device = "cpu") -> CTTransformerPunc:
    """Load a CT-Transformer folder (1.x ``model.pt`` or 0.x ``punc.pb``) strictly, in eval mode.

    The word-level cn-en model segments with jieba (a private ``jieba.Tokenizer`` with the
    folder's ``jieba_usr_dict``), exactly when FunASR would: the file is named in
    ``configuration.json``'s ``file_path_metas`` (or, without configuration.json, exists under
    that name; 0.x: ``seg_jieba: true``). Otherwise FunASR's character split is used.
    """
    md = open_model_dir(model_dir)
    if md.model_class != "CTTransformer":
        raise ModelError(md.path, f"is a {md.model_class} model, not a CT-Transformer punctuation model")
    if not md.token_list:
        raise ModelError(md.path, "no token list")
    config = config_1x(md.config)
    with no_random_init():  # every weight comes from the checkpoint (strict load below)
        model = CTTransformer.from_config(config, len(md.token_list))
    load_state_dict_strict(model, md.state_dict(), md.checkpoint)
    model.to(device)
    mc = config["model_conf"]
    unk = str((config.get("tokenizer_conf") or {}).get("unk_symbol", "<unk>"))
    dict_path = jieba_dict_path(md.path, md.layout, config)
    cut = jieba_cutter(dict_path) if dict_path is not None else None
    return CTTransformerPunc(
        model, list(md.token_list), list(mc["punc_list"]), int(mc.get("sentence_end_id", 3)), cut, unk
    )


def jieba_dict_path(root: Path, layout: str, config: dict[str, Any]) -> Path | None:
    """The ``jieba_usr_dict`` FunASR would load for this folder, or ``None`` (character split)."""
    if layout == "0.x":
        path = root / "jieba_usr_dict"
        return path if config.get("seg_jieba") and path.is_file() else None
    meta_file = root / "configuration.json"
    if not meta_file.is_file():  # FunASR then looks for the file by name
        path = root / "jieba_usr_dict"
        return path if path.is_file() else None
    try:
        metas = json.loads(meta_file.read_text(encoding="utf-8")).get("file_path_metas") or {}
    except (OSError, ValueError, AttributeError) as e:
        raise ModelError(meta_file, f"configuration.json is unreadable ({e})") from None
    name = metas.get("jieba_usr_dict") if isinstance(metas, dict) else None
    path = root / name if isinstance(name, str) and name else None
    return path if path is not None and path.is_file() else None


def jieba_cutter(dict_path: Path) -> Callable[[str], Iterable[str]]:
    """``cut(s) = Tokenizer.cut(s, HMM=False)`` of a private jieba tokenizer with the user dict.

    FunASR loads the dict into jieba's global tokenizer (each load adds the words' counts to
    its total again); a private tokenizer gives the result of one load in a fresh process.
    """
    try:
        import jieba
    except ImportError:
        raise ModelError(
            dict_path, "this word-level punctuation model needs jieba (pip install jieba==0.42.1)"
        ) from None
    tokenizer = jieba.Tokenizer()
    jieba_log = logging.getLogger("jieba")
    level = jieba_log.level
    jieba_log.setLevel(logging.WARNING)  # jieba prints "Building prefix dict ..." at DEBUG to stderr
    try:
        tokenizer.load_userdict(str(dict_path))  # also loads jieba's default dictionary
    except (OSError, ValueError) as e:
        raise ModelError(dict_path, f"cannot load jieba user dict ({e})") from None
    finally:
        jieba_log.setLevel(level)
    return lambda s: tokenizer.cut(s, HMM=False)
