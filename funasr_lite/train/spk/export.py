"""Export a trained CAM++ as a FunASR model folder (the layout of ``iic/speech_campplus_sv_zh-cn_16k-common``).

``campplus_cn_common.bin`` (the CAMPPlus state dict only, 3D-Speaker/FunASR key names, float32),
``config.yaml`` (``model: CAMPPlus`` + ``model_conf``) and ``configuration.json``; loadable by
``funasr_lite.models.campplus.load_campplus`` and by FunASR.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import yaml

from funasr_lite.fileio import write_text_atomic
from funasr_lite.models.campplus import CAMPPlus
from funasr_lite.train.core.checkpoint import save_atomic


def export_model_dir(
    model: CAMPPlus, model_conf: dict[str, Any], out_dir: str | Path, info: dict[str, Any] | None = None
) -> Path:
    """Write a FunASR-style CAM++ folder: campplus_cn_common.bin, config.yaml, configuration.json."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {
        k: v.detach().to("cpu", torch.float32) if v.is_floating_point() else v.detach().cpu()
        for k, v in model.state_dict().items()
    }
    save_atomic(state, out / "campplus_cn_common.bin")
    config = {
        "model": "CAMPPlus",
        "model_conf": dict(model_conf),
        "frontend": "WavFrontend",
        # FunASR's CAMPPlus computes its own fbank (torchaudio's dither default 0.0); the key only
        # keeps the WavFrontend that AutoModel builds from this section from a default of 1.0
        "frontend_conf": {"fs": 16000, "dither": 0.0},
    }
    write_text_atomic(out / "config.yaml", yaml.safe_dump(config, sort_keys=False))
    configuration = {
        "framework": "pytorch",
        "task": "speaker-verification",
        "model": {"type": "funasr"},
        "pipeline": {"type": "funasr-pipeline"},
        "model_name_in_hub": {"ms": "", "hf": ""},
        "file_path_metas": {"init_param": "campplus_cn_common.bin", "config": "config.yaml"},
    }
    write_text_atomic(out / "configuration.json", json.dumps(configuration, indent=2) + "\n")
    if info is not None:
        write_text_atomic(out / "train_info.json", json.dumps(info, indent=1, sort_keys=True) + "\n")
    return out
