"""Open a FunASR 1.x or ModelScope 0.x model folder, find its files and name its model class.

funasr_lite never downloads anything: ``open_model_dir`` takes a local folder only, and a
hub name such as ``iic/speech_paraformer-large_...`` gives an error that says how to
download it yourself.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from funasr_lite.errors import ModelError
from funasr_lite.modelio.checkpoint import load_checkpoint
from funasr_lite.modelio.config import check_types, is_0x, to_1x
from funasr_lite.modelio.tokens import check_token_list, read_token_list
from funasr_lite.yamlio import read_yaml

log = logging.getLogger(__name__)

# FunASR 1.4.16's ModelScope alias table (funasr/download/name_maps_from_hub.py: name_maps_ms).
HUB_ALIASES = {
    "paraformer": "iic/speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-pytorch",
    "paraformer-zh": "iic/speech_seaco_paraformer_large_asr_nat-zh-cn-16k-common-vocab8404-pytorch",
    "paraformer-en": "iic/speech_paraformer-large-vad-punc_asr_nat-en-16k-common-vocab10020",
    "paraformer-en-spk": "iic/speech_paraformer-large-vad-punc_asr_nat-en-16k-common-vocab10020",
    "paraformer-zh-streaming": "iic/speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-online",
    "fsmn-vad": "iic/speech_fsmn_vad_zh-cn-16k-common-pytorch",
    "ct-punc": "iic/punc_ct-transformer_cn-en-common-vocab471067-large",
    "ct-punc-c": "iic/punc_ct-transformer_zh-cn-common-vocab272727-pytorch",
    "fa-zh": "iic/speech_timestamp_prediction-v1-16k-offline",
    "cam++": "iic/speech_campplus_sv_zh-cn_16k-common",
    "Whisper-large-v2": "iic/speech_whisper-large_asr_multilingual",
    "Whisper-large-v3": "iic/Whisper-large-v3",
    "Qwen-Audio": "Qwen/Qwen-Audio",
    "emotion2vec_plus_large": "iic/emotion2vec_plus_large",
    "emotion2vec_plus_base": "iic/emotion2vec_plus_base",
    "emotion2vec_plus_seed": "iic/emotion2vec_plus_seed",
    "Whisper-large-v3-turbo": "iic/Whisper-large-v3-turbo",
}
MODEL_CLASSES = ("Paraformer", "BiCifParaformer", "SeacoParaformer", "FsmnVAD", "CTTransformer", "CAMPPlus")
ASR_MODEL_CLASSES = ("Paraformer", "BiCifParaformer", "SeacoParaformer")

# config `model:` values (lower-cased, "_" removed) -> our class names.
_CONFIG_CLASS = {
    "paraformer": "Paraformer",
    "bicifparaformer": "BiCifParaformer",
    "seacoparaformer": "SeacoParaformer",
    "fsmnvadstreaming": "FsmnVAD",
    "fsmnvad": "FsmnVAD",
    "e2evad": "FsmnVAD",
    "cttransformer": "CTTransformer",
    "targetdelay": "CTTransformer",
    "campplus": "CAMPPlus",
}
_CONFIG_NAMES = ("config.yaml", "asr.yaml", "vad.yaml", "punc.yaml")
_CHECKPOINT_NAMES = ("model.pt", "model.pb", "campplus_cn_common.bin", "vad.pb", "punc.pb", "pytorch_model.bin")
_CMVN_NAMES = ("am.mvn", "vad.mvn")
_TOKEN_NAMES = ("tokens.json", "tokens.txt")


@dataclass
class ModelDir:
    """What a model folder holds, resolved to local paths. ``config`` uses 1.x names."""

    path: Path
    model_class: str
    config: dict[str, Any]
    layout: str  # "1.x" or "0.x"
    checkpoint: Path
    cmvn_file: Path | None = None
    token_list: list[str] | None = None
    _state: dict[str, torch.Tensor] | None = field(default=None, repr=False)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The checkpoint's tensors (loaded once, memory-mapped where possible)."""
        if self._state is None:
            self._state = load_checkpoint(self.checkpoint)
        return self._state


def open_model_dir(path: str | Path) -> ModelDir:
    """Resolve a local model folder: config, checkpoint, CMVN, tokens and model class."""
    root = _check_local_folder(path)
    metas = _file_path_metas(root)
    config_files = _find(root, [metas.get("config")] + list(_CONFIG_NAMES), every=True)
    if not config_files:
        raise ModelError(root, f"no model config found (looked for {', '.join(_CONFIG_NAMES)})")
    raw: dict[str, Any] = {}
    for cfg in reversed(config_files):  # the first name found wins on a clash
        data = read_yaml(cfg)
        if not data:  # a model needs its blocks; yamlio reads an empty file as {}
            raise ModelError(cfg, "config is empty")
        check_types(data, cfg)
        raw.update(data)
    layout = "0.x" if is_0x(raw) else "1.x"
    config = to_1x(raw)

    checkpoint = _find(root, [metas.get("init_param")] + list(_CHECKPOINT_NAMES))
    if checkpoint is None:
        raise ModelError(root, f"no checkpoint found (looked for {', '.join(_CHECKPOINT_NAMES)})")
    if checkpoint.suffix == ".pb":
        layout = "0.x"

    frontend_conf = config.get("frontend_conf") or {}
    cmvn_hint = _basename(
        metas.get("frontend_conf", {}).get("cmvn_file") if isinstance(metas.get("frontend_conf"), dict) else None
    )
    cmvn_file = _find(root, [cmvn_hint, _basename(frontend_conf.get("cmvn_file"))] + list(_CMVN_NAMES))

    md = ModelDir(path=root, model_class="", config=config, layout=layout, checkpoint=checkpoint, cmvn_file=cmvn_file)
    md.model_class = _resolve_class(md)
    md.token_list = _tokens(root, config, metas, md.model_class)
    if md.model_class in (*ASR_MODEL_CLASSES, "FsmnVAD") and md.cmvn_file is None:
        # FunASR silently skips CMVN without the file and then decodes garbage; refuse instead.
        raise ModelError(
            root, f"no CMVN file found (looked for {', '.join(_CMVN_NAMES)}); {md.model_class} needs am.mvn"
        )
    return md


def detect_class_from_keys(keys: Iterable[str]) -> str | None:
    """Name the model class from state-dict key names alone, or ``None`` if unknown."""
    keys = set(keys)
    if "hotword_output_layer.weight" in keys and "bias_encoder.weight_ih_l0" in keys:
        return "SeacoParaformer"
    if "predictor.blstm.weight_ih_l0" in keys or "predictor.cif_output2.weight" in keys:
        return "BiCifParaformer"
    if "predictor.cif_output.weight" in keys:
        return "Paraformer"
    if "encoder.in_linear1.linear.weight" in keys and any(k.startswith("encoder.fsmn.") for k in keys):
        return "FsmnVAD"
    if "head.conv1.weight" in keys and any(k.startswith("xvector.") for k in keys):
        return "CAMPPlus"
    if "embed.weight" in keys and "decoder.weight" in keys and any(k.startswith("encoder.encoders") for k in keys):
        return "CTTransformer"
    return None


def _resolve_class(md: ModelDir) -> str:
    """Combine the config's ``model:`` name with the checkpoint's keys (keys win for BiCif, trap 1)."""
    name = md.config.get("model")
    from_config = _CONFIG_CLASS.get(str(name).lower().replace("_", "")) if name else None
    if name and from_config is None:
        raise ModelError(md.path, f"unsupported model class {name!r} in config (supported: {', '.join(MODEL_CLASSES)})")
    from_keys = detect_class_from_keys(md.state_dict().keys())
    if from_keys is None and from_config is None:
        raise ModelError(
            md.checkpoint,
            "cannot tell the model class: config has no 'model' key and the checkpoint keys match none of "
            + ", ".join(MODEL_CLASSES),
        )
    if from_config is None or from_keys is None or from_config == from_keys:
        return from_config or from_keys  # type: ignore[return-value]
    if {from_config, from_keys} == {"Paraformer", "BiCifParaformer"} and from_keys == "BiCifParaformer":
        log.warning(
            "%s: config says Paraformer but the checkpoint has the BiCif timestamp head; using BiCifParaformer", md.path
        )
        return from_keys
    raise ModelError(md.checkpoint, f"checkpoint holds a {from_keys} model but config.yaml says {name!r}")


def _tokens(root: Path, config: dict[str, Any], metas: dict[str, Any], model_class: str) -> list[str] | None:
    if model_class in ("FsmnVAD", "CAMPPlus"):
        return None
    tok_meta = (
        metas.get("tokenizer_conf", {}).get("token_list") if isinstance(metas.get("tokenizer_conf"), dict) else None
    )
    tok_conf = (config.get("tokenizer_conf") or {}).get("token_list")
    path = _find(root, [tok_meta, _basename(tok_conf if isinstance(tok_conf, str) else None)] + list(_TOKEN_NAMES))
    if path is not None:
        return read_token_list(path)
    inline = config.get("token_list")
    if isinstance(inline, list):
        return check_token_list([str(t) for t in inline], root / "config.yaml")
    raise ModelError(root, "no token list found (tokens.json, tokens.txt or token_list in the config)")


def _check_local_folder(path: str | Path) -> Path:
    root = Path(path).expanduser()
    if root.is_dir():
        return root.resolve()
    if root.exists():
        raise ModelError(root, "is a file; pass the model folder that holds config.yaml and the checkpoint")
    text = str(path)
    if text in HUB_ALIASES:
        raise ModelError(
            text,
            f"is a FunASR hub alias and funasr_lite never downloads models: download it yourself with "
            f"`modelscope download --model {HUB_ALIASES[text]} --local_dir ./models/{text}` and pass that folder",
        )
    if not text.startswith((".", "/", "~")) and text.count("/") <= 1:
        raise ModelError(
            root,
            "not a local folder. funasr_lite never downloads models: download it yourself, e.g. "
            f"`modelscope download --model {text if '/' in text else 'iic/<model-id>'} --local_dir ./models/{text.split('/')[-1]}`, "
            "then pass that folder's path",
        )
    raise ModelError(root, "model folder does not exist")


def _file_path_metas(root: Path) -> dict[str, Any]:
    cfg = root / "configuration.json"
    if not cfg.is_file():
        return {}
    try:
        data = json.loads(cfg.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(cfg, f"configuration.json is unreadable ({e})") from None
    metas = data.get("file_path_metas", {}) if isinstance(data, dict) else {}
    return metas if isinstance(metas, dict) else {}


def _basename(value: Any) -> str | None:
    return Path(value).name if isinstance(value, str) and value else None


def _find(root: Path, names: list[Any], every: bool = False) -> Any:
    found: list[Path] = []
    for name in names:
        if not isinstance(name, str) or not name:
            continue
        candidate = root / Path(name).name
        if candidate.is_file() and candidate not in found:
            found.append(candidate)
            if not every:
                return candidate
    return found if every else None
