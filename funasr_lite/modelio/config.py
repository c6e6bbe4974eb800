"""Model configs: read FunASR 1.x ``config.yaml`` and map 0.x ESPnet-style configs onto it.

The 0.x configs (``asr.yaml``/``vad.yaml``/``punc.yaml``, ``model.pb`` era) use lower-case
registry names (``encoder: sanm``) and a few other block names; the numbers are the same
as in the 1.x ``config.yaml`` (which FunASR reads in ``download_from_ms``,
``funasr/download/download_model_from_hub.py``). After :func:`to_1x` one model builder serves both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from funasr_lite.errors import ModelError

# 0.x registry names -> 1.x class names, per config block.
_0X_NAMES: dict[str, dict[str, str]] = {
    "model": {
        "paraformer": "Paraformer",
        "bicif_paraformer": "BiCifParaformer",
        "e2e_vad": "FsmnVADStreaming",
        "fsmn_vad": "FsmnVADStreaming",
        "target_delay": "CTTransformer",
        "campplus": "CAMPPlus",
    },
    "encoder": {"sanm": "SANMEncoder", "fsmn": "FSMN"},
    "decoder": {"paraformer_decoder_sanm": "ParaformerSANMDecoder"},
    "predictor": {"cif_predictor_v2": "CifPredictorV2", "cif_predictor_v3": "CifPredictorV3"},
    "frontend": {"wav_frontend": "WavFrontend", "wav_frontend_online": "WavFrontendOnline"},
    "specaug": {"specaug_lfr": "SpecAugLFR"},
}
# Blocks whose value must be a mapping when present.
CONF_BLOCKS = (
    "model_conf",
    "encoder_conf",
    "decoder_conf",
    "predictor_conf",
    "frontend_conf",
    "specaug_conf",
    "tokenizer_conf",
    "ctc_conf",
    "vad_post_conf",
    "punctuation_conf",
)


def check_types(config: dict[str, Any], source: str | Path) -> None:
    """Reject wrong types in the blocks every builder reads (``*_conf`` mappings, class-name strings)."""
    for block in CONF_BLOCKS:
        if block in config and config[block] is not None and not isinstance(config[block], dict):
            raise ModelError(source, f"config key {block!r} must be a mapping, got {type(config[block]).__name__}")
    for name in ("model", "encoder", "decoder", "predictor", "frontend", "specaug", "tokenizer"):
        if name in config and config[name] is not None and not isinstance(config[name], str):
            raise ModelError(
                source, f"config key {name!r} must be a class name string, got {type(config[name]).__name__}"
            )


def is_0x(config: dict[str, Any]) -> bool:
    """True for an ESPnet-style 0.x config (lower-case registry names or 0.x-only blocks)."""
    if "vad_post_conf" in config or "punctuation" in config:
        return True
    for block, names in _0X_NAMES.items():
        value = config.get(block)
        if isinstance(value, str) and value in names:
            return True
    return False


def to_1x(config: dict[str, Any]) -> dict[str, Any]:
    """Map a 0.x config onto 1.x names; a 1.x config is returned unchanged (as a copy)."""
    out = dict(config)
    if not is_0x(config):
        return out
    for block, names in _0X_NAMES.items():
        value = out.get(block)
        if isinstance(value, str):
            out[block] = names.get(value, value)
    if "punctuation" in out:  # 0.x punc.yaml: `punctuation: target_delay`
        out["model"] = _0X_NAMES["model"].get(out.pop("punctuation"), "CTTransformer")
    if "vad_post_conf" in out:  # 0.x vad.yaml keeps the VADXOptions in vad_post_conf
        merged = dict(out.get("model_conf") or {})
        merged.update(out.pop("vad_post_conf") or {})
        out["model_conf"] = merged
        out.setdefault("model", "FsmnVADStreaming")
    return out
