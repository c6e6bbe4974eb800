"""Open an official Paraformer / BiCif-Paraformer / SeACo-Paraformer folder and build model, frontend and token list."""

from __future__ import annotations

from pathlib import Path

import torch

from funasr_lite.errors import ModelError, one_line
from funasr_lite.frontend.wav_frontend import WavFrontend
from funasr_lite.modelio import load_state_dict_strict, open_model_dir
from funasr_lite.modelio.checkpoint import no_random_init
from funasr_lite.models.paraformer.model import BiCifParaformer, Paraformer
from funasr_lite.models.paraformer.seaco import SeacoParaformer

ASR_CLASSES = {"Paraformer": Paraformer, "BiCifParaformer": BiCifParaformer, "SeacoParaformer": SeacoParaformer}


def load_paraformer(
    model_dir: str | Path, device: str | torch.device = "cpu", dither: float | None = None
) -> tuple[Paraformer, WavFrontend, list[str]]:
    """``(model, frontend, token_list)`` from a local FunASR 1.x or 0.x folder, loaded strictly.

    The model is in eval mode on ``device`` (parameters keep the checkpoint's dtype; cast the
    model yourself for fp16/bf16). ``dither``: ``None`` keeps the config's value (FunASR's
    default 1.0 when the config has none); ``0.0`` gives reproducible features.
    Raises ``ModelError`` for a non-ASR folder, an unsupported config or a checkpoint mismatch.
    """
    md = open_model_dir(model_dir)
    cls = ASR_CLASSES.get(md.model_class)
    if cls is None:
        raise ModelError(
            md.path, f"is a {md.model_class} model, not an ASR model (Paraformer, BiCifParaformer or SeacoParaformer)"
        )
    if not md.token_list:
        raise ModelError(md.path, "no token list")
    try:
        with no_random_init():  # every weight comes from the checkpoint (strict load below)
            model = cls.from_config(md.config, len(md.token_list))
    except ModelError as e:  # "encoder_conf: unknown key 'x'": say which folder's config
        raise ModelError(md.path, f"config: {e}") from None
    except (TypeError, ValueError) as e:  # a value of the wrong type deeper down
        raise ModelError(md.path, f"config: bad value ({one_line(e)})") from None
    out_layer = md.state_dict().get("decoder.output_layer.weight")
    if out_layer is not None and out_layer.shape[0] != len(md.token_list):
        raise ModelError(
            md.path,
            f"the token list has {len(md.token_list)} tokens but the checkpoint's output "
            f"layer has {out_layer.shape[0]}: the token list does not belong to this model",
        )
    load_state_dict_strict(model, md.state_dict(), md.checkpoint)
    model.to(device).eval()
    frontend_conf = dict(md.config.get("frontend_conf") or {})
    frontend_conf.pop("cmvn_file", None)
    if dither is not None:
        frontend_conf["dither"] = float(dither)
    frontend = WavFrontend.from_config(frontend_conf, md.cmvn_file)
    if frontend.output_size() != model.encoder.encoders0[0].norm1.normalized_shape[0]:
        raise ModelError(
            md.path,
            f"frontend gives {frontend.output_size()}-dim features, encoder expects "
            f"{model.encoder.encoders0[0].norm1.normalized_shape[0]}",
        )
    return model, frontend, list(md.token_list)
