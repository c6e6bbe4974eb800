"""State-dict key/shape lists of the FULL-SIZE official architectures:
tests/fixtures/models/keys_<model>.json  (dict name -> shape list, in state_dict order).

Built by instantiating FunASR 1.4.16's own classes with the official hyper-parameters
(the ``template.yaml`` files of FunASR's ``funasr/models/{paraformer,bicif_paraformer,
fsmn_vad_streaming,ct_transformer,campplus}/``). Modules are created
on the `meta` device, so no memory is spent on weights and nothing is saved but names/shapes.

Run:  tools/funasr_venv/bin/python tools/make_fixtures/make_keys.py
"""

import copy
import json
import logging
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import FIXTURES, SPECAUG  # noqa: E402

logging.disable(logging.WARNING)
import funasr  # noqa: E402,F401  (fills the registry)
from funasr.register import tables  # noqa: E402

OUT = os.path.join(FIXTURES, "models")

ENC = {
    "output_size": 512,
    "attention_heads": 4,
    "linear_units": 2048,
    "num_blocks": 50,
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
DEC = {
    "attention_heads": 4,
    "linear_units": 2048,
    "num_blocks": 16,
    "dropout_rate": 0.1,
    "positional_dropout_rate": 0.1,
    "self_attention_dropout_rate": 0.1,
    "src_attention_dropout_rate": 0.1,
    "att_layer_num": 16,
    "kernel_size": 11,
    "sanm_shfit": 0,
}
MODEL_CONF = {
    "ctc_weight": 0.0,
    "lsm_weight": 0.1,
    "length_normalized_loss": True,
    "predictor_weight": 1.0,
    "predictor_bias": 1,
    "sampling_ratio": 0.75,
}
CIF_V2 = {"idim": 512, "threshold": 1.0, "l_order": 1, "r_order": 1, "tail_threshold": 0.45}
CIF_V3 = {
    **CIF_V2,
    "smooth_factor2": 0.25,
    "noise_threshold2": 0.01,
    "upsample_times": 3,
    "use_cif1_cnn": False,
    "upsample_type": "cnn_blstm",
}


def paraformer_conf(model, predictor, predictor_conf):
    return dict(
        model=model,
        **MODEL_CONF,
        encoder="SANMEncoder",
        encoder_conf=copy.deepcopy(ENC),
        decoder="ParaformerSANMDecoder",
        decoder_conf=copy.deepcopy(DEC),
        predictor=predictor,
        predictor_conf=copy.deepcopy(predictor_conf),
        specaug="SpecAugLFR",
        specaug_conf=copy.deepcopy(SPECAUG),
        normalize=None,
        ctc_conf={"dropout_rate": 0.0, "ctc_type": "builtin", "reduce": True, "ignore_nan_grad": True},
        input_size=560,
        vocab_size=8404,
    )


CONFS = {
    "paraformer_large": (paraformer_conf("Paraformer", "CifPredictorV2", CIF_V2), 956),
    "bicif_paraformer_large": (paraformer_conf("BiCifParaformer", "CifPredictorV3", CIF_V3), 968),
    "fsmn_vad": (
        dict(
            model="FsmnVADStreaming",
            encoder="FSMN",
            encoder_conf={
                "input_dim": 400,
                "input_affine_dim": 140,
                "fsmn_layers": 4,
                "linear_dim": 250,
                "proj_dim": 128,
                "lorder": 20,
                "rorder": 0,
                "lstride": 1,
                "rstride": 0,
                "output_affine_dim": 140,
                "output_dim": 248,
            },
        ),
        24,
    ),
    "ct_transformer_zh": (
        dict(
            model="CTTransformer",
            ignore_id=0,
            embed_unit=256,
            att_unit=256,
            dropout_rate=0.1,
            punc_list=["<unk>", "_", "，", "。", "？", "、"],
            punc_weight=[1.0] * 6,
            sentence_end_id=3,
            encoder="SANMEncoder",
            encoder_conf={
                "input_size": 256,
                "output_size": 256,
                "attention_heads": 8,
                "linear_units": 1024,
                "num_blocks": 4,
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
            vocab_size=272727,
        ),
        None,
    ),
    "campplus": (
        dict(
            model="CAMPPlus",
            feat_dim=80,
            embedding_size=192,
            growth_rate=32,
            bn_size=4,
            init_channels=128,
            config_str="batchnorm-relu",
            memory_efficient=True,
            output_level="segment",
        ),
        937,
    ),
}


def main():
    summary = {}
    for name, (conf, expect) in CONFS.items():
        conf = copy.deepcopy(conf)
        cls = tables.model_classes.get(conf.pop("model"))
        with torch.device("meta"):
            model = cls(**conf)
        sd = model.state_dict()
        keys = {k: list(v.shape) for k, v in sd.items()}
        n_param = sum(p.numel() for p in model.parameters())
        n_values = sum(v.numel() for k, v in sd.items() if not k.endswith("num_batches_tracked"))
        if expect is not None:
            assert len(keys) == expect, (name, len(keys), expect)
        with open(os.path.join(OUT, f"keys_{name}.json"), "w", encoding="utf-8") as f:
            f.write("{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in keys.items()) + "\n}\n")
        summary[name] = (type(model).__name__, len(keys), n_param, n_values)
        print(
            f"keys_{name}.json: {type(model).__name__}, {len(keys)} tensors, "
            f"{n_param} parameters, {n_values} state values"
        )
    return summary


if __name__ == "__main__":
    main()
