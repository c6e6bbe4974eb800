"""Tiny random-weight model folders (FunASR 1.x layout) + a 0.x-style Paraformer folder.

Each folder is built THROUGH FunASR: config.yaml / configuration.json / tokens / am.mvn are
written first, AutoModel(model=<dir>) builds the model from them (random init, seeded), every
constant-initialised tensor (LayerNorm / BatchNorm / zero biases) is then perturbed with a
seeded generator so that tests can tell weight from bias, and the state_dict is saved.
Finally AutoModel loads every folder back and the state_dict is compared exactly.

Run:  tools/funasr_venv/bin/python tools/make_fixtures/make_models.py
"""

import logging
import os
import shutil
import sys

import torch
import yaml

sys.path.insert(0, os.path.dirname(__file__))
from common import FIXTURES, SPECAUG, cif_alpha_adjust, perturb, torch_save_deterministic, write_json  # noqa: E402

logging.disable(logging.WARNING)
from funasr import AutoModel  # noqa: E402

MODELS = os.path.join(FIXTURES, "models")
MVN560 = os.path.join(FIXTURES, "frontend", "am_560.mvn")
MVN400 = os.path.join(FIXTURES, "frontend", "am_400.mvn")
NOTES = []

ASR_TOKENS = (
    ["<blank>", "<s>", "</s>", "and@@", "he@@", "llo", "wor@@", "ld", "the", "ing", "a@@", "i"]
    + list("的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会")
    + list("今天气很好世界")
    + ["<unk>"]
)
PUNC_TOKENS = (
    ["<blank>", "<s>", "</s>"]
    + list("你好世界今天气很的一是了我不人在他有这个上们来到时大地为子中")
    + ["hello", "world", "<unk>"]
)
PUNC_LIST = ["<unk>", "_", "，", "。", "？", "、"]

FRONTEND_PARAFORMER = {
    "fs": 16000,
    "window": "hamming",
    "n_mels": 80,
    "frame_length": 25,
    "frame_shift": 10,
    "lfr_m": 7,
    "lfr_n": 6,
    "dither": 0.0,
}
ENC_TINY = {
    "output_size": 16,
    "attention_heads": 2,
    "linear_units": 32,
    "num_blocks": 2,
    "dropout_rate": 0.1,
    "positional_dropout_rate": 0.1,
    "attention_dropout_rate": 0.1,
    "input_layer": "pe",
    "pos_enc_class": "SinusoidalPositionEncoder",
    "normalize_before": True,
    "kernel_size": 11,
    "sanm_shfit": 0,
    "selfattention_layer_type": "sanm",
}
DEC_TINY = {
    "attention_heads": 2,
    "linear_units": 32,
    "num_blocks": 2,
    "dropout_rate": 0.1,
    "positional_dropout_rate": 0.1,
    "self_attention_dropout_rate": 0.1,
    "src_attention_dropout_rate": 0.1,
    "att_layer_num": 2,
    "kernel_size": 11,
    "sanm_shfit": 0,
}
PARAFORMER_MODEL_CONF = {
    "ctc_weight": 0.0,
    "lsm_weight": 0.1,
    "length_normalized_loss": True,
    "predictor_weight": 1.0,
    "predictor_bias": 1,
    "sampling_ratio": 0.75,
}


def asr_config(model, predictor, predictor_conf):
    return {
        "model": model,
        "model_conf": PARAFORMER_MODEL_CONF,
        "encoder": "SANMEncoder",
        "encoder_conf": ENC_TINY,
        "decoder": "ParaformerSANMDecoder",
        "decoder_conf": DEC_TINY,
        "predictor": predictor,
        "predictor_conf": predictor_conf,
        "frontend": "WavFrontend",
        "frontend_conf": FRONTEND_PARAFORMER,
        "specaug": "SpecAugLFR",
        "specaug_conf": SPECAUG,
        "tokenizer": "CharTokenizer",
        "tokenizer_conf": {"unk_symbol": "<unk>", "split_with_space": True},
        "ctc_conf": {"dropout_rate": 0.0, "ctc_type": "builtin", "reduce": True, "ignore_nan_grad": True},
        "normalize": None,
    }


def configuration_json(name, task, metas):
    return {
        "framework": "pytorch",
        "task": task,
        "model": {"type": "funasr"},
        "pipeline": {"type": "funasr-pipeline"},
        "model_name_in_hub": {"ms": f"funasr_lite/tests/fixtures/models/{name}", "hf": ""},
        "file_path_metas": metas,
    }


def dump_yaml(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(obj, f, allow_unicode=True, sort_keys=False, default_flow_style=False)


def build_via_automodel(d):
    am = AutoModel(model=d, disable_update=True, device="cpu", disable_pbar=True, log_level="ERROR")
    return am


def make_folder(name, files, config, metas, task, weights_name, seed, adjust=None):
    d = os.path.join(MODELS, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    dump_yaml(os.path.join(d, "config.yaml"), config)
    write_json(os.path.join(d, "configuration.json"), configuration_json(name, task, metas))
    for fname, content in files.items():
        if isinstance(content, str) and os.path.isfile(content):
            shutil.copyfile(content, os.path.join(d, fname))
        elif isinstance(content, (list, dict)):
            write_json(os.path.join(d, fname), content)
        else:
            with open(os.path.join(d, fname), "w", encoding="utf-8") as f:
                f.write(content)
    # 1) build through FunASR (no weights file yet -> random init seeded by AutoModel, seed 0)
    torch.manual_seed(seed)
    am = build_via_automodel(d)
    sd = perturb(am.model.state_dict(), seed)
    if adjust is not None:
        sd = adjust(sd)
    wpath = os.path.join(d, weights_name)
    torch_save_deterministic(sd, wpath)
    # 2) load back through AutoModel from the local path and compare
    am2 = build_via_automodel(d)
    sd2 = am2.model.state_dict()
    ok = sd.keys() == sd2.keys() and all(torch.equal(sd[k], sd2[k]) for k in sd)
    n_params = sum(v.numel() for v in sd.values())
    NOTES.append(
        f"{name}: class {type(am2.model).__name__}, {len(sd)} tensors, {n_params} values, "
        f"{os.path.getsize(wpath)} bytes; AutoModel reload identical: {ok}"
    )
    assert ok, name
    return d, am2, sd


# CIF values of the tiny Paraformers (common.cif_alpha_adjust): with the plain random init the
# alphas sit around 0.4 per encoder frame with little dependence on the input, i.e. ~22 tokens for a
# 3.5 s clip and hardly any variety. Scale -4 (exact in float32) makes the alphas depend strongly on
# the encoder output, and the bias moves the operating point so that the tests/fixtures/paraformer
# clips (0.6 s .. 3.5 s) fire 3..12 tokens (see make_paraformer.py).
def paraformer_tiny():
    metas = {
        "init_param": "model.pt",
        "config": "config.yaml",
        "tokenizer_conf": {"token_list": "tokens.json", "seg_dict_file": "seg_dict"},
        "frontend_conf": {"cmvn_file": "am.mvn"},
    }
    seg = "hello he@@ llo\nworld wor@@ ld\nthe the\nand and@@\n"
    pc = {"idim": 16, "threshold": 1.0, "l_order": 1, "r_order": 1, "tail_threshold": 0.45}
    return make_folder(
        "paraformer_tiny",
        {"tokens.json": ASR_TOKENS, "am.mvn": MVN560, "seg_dict": seg},
        asr_config("Paraformer", "CifPredictorV2", pc),
        metas,
        "auto-speech-recognition",
        "model.pt",
        seed=11,
        adjust=cif_alpha_adjust(-4.0, -2.55),
    )


def bicif_paraformer_tiny():
    metas = {
        "init_param": "model.pt",
        "config": "config.yaml",
        "tokenizer_conf": {"token_list": "tokens.json", "seg_dict_file": "seg_dict"},
        "frontend_conf": {"cmvn_file": "am.mvn"},
    }
    seg = "hello he@@ llo\nworld wor@@ ld\nthe the\nand and@@\n"
    pc = {
        "idim": 16,
        "threshold": 1.0,
        "l_order": 1,
        "r_order": 1,
        "tail_threshold": 0.45,
        "smooth_factor2": 0.25,
        "noise_threshold2": 0.01,
        "upsample_times": 3,
        "use_cif1_cnn": False,
        "upsample_type": "cnn_blstm",
    }
    return make_folder(
        "bicif_paraformer_tiny",
        {"tokens.json": ASR_TOKENS, "am.mvn": MVN560, "seg_dict": seg},
        asr_config("BiCifParaformer", "CifPredictorV3", pc),
        metas,
        "auto-speech-recognition",
        "model.pt",
        seed=12,
        adjust=cif_alpha_adjust(-4.0, -2.65),
    )


VAD_MODEL_CONF = {
    "sample_rate": 16000,
    "detect_mode": 1,
    "snr_mode": 0,
    "max_end_silence_time": 800,
    "max_start_silence_time": 3000,
    "do_start_point_detection": True,
    "do_end_point_detection": True,
    "window_size_ms": 200,
    "sil_to_speech_time_thres": 150,
    "speech_to_sil_time_thres": 150,
    "speech_2_noise_ratio": 1.0,
    "do_extend": 1,
    "lookback_time_start_point": 200,
    "lookahead_time_end_point": 100,
    "max_single_segment_time": 60000,
    "snr_thres": -100.0,
    "noise_frame_num_used_for_snr": 100,
    "decibel_thres": -100.0,
    "speech_noise_thres": 0.6,
    "fe_prior_thres": 0.0001,
    "silence_pdf_num": 1,
    "sil_pdf_ids": [0],
    "speech_noise_thresh_low": -0.1,
    "speech_noise_thresh_high": 0.3,
    "output_frame_probs": False,
    "frame_in_ms": 10,
    "frame_length_ms": 25,
}


def fsmn_vad_config(model_conf=VAD_MODEL_CONF, fs=16000):
    """config.yaml of the tiny FSMN-VAD (also make_resample.py's 8 kHz folder)."""
    return {
        "model": "FsmnVADStreaming",
        "model_conf": model_conf,
        "encoder": "FSMN",
        "encoder_conf": {
            "input_dim": 400,
            "input_affine_dim": 24,
            "fsmn_layers": 2,
            "linear_dim": 32,
            "proj_dim": 16,
            "lorder": 20,
            "rorder": 0,
            "lstride": 1,
            "rstride": 0,
            "output_affine_dim": 24,
            "output_dim": 248,
        },
        "frontend": "WavFrontendOnline",
        "frontend_conf": {
            "fs": fs,
            "window": "hamming",
            "n_mels": 80,
            "frame_length": 25,
            "frame_shift": 10,
            "dither": 0.0,
            "lfr_m": 5,
            "lfr_n": 1,
        },
    }


def fsmn_vad_tiny():
    config = fsmn_vad_config()
    metas = {"init_param": "model.pt", "config": "config.yaml", "frontend_conf": {"cmvn_file": "am.mvn"}}
    return make_folder(
        "fsmn_vad_tiny", {"am.mvn": MVN400}, config, metas, "voice-activity-detection", "model.pt", seed=13
    )


def ct_transformer_config(num_blocks=2):
    """config.yaml of the tiny CT-Transformer (make_punc.py's cn-en folder: ``num_blocks=3``)."""
    return {
        "model": "CTTransformer",
        "model_conf": {
            "ignore_id": 0,
            "embed_unit": 16,
            "att_unit": 16,
            "dropout_rate": 0.1,
            "punc_list": PUNC_LIST,
            "punc_weight": [1.0] * 6,
            "sentence_end_id": 3,
        },
        "encoder": "SANMEncoder",
        "encoder_conf": {
            "input_size": 16,
            "output_size": 16,
            "attention_heads": 2,
            "linear_units": 32,
            "num_blocks": num_blocks,
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


def ct_transformer_tiny():
    config = ct_transformer_config()
    metas = {"init_param": "model.pt", "config": "config.yaml", "tokenizer_conf": {"token_list": "tokens.json"}}
    return make_folder(
        "ct_transformer_tiny", {"tokens.json": PUNC_TOKENS}, config, metas, "punctuation", "model.pt", seed=14
    )


def campplus_tiny():
    config = {
        "model": "CAMPPlus",
        "model_conf": {
            "feat_dim": 80,
            "embedding_size": 16,
            "growth_rate": 4,
            "bn_size": 2,
            "init_channels": 8,
            "config_str": "batchnorm-relu",
            "memory_efficient": True,
            "output_level": "segment",
        },
        "frontend": "WavFrontend",
        "frontend_conf": {"fs": 16000},
    }
    metas = {"init_param": "campplus_cn_common.bin", "config": "config.yaml"}
    return make_folder("campplus_tiny", {}, config, metas, "speaker-verification", "campplus_cn_common.bin", seed=15)


def paraformer_tiny_0x(sd):
    """0.x (ESPnet-style) folder: model.pb, config.yaml with lower-case registry names and an inline
    token_list, am.mvn, tokens.txt. Hand-built -- NOT produced by FunASR (1.x cannot load it)."""
    d = os.path.join(MODELS, "paraformer_tiny_0x")
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    pc = {"idim": 16, "threshold": 1.0, "l_order": 1, "r_order": 1, "tail_threshold": 0.45}
    cfg = {
        "frontend": "wav_frontend",
        "frontend_conf": {
            "fs": 16000,
            "window": "hamming",
            "n_mels": 80,
            "frame_length": 25,
            "frame_shift": 10,
            "lfr_m": 7,
            "lfr_n": 6,
        },
        "specaug": "specaug_lfr",
        "specaug_conf": SPECAUG,
        "normalize": None,
        "model": "paraformer",
        "model_conf": PARAFORMER_MODEL_CONF,
        "encoder": "sanm",
        "encoder_conf": ENC_TINY,
        "decoder": "paraformer_decoder_sanm",
        "decoder_conf": DEC_TINY,
        "predictor": "cif_predictor_v2",
        "predictor_conf": pc,
        "input_size": None,
        "token_type": "char",
        "token_list": ASR_TOKENS,
    }
    dump_yaml(os.path.join(d, "config.yaml"), cfg)
    shutil.copyfile(MVN560, os.path.join(d, "am.mvn"))
    with open(os.path.join(d, "tokens.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(ASR_TOKENS) + "\n")
    torch_save_deterministic(sd, os.path.join(d, "model.pb"))
    NOTES.append(
        f"paraformer_tiny_0x: hand-built 0.x layout, model.pb = paraformer_tiny weights "
        f"({os.path.getsize(os.path.join(d, 'model.pb'))} bytes)"
    )


def main():
    os.makedirs(MODELS, exist_ok=True)
    _, _, sd = paraformer_tiny()
    paraformer_tiny_0x(sd)
    bicif_paraformer_tiny()
    fsmn_vad_tiny()
    ct_transformer_tiny()
    campplus_tiny()
    print("\n".join(NOTES))


if __name__ == "__main__":
    main()
