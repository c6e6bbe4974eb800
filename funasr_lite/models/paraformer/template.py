"""FunASR's Paraformer ``config.yaml`` template (``funasr/models/{paraformer,bicif_paraformer}/template.yaml``).

The layout the official 1.x model folders' ``config.yaml`` files were made from, with
``dither: 0.0`` in ``frontend_conf``. Used to build random-weight folders for tests, fixtures
and benchmarks (``tools/make_fixtures/check_fullsize.py``, ``bench/make_random_models.py``);
the defaults are Paraformer-large's sizes.
"""

from __future__ import annotations

import copy
from typing import Any

PREDICTOR_V2 = {"threshold": 1.0, "l_order": 1, "r_order": 1, "tail_threshold": 0.45}
# CifPredictorV3 (BiCif): the V2 keys plus the timestamp head's
PREDICTOR_V3_EXTRA = {
    "smooth_factor2": 0.25,
    "noise_threshold2": 0.01,
    "upsample_times": 3,
    "use_cif1_cnn": False,
    "upsample_type": "cnn_blstm",
}

# SpecAugLFR of FunASR's Paraformer template.yaml (the trainer's default too)
SPECAUG_LFR_CONF = {
    "apply_time_warp": False,
    "time_warp_window": 5,
    "time_warp_mode": "bicubic",
    "apply_freq_mask": True,
    "freq_mask_width_range": [0, 30],
    "lfr_rate": 6,
    "num_freq_mask": 1,
    "apply_time_mask": True,
    "time_mask_width_range": [0, 12],
    "num_time_mask": 1,
}


def paraformer_template(
    model: str = "BiCifParaformer",
    d_model: int = 512,
    heads: int = 4,
    units: int = 2048,
    enc_blocks: int = 50,
    dec_blocks: int = 16,
) -> dict[str, Any]:
    """The template config for ``model`` (``Paraformer``: CifPredictorV2; ``BiCifParaformer``:
    CifPredictorV3), encoder and decoder sized by the arguments (decoder: ``att_layer_num`` =
    ``num_blocks``)."""
    if model not in ("Paraformer", "BiCifParaformer"):
        raise ValueError(f"no template for {model!r}")
    predictor_conf = {"idim": d_model, **PREDICTOR_V2}
    if model == "BiCifParaformer":
        predictor_conf.update(PREDICTOR_V3_EXTRA)
    return {
        "model": model,
        "model_conf": {
            "ctc_weight": 0.0,
            "lsm_weight": 0.1,
            "length_normalized_loss": True,
            "predictor_weight": 1.0,
            "predictor_bias": 1,
            "sampling_ratio": 0.75,
        },
        "encoder": "SANMEncoder",
        "encoder_conf": {
            "output_size": d_model,
            "attention_heads": heads,
            "linear_units": units,
            "num_blocks": enc_blocks,
            "dropout_rate": 0.1,
            "positional_dropout_rate": 0.1,
            "attention_dropout_rate": 0.1,
            "input_layer": "pe",
            "pos_enc_class": "SinusoidalPositionEncoder",
            "normalize_before": True,
            "kernel_size": 11,
            "sanm_shfit": 0,
            "selfattention_layer_type": "sanm",
        },
        "decoder": "ParaformerSANMDecoder",
        "decoder_conf": {
            "attention_heads": heads,
            "linear_units": units,
            "num_blocks": dec_blocks,
            "dropout_rate": 0.1,
            "positional_dropout_rate": 0.1,
            "self_attention_dropout_rate": 0.1,
            "src_attention_dropout_rate": 0.1,
            "att_layer_num": dec_blocks,
            "kernel_size": 11,
            "sanm_shfit": 0,
        },
        "predictor": "CifPredictorV3" if model == "BiCifParaformer" else "CifPredictorV2",
        "predictor_conf": predictor_conf,
        "frontend": "WavFrontend",
        "frontend_conf": {
            "fs": 16000,
            "window": "hamming",
            "n_mels": 80,
            "frame_length": 25,
            "frame_shift": 10,
            "lfr_m": 7,
            "lfr_n": 6,
            "dither": 0.0,
        },
        "specaug": "SpecAugLFR",
        "specaug_conf": copy.deepcopy(SPECAUG_LFR_CONF),
        "train_conf": {
            "accum_grad": 1,
            "grad_clip": 5,
            "max_epoch": 150,
            "val_scheduler_criterion": ["valid", "acc"],
            "best_model_criterion": [["valid", "acc", "max"]],
            "keep_nbest_models": 10,
            "log_interval": 50,
        },
        "optim": "adam",
        "optim_conf": {"lr": 0.0005},
        "scheduler": "warmuplr",
        "scheduler_conf": {"warmup_steps": 30000},
        "dataset": "AudioDataset",
        "dataset_conf": {
            "index_ds": "IndexDSJsonl",
            "batch_sampler": "BatchSampler",
            "batch_type": "example",
            "batch_size": 1,
            "max_token_length": 2048,
            "buffer_size": 500,
            "shuffle": True,
            "num_workers": 0,
        },
        "tokenizer": "CharTokenizer",
        "tokenizer_conf": {"unk_symbol": "<unk>", "split_with_space": True},
        "ctc_conf": {"dropout_rate": 0.0, "ctc_type": "builtin", "reduce": True, "ignore_nan_grad": True},
        "normalize": None,
    }
