"""SeACo-Paraformer (hotwords) fixtures: tests/fixtures/models/seaco_paraformer_tiny and tests/fixtures/seaco/.

The folder is built THROUGH FunASR, as make_models.py builds the Paraformer folders: config.yaml
(model ``SeacoParaformer``, ``CifPredictorV3``, a bias encoder and a ``seaco_decoder``),
AutoModel(model=<dir>) random init (seeded), constant tensors perturbed, the CIF alpha head
adjusted (``common.cif_alpha_adjust``) and one deterministic change of the hotword output layer
(``no_bias_adjust`` below), saved, reloaded by AutoModel and compared exactly.

Then, for every clip of make_paraformer.py and every hotword case below, FunASR's
``AutoModel.generate(input=waveform, hotword=...)`` (CPU, batch 1, dither 0) is run with the model
methods that ``SeacoParaformer.inference`` calls wrapped, so that the tensors it computed are
recorded: the hotword ids (``generate_hotwords_list``), the bias encoder's hotword embeddings
(``_hotword_representation``), the ASF scores of the ``> 50`` hotword case
(``seaco_decoder.forward_asf6``), the plain decoder log-probs and the merged log-probs
(``_seaco_decode_with_ASF``). Written:

- ``seaco/<clip>.npz``: waveform, FunASR's features, plain decoder log-probs, and per case
  ``<case>__logp`` (merged log-probs), ``<case>__token_ids``, ``<case>__hotword_emb``.
- ``seaco/generate.json``: generate() results per clip and case (text, timestamp).
- ``seaco/hotwords.json``: ``generate_hotwords_list`` on strings and files, with and without
  ``seg_dict`` (the ids FunASR feeds the bias encoder).
- ``seaco/asf.json``: the ASF scores and the kept hotword rows (> 50 hotwords).
- ``seaco/meta.json``: versions, cases, notes.

Run:  tools/funasr_venv/bin/python tools/make_fixtures/make_seaco.py
"""

import copy
import logging
import os
import sys
import tempfile
import types

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import FIXTURES, cif_alpha_adjust, save_npz, write_json  # noqa: E402
from make_models import ASR_TOKENS, MVN560, asr_config, make_folder  # noqa: E402
from make_paraformer import clips  # noqa: E402

logging.disable(logging.WARNING)

OUT = os.path.join(FIXTURES, "seaco")
NAME = "seaco_paraformer_tiny"
NO_BIAS = len(ASR_TOKENS) - 2  # the last CJK token; the official model's NO_BIAS is 8377 of 8404
CJK = [t for t in ASR_TOKENS if len(t) == 1 and "\u4e00" <= t <= "\u9fff"]
# like the official seg_dict: every CJK token maps to itself, words to their pieces; "会" and "以"
# are left out on purpose (a hotword character missing from seg_dict becomes <unk>)
SEG_DICT = "hello he@@ llo\nworld wor@@ ld\nthe the\nand and@@\n" + "".join(
    f"{c} {c}\n" for c in CJK if c not in "会以"
)
NOTES = []
MARGINS = []  # |NO_BIAS logit - best other logit| of the bias decoder, per case (switch ties)

# hotword cases of the golden fixtures: name -> the `hotword` argument (a file case names its lines)
_N = len(CJK)
# 60 distinct words (> 50 with <s>: FunASR's ASF keeps the 50 best-scoring and <s>)
MANY = " ".join(CJK[i % _N] + CJK[(i * 7 + 3) % _N] + (CJK[(i * 11 + 5) % _N] if i >= _N else "") for i in range(60))
CASES = {
    "none": None,
    "empty": "",
    "words": "你好 今天 hello",
    "unk": "Hello 世界 abc 12 会议 天气好",
    "many": MANY,
    "file": ["今天 天气", "你好", "world", "会"],  # an empty line would crash FunASR (length-0 LSTM input)
}


def seaco_config():
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
    cfg = asr_config("SeacoParaformer", "CifPredictorV3", pc)
    cfg["model_conf"] = dict(
        cfg["model_conf"],
        inner_dim=16,
        bias_encoder_type="lstm",
        bias_encoder_bid=False,
        seaco_lsm_weight=0.1,
        seaco_length_normalized_loss=True,
        train_decoder=True,
        NO_BIAS=NO_BIAS,
    )
    # the official seaco_decoder_conf with tiny sizes: 6 attention layers (att_layer_num's default,
    # the ASF reads layer 5), FSMN kernel 21, no output layer, no input layer
    cfg["seaco_decoder"] = "ParaformerSANMDecoder"
    cfg["seaco_decoder_conf"] = {
        "attention_heads": 2,
        "linear_units": 24,
        "num_blocks": 4,
        "att_layer_num": 6,
        "dropout_rate": 0.1,
        "positional_dropout_rate": 0.1,
        "self_attention_dropout_rate": 0.1,
        "src_attention_dropout_rate": 0.1,
        "kernel_size": 21,
        "sanm_shfit": 0,
        "use_output_layer": False,
        "wo_input_layer": True,
    }
    return cfg


def no_bias_adjust(sd):
    """CIF head as the BiCif tiny model, and ``hotword_output_layer.bias[NO_BIAS] += 3.625`` (exact in
    float32): with the random init the bias decoder's argmax is never NO_BIAS (its log-prob is 1.9
    to 5.0 below the best), so every position would take the bias decoder's token; the shift makes
    both branches of FunASR's merge occur on the clips (meta.json: margins)."""
    sd = cif_alpha_adjust(-4.0, -2.65)(sd)
    b = sd["hotword_output_layer.bias"].clone()
    b[NO_BIAS] += 3.625
    sd["hotword_output_layer.bias"] = b
    return sd


def build_folder():
    metas = {
        "init_param": "model.pt",
        "config": "config.yaml",
        "tokenizer_conf": {"token_list": "tokens.json", "seg_dict_file": "seg_dict"},
        "frontend_conf": {"cmvn_file": "am.mvn"},
    }
    d, am, sd = make_folder(
        NAME,
        {"tokens.json": ASR_TOKENS, "am.mvn": MVN560, "seg_dict": SEG_DICT},
        seaco_config(),
        metas,
        "auto-speech-recognition",
        "model.pt",
        seed=17,
        adjust=no_bias_adjust,
    )
    NOTES.extend(n for n in __import__("make_models").NOTES if n.startswith(NAME))
    return d, am


def hotword_arg(case, tmpdir):
    v = CASES[case]
    if isinstance(v, list):
        path = os.path.join(tmpdir, f"{case}.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(v) + "\n")
        return path
    return v


class Recorder:
    """Records the outputs of the model methods that ``SeacoParaformer.inference`` calls."""

    def __init__(self, objs_names):
        self.calls, self.orig = {}, []
        for obj, name in objs_names:
            f = getattr(obj, name)
            self.orig.append((obj, name, f))
            setattr(obj, name, self._wrap(name, f))

    def _wrap(self, name, f):
        def g(*args, **kw):
            out = f(*args, **kw)
            self.calls.setdefault(name, []).append(
                (copy.deepcopy([a for a in args if not torch.is_tensor(a)]), _clone(args), _clone(out), dict(kw))
            )
            return out

        return g

    def remove(self):
        for obj, name, f in self.orig:
            setattr(obj, name, f)


def _clone(x):
    if torch.is_tensor(x):
        return x.detach().clone()
    if isinstance(x, (tuple, list)):
        return type(x)(_clone(v) for v in x)
    return copy.deepcopy(x)


def _np(t):
    return t.detach().cpu().numpy()


def golden(am, waves, tmpdir):
    m = am.model
    gen, asf = {}, {}
    for clip, w in waves.items():
        arrays = {"waveform": w}
        for case in CASES:
            hw = hotword_arg(case, tmpdir)
            rec = Recorder(
                [
                    (m, "encode"),
                    (m, "generate_hotwords_list"),
                    (m, "_hotword_representation"),
                    (m, "_seaco_decode_with_ASF"),
                    (m.seaco_decoder, "forward_asf6"),
                ]
            )
            dha = []
            hook = m.hotword_output_layer.register_forward_hook(
                lambda mod, i, o, dha=dha: dha.append(o.detach().clone())
            )
            kw = {} if hw is None else {"hotword": hw}
            res = am.generate(input=w, key=clip, **kw)
            hook.remove()
            rec.remove()
            assert len(res) == 1, res
            g = dict(res[0])
            gen[f"{clip}__{case}"] = g
            (_, (speech, lens), _, _) = rec.calls["encode"][0]
            if "feats" not in arrays:
                arrays["feats"] = _np(speech[0, : int(lens[0])])
            hw_ids = rec.calls["generate_hotwords_list"][0][2]
            (_, dargs, merged, _) = rec.calls["_seaco_decode_with_ASF"][0]
            enc, enc_lens, embeds, ptl = dargs[:4]
            n = int(ptl[0])
            arrays[f"{case}__logp"] = _np(merged[0, :n])
            yseq = merged[0, :n].argmax(-1).tolist()
            arrays[f"{case}__token_ids"] = np.asarray([t for t in yseq if t not in (0, 1, 2)], dtype=np.int64)
            arrays[f"{case}__score"] = np.float32(merged[0, :n].max(-1)[0].sum(-1).item())
            if hw_ids is None:
                assert "_hotword_representation" not in rec.calls
                arrays["decoder_logp"] = arrays[f"{case}__logp"]
            else:
                arrays[f"{case}__hotword_ids"] = np.asarray(
                    [i for h in hw_ids for i in h + [-1]], dtype=np.int64
                )  # -1 ends each hotword
                arrays[f"{case}__hotword_emb"] = _np(rec.calls["_hotword_representation"][0][2])
                nb = int((arrays[f"{case}__logp"] == arrays.get("decoder_logp", np.nan)).all(-1).sum())
                (logits,) = dha
                gap = (
                    logits[0, :n, NO_BIAS]
                    - torch.cat([logits[0, :n, :NO_BIAS], logits[0, :n, NO_BIAS + 1 :]], -1).max(-1)[0]
                )
                margin = float(gap.abs().min())
                MARGINS.append(margin)
                NOTES.append(
                    f"{clip} {case}: {len(hw_ids)} hotwords, {nb}/{n} positions keep the ASR decoder, "
                    f"NO_BIAS switch margin {margin:.4f}"
                )
            if "forward_asf6" in rec.calls:
                attn = rec.calls["forward_asf6"][0][2]
                scores = attn[0].sum(0).sum(0)
                k = min(50, len(hw_ids) - 1)
                kept = torch.topk(scores, k)[1].tolist() + [len(hw_ids) - 1]
                asf[f"{clip}__{case}"] = {"scores": scores.tolist(), "kept": kept}
                sel = rec.calls["_hotword_representation"][0][2]
                assert len(rec.calls["_hotword_representation"]) == 1
                arrays[f"{case}__asf_kept"] = np.asarray(kept, dtype=np.int64)
                del sel
            if "timestamp" in g:
                arrays[f"{case}__timestamp"] = np.asarray(g["timestamp"], dtype=np.int64).reshape(-1, 2)
            arrays[f"{case}__text"] = np.asarray(g["text"])
            del enc, enc_lens, embeds
        save_npz(os.path.join(OUT, f"{clip}.npz"), **arrays)
    return gen, asf


def hotword_lists(am, tmpdir):
    """FunASR's ``generate_hotwords_list`` on strings and files, with and without seg_dict."""
    m, kw = am.model, am.kwargs
    tok, fe = kw["tokenizer"], kw["frontend"]
    no_seg = types.SimpleNamespace(cmvn_file=None)
    files = {
        "lines.txt": "今天 天气\n你好\n\nHello world\n会以\nxyz\n",
        "no_newline.txt": "世界",
        "crlf.txt": "你好\r\n天气\r\n",
    }
    paths = {}
    for name, text in files.items():
        paths[name] = os.path.join(tmpdir, name)
        with open(paths[name], "w", encoding="utf-8", newline="") as f:
            f.write(text)
    inputs = {
        "string": "你好 今天 hello",
        "string_spaces": "  你好\t今天\n hello  ",
        "string_case": "HELLO World THE",
        "string_unk": "abc 12 会议 a1 天气好 你好2",
        "string_single_token": "the llo ing 你",
        "empty": "",
        "spaces": "   ",
        "missing_txt": os.path.join(tmpdir, "missing.txt"),
        "file_lines": paths["lines.txt"],
        "file_no_newline": paths["no_newline.txt"],
        "file_crlf": paths["crlf.txt"],
        "existing_file_not_txt": MVN560,
    }
    out = {"files": {n: files[n] for n in files}, "cases": {}}
    for name, value in inputs.items():
        for seg, frontend in (("seg_dict", fe), ("no_seg_dict", no_seg)):
            try:
                ids = m.generate_hotwords_list(value, tokenizer=tok, frontend=frontend)
                r = {"ids": ids}
            except Exception as e:  # noqa: BLE001
                r = {"error": type(e).__name__}
            shown = value.replace(tmpdir, "<tmp>") if isinstance(value, str) else value
            if value == MVN560:
                shown = "<an existing file whose name does not end in .txt>"
            out["cases"][f"{name}__{seg}"] = {"input": shown, **r}
    return out


# The official model's SeACo settings (iic/speech_seaco_paraformer_large_asr_nat-zh-cn-16k-common-vocab8404-pytorch:
# a 2-layer 512-d LSTM bias encoder, a seaco_decoder of 6 attention layers, FFN 1024, FSMN kernel 21)
SEACO_LARGE_MODEL_CONF = {
    "inner_dim": 512,
    "bias_encoder_type": "lstm",
    "bias_encoder_bid": False,
    "seaco_lsm_weight": 0.1,
    "seaco_length_normalized_loss": True,
    "train_decoder": True,
    "NO_BIAS": 8377,
}
SEACO_LARGE_DECODER_CONF = {
    "attention_heads": 4,
    "linear_units": 1024,
    "num_blocks": 4,
    "dropout_rate": 0.1,
    "positional_dropout_rate": 0.1,
    "self_attention_dropout_rate": 0.1,
    "src_attention_dropout_rate": 0.1,
    "kernel_size": 21,
    "sanm_shfit": 0,
    "use_output_layer": False,
    "wo_input_layer": True,
}


def keys_large():
    """tests/fixtures/models/keys_seaco_paraformer_large.json: names and shapes of the full-size
    model (FunASR's class on the meta device, as make_keys.py does for the other models)."""
    import json

    from funasr.register import tables
    from make_keys import CIF_V3, paraformer_conf

    conf = paraformer_conf("SeacoParaformer", "CifPredictorV3", CIF_V3)
    conf.update(SEACO_LARGE_MODEL_CONF)
    conf["seaco_decoder"] = "ParaformerSANMDecoder"
    conf["seaco_decoder_conf"] = copy.deepcopy(SEACO_LARGE_DECODER_CONF)
    cls = tables.model_classes.get(conf.pop("model"))
    with torch.device("meta"):
        model = cls(**conf)
    keys = {k: list(v.shape) for k, v in model.state_dict().items()}
    path = os.path.join(FIXTURES, "models", "keys_seaco_paraformer_large.json")
    with open(path, "w", encoding="utf-8") as f:
        f.write("{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in keys.items()) + "\n}\n")
    n = sum(p.numel() for p in model.parameters())
    NOTES.append(f"keys_seaco_paraformer_large.json: {type(model).__name__}, {len(keys)} tensors, {n} parameters")
    return {"seaco_decoder_conf": SEACO_LARGE_DECODER_CONF, "model_conf": SEACO_LARGE_MODEL_CONF}


def main():
    os.makedirs(OUT, exist_ok=True)
    large = keys_large()
    _, am = build_folder()
    waves = clips()
    with tempfile.TemporaryDirectory() as tmpdir:
        gen, asf = golden(am, waves, tmpdir)
        hw = hotword_lists(am, tmpdir)
    write_json(os.path.join(OUT, "generate.json"), gen)
    write_json(os.path.join(OUT, "asf.json"), asf)
    write_json(os.path.join(OUT, "hotwords.json"), hw)
    import funasr

    write_json(
        os.path.join(OUT, "meta.json"),
        {
            "funasr": funasr.__version__,
            "torch": torch.__version__,
            "clip_order": list(waves),
            "cases": {k: v for k, v in CASES.items()},
            "no_bias": NO_BIAS,
            "min_no_bias_switch_margin": min(MARGINS),
            "keys_seaco_paraformer_large": large,
            "notes": NOTES,
        },
    )
    print("\n".join(NOTES))


if __name__ == "__main__":
    main()
