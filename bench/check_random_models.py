"""Check that the folders of bench/make_random_models.py load in FunASR 1.4.16 and funasr_lite alike.

    tools/funasr_venv/bin/python bench/check_random_models.py --models DIR [--which asr,punc,spk] [--threads 1]

Run with the side virtualenv's python (it has funasr 1.4.16; funasr_lite is imported from this
checkout). For each folder under DIR:

- FunASR ``AutoModel(model=folder)`` must hold exactly the saved weights (FunASR loads
  non-strictly and would silently keep random init for a misnamed tensor);
- ``paraformer_large_bicif``: text and timestamps of ``generate(input=wave)`` (batch 1) on
  espeak-ng clips equal funasr_lite's ``AutoModel(...).generate`` one by one and batched;
- ``ct_punc_zh``: ``generate(input=text)`` text and ``punc_array`` equal funasr_lite's
  ``load_punc_model(...).punctuate`` on the ASR outputs and multi-window jieba-word texts;
- ``campplus``: embeddings of 1.5 s chunks (FunASR ``generate(input=[chunks])`` vs funasr_lite
  ``extract_embeddings``) agree to max |diff| < 1e-4.

Prints a report and ``ALL IDENTICAL: True/False``; the exit status is 0 only when everything
matches. Needs espeak-ng on PATH for the clips.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "tools"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
from recipe_local import add_recipe_local  # noqa: E402

add_recipe_local("synth")

logging.disable(logging.WARNING)
from espeak_corpus import Utterance, jieba_words, make_sentences, synthesise  # noqa: E402  (egs/synth/local)
from funasr import AutoModel as FunASRAutoModel  # noqa: E402

from funasr_lite import AutoModel as LiteAutoModel  # noqa: E402
from funasr_lite.diar.embed import extract_embeddings  # noqa: E402
from funasr_lite.frontend.audio import load_audio  # noqa: E402
from funasr_lite.modelio import load_checkpoint  # noqa: E402
from funasr_lite.models.campplus import load_campplus  # noqa: E402
from funasr_lite.models.ct_transformer import load_punc_model  # noqa: E402

FOLDERS = {"asr": "paraformer_large_bicif", "punc": "ct_punc_zh", "spk": "campplus"}
CLIPS = (  # (voice variant, pitch, speed, text)
    ("m8", 45, 150, "我们明天一起去公园散步吧"),
    ("Alicia", 65, 180, "欢迎使用语音识别工具这是一个完整的测试句子"),
    ("klatt5", 40, 135, "会议推迟到下周三上午十点请大家准时参加"),
)
EMB_TOL = 1e-4


def espeak_clips() -> dict[str, np.ndarray]:
    """key -> 16 kHz float32 waveform of the espeak-ng clips."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (variant, pitch, speed, text) in enumerate(CLIPS):
            path = Path(tmp) / f"clip{i}.wav"
            synthesise(Utterance(f"clip{i}", variant, variant, pitch, speed, text), path)
            out[f"clip{i}_{variant}"] = load_audio(str(path)).waveform
    return out


def funasr_model(folder: Path) -> FunASRAutoModel:
    return FunASRAutoModel(model=str(folder), device="cpu", disable_update=True, disable_pbar=True, log_level="ERROR")


def holds_weights(am: FunASRAutoModel, weights: Path) -> bool:
    """FunASR's model state == the saved file, every tensor exactly."""
    saved = load_checkpoint(weights)
    got = am.model.state_dict()
    return saved.keys() == got.keys() and all(torch.equal(saved[k], got[k]) for k in saved)


def check_asr(folder: Path, waves: dict[str, np.ndarray], problems: list[str]) -> list[str]:
    """FunASR vs funasr_lite on each clip; returns FunASR's texts (input for the punctuation check)."""
    t0 = time.perf_counter()
    am = funasr_model(folder)
    ok = holds_weights(am, folder / "model.pt")
    print(
        f"[asr] FunASR {type(am.model).__name__} loaded in {time.perf_counter() - t0:.1f} s; "
        f"holds model.pt exactly: {ok}"
    )
    if not ok:
        problems.append("asr: FunASR's model does not hold model.pt exactly")
    lite = LiteAutoModel(model=str(folder), device="cpu")
    batched = {r["key"]: r for r in lite.generate(input=list(waves.values()), key=list(waves))}
    texts = []
    for key, w in waves.items():
        t0 = time.perf_counter()
        res = am.generate(input=w)
        t_fun = time.perf_counter() - t0
        f = res[0] if res else {"text": "", "timestamp": []}
        t0 = time.perf_counter()
        mine = lite.generate(input=w)[0]
        t_lite = time.perf_counter() - t0
        same = f["text"] == mine["text"] == batched[key]["text"] and f.get("timestamp") == mine.get(
            "timestamp"
        ) == batched[key].get("timestamp")
        n = len(f["text"].split())
        print(
            f"[asr] {key} ({len(w) / 16000:.2f} s): {n} tokens ({n / (len(w) / 16000):.2f}/s), "
            f"{len(f.get('timestamp') or [])} timestamps; identical (1-by-1 and batched): {same}; "
            f"FunASR {t_fun:.2f} s, funasr_lite {t_lite:.2f} s"
        )
        print(f"      FunASR: {f['text']}\n      ts: {f.get('timestamp')}")
        if not same:
            problems.append(
                f"asr {key}: funasr {f['text']!r} {f.get('timestamp')} vs funasr_lite "
                f"{mine['text']!r} {mine.get('timestamp')} (batched {batched[key]['text']!r})"
            )
        texts.append(f["text"])
    return texts


def punc_texts(asr_texts: list[str]) -> list[str]:
    """ASR outputs plus jieba-word texts of 15..120 characters (several 20-token windows)."""
    words, weights = jieba_words()
    rng = random.Random(7)
    sents = make_sentences(12, rng, words, weights, min_chars=6, max_chars=16)
    long = ["".join(sents[i : i + k]) for i, k in ((0, 1), (1, 3), (4, 8))]
    return [t for t in asr_texts if t.strip()] + long + ["今天我们用python写一个demo然后测试一下speed"]


def check_punc(folder: Path, texts: list[str], problems: list[str]) -> None:
    am = funasr_model(folder)
    ok = holds_weights(am, folder / "model.pt")
    print(f"[punc] FunASR {type(am.model).__name__}: holds model.pt exactly: {ok}")
    if not ok:
        problems.append("punc: FunASR's model does not hold model.pt exactly")
    lite = load_punc_model(folder)
    for i, text in enumerate(texts):
        f = am.generate(input=text)[0]
        f_arr = [int(x) for x in f["punc_array"].tolist()]
        mine = lite.punctuate(text)
        same = f["text"] == mine.text and f_arr == mine.punc_array
        marks = sum(1 for x in f_arr if x != 1)
        print(f"[punc] text {i} ({len(f_arr)} tokens, {marks} marks): identical: {same}\n      {f['text']}")
        if not same:
            problems.append(f"punc text {i}: funasr {f['text']!r} vs funasr_lite {mine.text!r}")


def check_spk(folder: Path, waves: dict[str, np.ndarray], problems: list[str]) -> None:
    am = funasr_model(folder)
    am.model.eval()
    ok = holds_weights(am, folder / "campplus_cn_common.bin")
    print(f"[spk] FunASR {type(am.model).__name__}: holds campplus_cn_common.bin exactly: {ok}")
    if not ok:
        problems.append("spk: FunASR's model does not hold campplus_cn_common.bin exactly")
    chunks = [w[s : s + 24000] for w in waves.values() for s in range(0, len(w) - 24000 + 1, 12000)]
    res = am.generate(input=chunks)
    fun = torch.cat([r["spk_embedding"] for r in res], dim=0).numpy()
    model = load_campplus(folder)
    one = np.concatenate([extract_embeddings(model, [c]) for c in chunks])  # as FunASR: one at a time
    batched = extract_embeddings(model, chunks)
    norms = np.linalg.norm(fun, axis=1)
    print(
        f"[spk] {len(chunks)} chunks of 1.5 s, embeddings {fun.shape}, norms {norms.min():.1f}.."
        f"{norms.max():.1f}, max |value| {float(np.abs(fun).max()):.1f}"
    )
    for name, mine in (("one chunk at a time", one), ("batched", batched)):
        diff = float(np.abs(fun - mine).max())
        print(f"[spk] FunASR vs funasr_lite {name}: max |diff| {diff:.3g}")
        if not diff < EMB_TOL:
            problems.append(f"spk ({name}): max |diff| {diff:.3g} >= {EMB_TOL}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", required=True, type=Path, help="--out folder of make_random_models.py")
    ap.add_argument("--which", default="asr,punc,spk")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    import funasr

    print(f"funasr {funasr.__version__}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    which = args.which.split(",")
    waves = espeak_clips()
    problems: list[str] = []
    asr_texts: list[str] = []
    if "asr" in which:
        asr_texts = check_asr(args.models / FOLDERS["asr"], waves, problems)
    if "punc" in which:
        check_punc(args.models / FOLDERS["punc"], punc_texts(asr_texts), problems)
    if "spk" in which:
        check_spk(args.models / FOLDERS["spk"], waves, problems)
    print("\n".join(problems) if problems else "no differences")
    print(f"ALL IDENTICAL: {not problems}")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
