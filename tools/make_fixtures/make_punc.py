"""CT-Transformer punctuation fixtures: a tiny word-level (jieba) cn-en folder + generate() cases.

1. `models/ct_transformer_cnen_tiny/`: built THROUGH FunASR like make_models.py (config.yaml,
   configuration.json with `jieba_usr_dict` in `file_path_metas`, tokens.json, jieba_usr_dict;
   AutoModel random init, seed 0 + `perturb`), then the output-layer bias is set to fixed values
   (`PUNC_BIAS`, no RNG) so that `，` is common and `。`/`？` are rare: windows really get cut,
   carried over, and > 200-token windows hit the forced comma cut.
2. `punc/cases.json`: FunASR's `AutoModel(model=<dir>).generate(input=text)[0]` (`text`,
   `punc_array`) for every input, for
     - `ct_transformer_tiny` (char level, made by make_models.py; unchanged random weights),
     - `ct_transformer_cnen_tiny` (jieba),
     - `ct_transformer_cnen_tiny` copied without its jieba_usr_dict (FunASR falls back to the
       character split),
     - `ct_transformer_cnen_tiny` copied without configuration.json (FunASR then finds
       `jieba_usr_dict` by file name).
   Every model is run in a FRESH subprocess: FunASR loads the user dict into jieba's GLOBAL
   tokenizer, and every load adds the user words' counts to jieba's total again, which changes
   later segmentations. A fresh process with one model load is what a user gets.

Run:  tools/funasr_venv/bin/python tools/make_fixtures/make_punc.py   (needs make_models.py first)
"""

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import FIXTURES, write_json  # noqa: E402

MODELS = os.path.join(FIXTURES, "models")
OUT = os.path.join(FIXTURES, "punc")
CNEN_WORDS = [
    "你好",
    "世界",
    "今天",
    "天气",
    "很好",
    "我们",
    "北京",
    "欢迎",
    "大家",
    "阿里巴巴",
    "达摩院",
    "语音",
    "识别",
    "语音识别",
    "模型",
    "中国",
    "卡拉OK",
    "鿐鿐",
    "2024",
    "10",
]
CNEN_CHARS = list("你好世界今天气很我们北京欢迎大家阿里巴达摩院语音识别模型中国是的了不在有这个上来到时地为子年月日")
CNEN_EN = ["hello", "world", "the", "iphone", "ok", "and", "i", "don't"]
CNEN_TOKENS = ["<blank>", "<s>", "</s>"] + CNEN_WORDS + CNEN_CHARS + CNEN_EN + ["<unk>"]
# word [freq] [tag]; some lines without a frequency (jieba then suggests one from its total)
JIEBA_USR_DICT = "达摩院\n阿里巴巴 20\n语音识别 50 n\n卡拉OK\n鿐鿐 5\n"
# Output-layer bias (<unk>, _, ，, 。, ？, 、), picked by hand: all six labels occur, `。`/`？` are rare.
PUNC_BIAS = [0.5, 1.0, 0.5, -0.6, 0.0, 0.3]
SEED = 16


def bias_adjust(sd):
    sd = dict(sd)
    sd["decoder.bias"] = torch.tensor(PUNC_BIAS, dtype=sd["decoder.bias"].dtype)
    return sd


def build_cnen():
    import make_models  # imports funasr

    metas = {
        "init_param": "model.pt",
        "config": "config.yaml",
        "tokenizer_conf": {"token_list": "tokens.json"},
        "jieba_usr_dict": "jieba_usr_dict",
    }
    make_models.make_folder(
        "ct_transformer_cnen_tiny",
        {"tokens.json": CNEN_TOKENS, "jieba_usr_dict": JIEBA_USR_DICT},
        make_models.ct_transformer_config(num_blocks=3),
        metas,
        "punctuation",
        "model.pt",
        seed=SEED,
        adjust=bias_adjust,
    )
    print("\n".join(make_models.NOTES))


def rand_text(pool, n, seed, sep=""):
    rng = random.Random(seed)
    return sep.join(rng.choice(pool) for _ in range(n))


def zh_inputs():
    chars = "你好世界今天气很的一是了我不人在他有这个上们来到时大地为子中"
    return {
        "short": "你好世界",
        "single_char": "好",
        "asr_spaced": "欢 迎 大 家 今 天 天 气 很 好",
        "mixed_en": "hello你好world世界hello",
        "en_words_spaced": "我们 hello world 来到 中 国",
        "en_upper": "Hello WORLD iPhone 你好 USA",
        "digits": "今天是2024年10月1日3d打印",
        "unknown_chars": "猫狗鱼你好鸟",
        "ends_english": "我们来到了hello world",
        "only_english": "hello world hello world the end",
        "leading_trailing_space": "  你好  世界  ",
        "literal_unk": "你好<unk>世界",
        "fullwidth_punct_in_input": "你好，世界。今天？",
        "window_25": rand_text(chars, 25, 1),
        "window_40": rand_text(chars, 40, 2),
        "window_61_spaced": rand_text(chars, 61, 3, sep=" "),
        "long_120": rand_text(chars, 120, 4),
        "long_260": rand_text(chars, 260, 5),
        "long_mixed_90": rand_text(list(chars) + ["hello", "world", "abc"], 90, 6, sep=" "),
        "whitespace_only": "   ",
        "empty": "",
    }


def cnen_inputs(no_end_pool):
    words = ["你好", "世界", "今天", "天气", "很好", "我们", "北京", "欢迎", "大家", "达摩院", "的", "是", "了"]
    return {
        "short": "你好世界",
        "single_char": "好",
        "asr_spaced": "欢 迎 大 家 今 天 天 气 很 好",
        "user_dict_words": "达摩院的语音识别模型很好阿里巴巴",
        "karaoke_ascii_inside": "卡拉OK很好",
        "typo_range_9fd0": "鿐鿐你好",
        "mixed_en": "hello你好world世界hello",
        "en_words_spaced": "我们 hello world 来到 中国",
        "en_upper": "Hello WORLD iPhone 你好 USA",
        "apostrophe": "i don't know 你好",
        "digits": "今天是2024年10月1日",
        "alnum_in_chinese": "hello123世界 abc4 你好",
        "unknown_words": "猫狗鱼你好鸟",
        "ends_english": "我们来到了hello world",
        "only_english": "hello world hello world the end and i ok",
        "leading_trailing_space": "  你好  世界  ",
        "window_30": rand_text(words, 30, 11),
        "window_70_spaced": rand_text(words, 70, 12, sep=" "),
        "long_mixed_80": rand_text(words + ["hello", "world", "iphone"], 80, 13, sep=" "),
        "forced_comma_cut_230": rand_text(no_end_pool, 230, 14, sep=" "),
        "forced_comma_cut_420": rand_text(no_end_pool, 420, 15, sep=" "),
        "whitespace_only": "   ",
        "empty": "",
    }


RUNNER = r"""
import json, logging, sys
logging.disable(logging.WARNING)
from funasr import AutoModel
import jieba
model_dir, inputs_path, out_path = sys.argv[1:4]
am = AutoModel(model=model_dir, disable_update=True, device="cpu", disable_pbar=True, log_level="ERROR")
m = am.model
assert not m.training
inputs = json.load(open(inputs_path, encoding="utf-8"))
res = {"uses_jieba": m.jieba_usr_dict is not None, "jieba_version": jieba.__version__, "cases": {}}
for name, text in inputs.items():
    r = am.generate(input=text, key=name)[0]
    pa = r["punc_array"]
    res["cases"][name] = {"input": text, "text": r["text"],
                          "punc_array": None if pa is None else [int(x) for x in pa.tolist()],
                          "result_keys": sorted(r)}
json.dump(res, open(out_path, "w", encoding="utf-8"), ensure_ascii=False)
"""

PROBE = r"""
import json, logging, sys, torch
logging.disable(logging.WARNING)
from funasr import AutoModel
model_dir, out_path = sys.argv[1:3]
am = AutoModel(model=model_dir, disable_update=True, device="cpu", disable_pbar=True, log_level="ERROR")
m = am.model
tokens = json.load(open(model_dir + "/tokens.json", encoding="utf-8"))
stats = {}
g = torch.Generator().manual_seed(0)
for tid, tok in enumerate(tokens):
    if tid < 3 or tok == "<unk>":
        continue
    # label of this token in 30 random 20-token contexts of the same vocabulary
    labs = []
    for _ in range(30):
        ctx = torch.randint(3, len(tokens) - 1, (1, 20), generator=g)
        pos = int(torch.randint(0, 20, (1,), generator=g))
        ctx[0, pos] = tid
        with torch.no_grad():
            y, _ = m.punc_forward(ctx, torch.tensor([20]))
        labs.append(int(y[0, pos].argmax()))
    stats[tok] = labs
json.dump(stats, open(out_path, "w", encoding="utf-8"), ensure_ascii=False)
"""


def short_only(inputs):
    """The inputs of one window (the variant only checks how the jieba dict is found)."""
    return {k: v for k, v in inputs.items() if not k.startswith(("window", "long", "forced"))}


def run_funasr(script, *args):
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(script)
    try:
        subprocess.run([sys.executable, f.name, *args], check=True)
    finally:
        os.unlink(f.name)


def generate(model_dir, inputs):
    with tempfile.TemporaryDirectory() as tmp:
        ip, op = os.path.join(tmp, "inputs.json"), os.path.join(tmp, "out.json")
        with open(ip, "w", encoding="utf-8") as f:
            json.dump(inputs, f, ensure_ascii=False)
        run_funasr(RUNNER, model_dir, ip, op)
        with open(op, encoding="utf-8") as f:
            return json.load(f)


def no_end_pool(model_dir):
    """Tokens whose label is never 。/？ in random contexts: long texts of them have no sentence end."""
    with tempfile.TemporaryDirectory() as tmp:
        op = os.path.join(tmp, "probe.json")
        run_funasr(PROBE, model_dir, op)
        with open(op, encoding="utf-8") as f:
            stats = json.load(f)
    pool = [
        t
        for t, labs in stats.items()
        if not any(x in (3, 4) for x in labs) and any(x == 2 for x in labs) and "\u4e00" <= t[0] <= "\u9fa5"
    ]
    counts = {t: [labs.count(k) for k in range(6)] for t, labs in stats.items()}
    return sorted(pool), counts


def variant(src, drop):
    d = tempfile.mkdtemp(prefix="ct_cnen_variant_")
    for name in os.listdir(src):
        if name != drop:
            shutil.copyfile(os.path.join(src, name), os.path.join(d, name))
    return d


def label_histogram(cases):
    hist = [0] * 6
    for c in cases.values():
        for x in c["punc_array"] or []:
            hist[x] += 1
    return hist


def main():
    build_cnen()
    cnen_dir = os.path.join(MODELS, "ct_transformer_cnen_tiny")
    zh_dir = os.path.join(MODELS, "ct_transformer_tiny")
    pool, probe_counts = no_end_pool(cnen_dir)
    assert len(pool) >= 3, pool
    out = {"funasr": None, "jieba": None, "runs": {}, "no_end_pool": pool, "probe_label_counts": probe_counts}
    runs = {
        "ct_transformer_tiny": (zh_dir, zh_inputs(), None),
        "ct_transformer_cnen_tiny": (cnen_dir, cnen_inputs(pool), None),
        "ct_transformer_cnen_tiny__no_jieba_usr_dict": (cnen_dir, cnen_inputs(pool), "jieba_usr_dict"),
        "ct_transformer_cnen_tiny__no_configuration_json": (
            cnen_dir,
            short_only(cnen_inputs(pool)),
            "configuration.json",
        ),
    }
    for run, (src, inputs, drop) in runs.items():
        d = src if drop is None else variant(src, drop)
        try:
            res = generate(d, inputs)
        finally:
            if drop is not None:
                shutil.rmtree(d)
        out["jieba"] = res["jieba_version"]
        out["runs"][run] = {
            "model": os.path.basename(src),
            "drop_file": drop,
            "uses_jieba": res["uses_jieba"],
            "label_histogram": label_histogram(res["cases"]),
            "cases": res["cases"],
        }
        print(run, "jieba" if res["uses_jieba"] else "char", out["runs"][run]["label_histogram"])
    import funasr

    out["funasr"] = funasr.__version__
    os.makedirs(OUT, exist_ok=True)
    write_json(os.path.join(OUT, "cases.json"), out)


if __name__ == "__main__":
    main()
