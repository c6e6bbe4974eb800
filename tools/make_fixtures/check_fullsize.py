"""Full-size parity check (NOT run in CI): Paraformer-large / BiCif-Paraformer-large vs FunASR.

Builds, with FunASR 1.4.16's own classes and seeded random init, two FULL-SIZE model folders in
the FunASR 1.x layout (config.yaml as in FunASR's templates for the official models, model.pt,
tokens.json with 8404 entries, am.mvn, configuration.json, seg_dict):

    paraformer_large_random        Paraformer       + CifPredictorV2   (956 tensors)
    bicif_paraformer_large_random  BiCifParaformer  + CifPredictorV3   (968 tensors)

then runs FunASR `AutoModel(...).generate(input=wave)` (batch 1) and funasr_lite's `AutoModel` (one
clip at a time AND all clips in one batched call) on the same folders and espeak-ng Mandarin clips,
and compares text and timestamps exactly. It also compares intermediate tensors (encoder output,
CIF alphas, decoder log-probs, BiCif upsampled alphas) of FunASR's model methods and funasr_lite's
`forward_outputs` (max |diff|).

Run (about 900 MB per folder under --work, never inside the repo):

    tools/funasr_venv/bin/python tools/make_fixtures/check_fullsize.py --work /tmp/fullsize

Existing folders under --work are reused when their build stamp matches (use --rebuild to force).

Weights: AutoModel builds the model from the folder (no model.pt yet -> FunASR's random init,
seeded by AutoModel's `seed`), every constant-initialised float tensor (LayerNorm weights/biases,
zero biases) is perturbed with a seeded generator (as make_models.py does), and the CIF weight
head is adjusted deterministically (`cif_alpha_adjust`, see below) so that 3..15 tokens fire per
clip instead of a degenerate count.
"""

import argparse
import json
import logging
import os
import shutil
import sys
import time

import numpy as np
import torch
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import REPO, cif_alpha_adjust, espeak_mandarin, perturb, speech_like, write_json  # noqa: E402

sys.path.insert(0, REPO)  # funasr_lite from this checkout

logging.disable(logging.WARNING)
from funasr import AutoModel as FunASRAutoModel  # noqa: E402
from funasr.utils.load_utils import extract_fbank, load_audio_text_image_video  # noqa: E402

import funasr_lite  # noqa: E402
from funasr_lite import AutoModel as LiteAutoModel  # noqa: E402
from funasr_lite.modelio import load_state_dict_strict, open_model_dir  # noqa: E402
from funasr_lite.models.paraformer.build import ASR_CLASSES  # noqa: E402
from funasr_lite.models.paraformer.template import paraformer_template  # noqa: E402

MVN560 = os.path.join(REPO, "tests", "fixtures", "frontend", "am_560.mvn")
VOCAB = 8404
BUILD_VERSION = 1  # bump when the folder recipe changes

# config.yaml: FunASR's template (funasr_lite.models.paraformer.template), Paraformer-large sizes.


def configuration_json(name):
    return {
        "framework": "pytorch",
        "task": "auto-speech-recognition",
        "model": {"type": "funasr"},
        "pipeline": {"type": "funasr-pipeline"},
        "model_name_in_hub": {"ms": f"funasr_lite/check_fullsize/{name}", "hf": ""},
        "file_path_metas": {
            "init_param": "model.pt",
            "config": "config.yaml",
            "tokenizer_conf": {"token_list": "tokens.json", "seg_dict_file": "seg_dict"},
            "frontend_conf": {"cmvn_file": "am.mvn"},
        },
    }


def token_list():
    """8404 tokens like the official list: <blank> <s> </s>, then (seeded shuffle) 8000 CJK
    characters (U+4E00..), 300 lower-case `xx@@` continuation pieces and 100 lower-case word-end
    pieces, then <unk> last."""
    rng = np.random.RandomState(8404)
    letters = "abcdefghijklmnopqrstuvwxyz"
    english = []
    seen = set()
    while len(english) < 400:
        w = "".join(rng.choice(list(letters), size=rng.randint(1, 5)))
        if w not in seen:
            seen.add(w)
            english.append(w)
    pieces = [w + "@@" for w in english[:300]] + english[300:]
    cjk = [chr(0x4E00 + i) for i in range(VOCAB - 4 - len(pieces))]
    body = cjk + pieces
    order = rng.permutation(len(body))
    toks = ["<blank>", "<s>", "</s>"] + [body[i] for i in order] + ["<unk>"]
    assert len(toks) == VOCAB and len(set(toks)) == VOCAB
    return toks


SEG_DICT = "hello he@@ llo\nworld wor@@ ld\n"


# CIF values: with FunASR's random init of the full-size model the pre-sigmoid CIF logits of the
# clips below have mean -0.10..+0.06 and std 0.12..0.16, i.e. alphas ~0.5 per 60 ms LFR frame
# (about half the frame count: ~45 tokens for the 5.6 s clip) with little dependence on the input.
# Scaling the weight (x16 / x8: exact in float32) makes the alphas depend on the encoder output and
# the bias (-3.0 / -2.0) moves the operating point so that the clips below fire 3..15 tokens.
# Values chosen by scanning scale in {1,2,4,8,16} x bias in {-1,...,-4} on these clips.
MODELS = {
    # name: (model class (its predictor comes with the template), AutoModel seed, perturb seed, (cif scale, cif bias))
    "paraformer_large_random": ("Paraformer", 101, 111, (16.0, -3.0)),
    "bicif_paraformer_large_random": ("BiCifParaformer", 102, 112, (8.0, -2.0)),
}


def dump_yaml(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(obj, f, allow_unicode=True, sort_keys=False, default_flow_style=False)


def funasr_automodel(d, seed=0):
    return FunASRAutoModel(model=d, device="cpu", disable_update=True, disable_pbar=True, log_level="ERROR", seed=seed)


def build_folder(work, name, rebuild):
    model, seed, pseed, (scale, bias) = MODELS[name]
    d = os.path.join(work, name)
    stamp_path = os.path.join(d, "build_stamp.json")
    stamp = {
        "version": BUILD_VERSION,
        "model": model,
        "seed": seed,
        "perturb_seed": pseed,
        "cif_scale": scale,
        "cif_bias": bias,
        "funasr": _funasr_version(),
    }
    if not rebuild and os.path.isfile(stamp_path):
        with open(stamp_path) as f:
            if json.load(f) == stamp and os.path.isfile(os.path.join(d, "model.pt")):
                print(f"[build] {name}: reusing {d}")
                return d
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    dump_yaml(os.path.join(d, "config.yaml"), paraformer_template(model))
    write_json(os.path.join(d, "configuration.json"), configuration_json(name))
    write_json(os.path.join(d, "tokens.json"), token_list())
    shutil.copyfile(MVN560, os.path.join(d, "am.mvn"))
    with open(os.path.join(d, "seg_dict"), "w", encoding="utf-8") as f:
        f.write(SEG_DICT)
    t0 = time.perf_counter()
    am = funasr_automodel(d, seed=seed)  # no model.pt yet: FunASR's random init, seeded
    assert type(am.model).__name__ == model, type(am.model).__name__
    sd = cif_alpha_adjust(scale, bias)(perturb(am.model.state_dict(), pseed))
    del am
    torch.save(sd, os.path.join(d, "model.pt"))
    n = sum(v.numel() for v in sd.values())
    print(
        f"[build] {name}: {len(sd)} tensors, {n:,} parameters, "
        f"{os.path.getsize(os.path.join(d, 'model.pt')):,} bytes, {time.perf_counter() - t0:.1f} s"
    )
    write_json(stamp_path, stamp)
    return d


def _funasr_version():
    import funasr

    return funasr.__version__


# ------------------------------------------------------------------------------------------
def clips():
    """name -> float32 16 kHz waveform on the 16-bit grid (espeak-ng Mandarin, 1.4 .. 5.6 s)."""
    spec = [
        ("espeak_1p4s", "你好", 160, 22400, 31),
        ("espeak_2p6s", "今天天气很好", 200, 41600, 32),
        ("espeak_4p4s", "我们明天一起去公园散步吧", 180, 70400, 33),
        ("espeak_5p6s", "欢迎使用语音识别工具，这是一个完整的测试句子。", 230, 89600, 34),
    ]
    out = {}
    for name, text, speed, n, seed in spec:
        w = espeak_mandarin(text, seed=seed, speed=speed, n_samples=n)
        if w is None:  # espeak-ng absent: speech-like stand-in of the same length
            name, w = name.replace("espeak", "speechlike"), speech_like(n, seed=seed)
        out[name] = w
    return out


def _maxdiff(a, b):
    a, b = torch.as_tensor(a).double(), torch.as_tensor(b).double()
    if a.shape != b.shape:
        return f"shape {tuple(a.shape)} vs {tuple(b.shape)}"
    return float((a - b).abs().max()) if a.numel() else 0.0


def funasr_intermediates(am, wave):
    """FunASR model methods, in Paraformer(.BiCif).inference order, batch 1 (as make_paraformer.py)."""
    m, frontend = am.model, am.kwargs["frontend"]
    r = {}
    with torch.no_grad():
        audio = load_audio_text_image_video([wave], fs=frontend.fs, audio_fs=16000)
        speech, speech_lengths = extract_fbank(audio, data_type="sound", frontend=frontend)
        r["feats"] = speech[0]
        enc, enc_lens = m.encode(speech, speech_lengths)
        r["encoder_out"] = enc[0]
        embeds, token_num, alphas, _ = m.calc_predictor(enc, enc_lens)
        r["alphas"], r["token_num"] = alphas[0], token_num[0]
        ptl = token_num.round().long()
        r["pre_token_length"] = int(ptl[0])
        if int(ptl[0]) >= 1:
            dec, _ = m.cal_decoder_with_predictor(enc, enc_lens, embeds, ptl)
            r["decoder_logp"] = dec[0, : int(ptl[0])]
            if hasattr(m, "calc_predictor_timestamp"):
                _, _, us_alphas, _ = m.calc_predictor_timestamp(enc, enc_lens, ptl)
                r["us_alphas"] = us_alphas[0, : 3 * int(enc_lens[0])]
    return r


def lite_intermediates(lite, wave):
    rec = lite.recognizer
    with torch.no_grad():
        w = torch.from_numpy(wave)[None]
        feats, lens = rec.frontend(w, torch.tensor([len(wave)]))
        out = rec.model.forward_outputs(feats, lens)
    r = {
        "feats": feats[0, : int(lens[0])],
        "encoder_out": out.encoder_out[0],
        "alphas": out.alphas[0],
        "token_num": out.token_num[0],
        "pre_token_length": int(out.pre_token_length[0]),
    }
    if out.decoder_logp is not None:
        r["decoder_logp"] = out.decoder_logp[0, : r["pre_token_length"]]
    if out.us_alphas is not None:
        r["us_alphas"] = out.us_alphas[0, : 3 * int(out.encoder_out_lens[0])]
    return r


def run_model(name, d, waves, rows, diffs):
    print(f"\n=== {name} ===")
    saved = torch.load(os.path.join(d, "model.pt"), map_location="cpu", weights_only=True)

    # FunASR: load non-strictly by design, so check that every tensor really came from model.pt.
    am = funasr_automodel(d)
    fsd = am.model.state_dict()
    same = fsd.keys() == saved.keys() and all(torch.equal(fsd[k], saved[k]) for k in saved)
    print(f"FunASR {type(am.model).__name__}: {len(fsd)} tensors, state_dict == model.pt: {same}")
    assert same, "FunASR did not load model.pt completely"

    # funasr_lite: open_model_dir + strict load.
    md = open_model_dir(d)
    cls = ASR_CLASSES[md.model_class]
    net = cls.from_config(md.config, len(md.token_list))
    load_state_dict_strict(net, md.state_dict(), md.checkpoint)
    n_lite = len(net.state_dict())
    n_params = sum(v.numel() for v in net.state_dict().values())
    print(
        f"funasr_lite open_model_dir: class {md.model_class}, layout {md.layout}, "
        f"{len(md.token_list)} tokens; strict load OK: {n_lite} tensors, {n_params:,} parameters"
    )
    del net, md

    lite = LiteAutoModel(model=d, device="cpu")

    fun_res, lite_res, t_fun, t_lite = {}, {}, {}, {}
    for cname, w in waves.items():
        t0 = time.perf_counter()
        res = am.generate(input=w)
        t_fun[cname] = time.perf_counter() - t0
        fun_res[cname] = res[0] if res else {"text": "", "timestamp": []}
        t0 = time.perf_counter()
        lite_res[cname] = lite.generate(input=w)[0]
        t_lite[cname] = time.perf_counter() - t0
    t0 = time.perf_counter()
    batched = lite.generate(input=list(waves.values()), key=list(waves))
    t_batch = time.perf_counter() - t0

    for (cname, w), b in zip(waves.items(), batched):
        f, l1 = fun_res[cname], lite_res[cname]
        fi, li = funasr_intermediates(am, w), lite_intermediates(lite, w)
        d_row = {"model": name, "clip": cname}
        for k in ("feats", "encoder_out", "alphas", "decoder_logp", "us_alphas"):
            if k in fi or k in li:
                d_row[k] = _maxdiff(fi[k], li[k]) if (k in fi and k in li) else "missing on one side"
        d_row["tokens"] = f"{fi['pre_token_length']}/{li['pre_token_length']}"
        diffs.append(d_row)
        rows.append(
            {
                "model": name,
                "clip": cname,
                "sec": len(w) / 16000,
                "funasr_text": f["text"],
                "lite_text": l1["text"],
                "text_eq": f["text"] == l1["text"],
                "batched_text_eq": f["text"] == b["text"],
                "ts_eq": f.get("timestamp") == l1.get("timestamp"),
                "batched_ts_eq": f.get("timestamp") == b.get("timestamp"),
                "has_ts": "timestamp" in f,
                "funasr_ts": f.get("timestamp"),
                "lite_ts": l1.get("timestamp"),
                "t_funasr": t_fun[cname],
                "t_lite": t_lite[cname],
            }
        )
    print(f"funasr_lite batched call ({len(waves)} clips in one generate()): {t_batch:.2f} s")
    del am, lite
    return t_batch


def print_tables(rows, diffs, t_batches):
    print(
        "\n| model | clip | FunASR text | funasr_lite text | text equal (1-by-1 / batched) "
        "| timestamps equal (1-by-1 / batched) | FunASR s | funasr_lite s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        ts = f"{r['ts_eq']} / {r['batched_ts_eq']}" if r["has_ts"] else "n/a (no timestamps)"
        print(
            f"| {r['model']} | {r['clip']} | {r['funasr_text']} | {r['lite_text']} "
            f"| {r['text_eq']} / {r['batched_text_eq']} | {ts} | {r['t_funasr']:.2f} | {r['t_lite']:.2f} |"
        )
    for m, t in t_batches.items():
        print(f"\nfunasr_lite, {m}: all clips in one batched generate(): {t:.2f} s")
    print("\nTimestamps (FunASR; funasr_lite identical unless marked):")
    for r in rows:
        if r["has_ts"]:
            mark = "" if r["ts_eq"] else f"   funasr_lite: {r['lite_ts']}"
            print(f"  {r['model']} {r['clip']}: {r['funasr_ts']}{mark}")
    keys = ["feats", "encoder_out", "alphas", "decoder_logp", "us_alphas"]
    print("\n| model | clip | tokens (FunASR/lite) | " + " | ".join(f"max abs diff {k}" for k in keys) + " |")
    print("|---|---|---|" + "---|" * len(keys))
    for d in diffs:
        vals = []
        for k in keys:
            v = d.get(k, "n/a")
            vals.append(f"{v:.3g}" if isinstance(v, float) else str(v))
        print(f"| {d['model']} | {d['clip']} | {d['tokens']} | " + " | ".join(vals) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", required=True, help="folder for the ~900 MB model folders (not in the repo)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the folders even if present")
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = ap.parse_args()
    work = os.path.abspath(args.work)
    if work == REPO or work.startswith(REPO + os.sep):
        sys.exit("--work must be outside the repository")
    os.makedirs(work, exist_ok=True)
    print(
        f"funasr {_funasr_version()}, torch {torch.__version__}, funasr_lite {funasr_lite.__version__}, "
        f"threads {torch.get_num_threads()}"
    )

    waves = clips()
    print("clips: " + ", ".join(f"{k} ({len(w) / 16000:.2f} s)" for k, w in waves.items()))
    rows, diffs, t_batches = [], [], {}
    for name in args.models:
        d = build_folder(work, name, args.rebuild)
        t_batches[name] = run_model(name, d, waves, rows, diffs)
    print_tables(rows, diffs, t_batches)
    ok = all(r["text_eq"] and r["batched_text_eq"] and r["ts_eq"] and r["batched_ts_eq"] for r in rows)
    print(f"\nALL EQUAL: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
