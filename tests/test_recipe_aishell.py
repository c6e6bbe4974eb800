"""egs/aishell recipes, stage by stage, on a tiny AISHELL-1-shaped corpus spoken by espeak-ng.

The corpus has the real layout (``data_aishell/wav/{train,dev,test}/S0002/BAC009S0002W0121.wav``,
``transcript/aishell_transcript_v0.8.txt`` with word-segmented, space-separated lines). The
from-scratch recipe trains a tiny model (``conf/paraformer_synth_cpu.yaml`` shrunk) for one
epoch; the finetune recipe starts from the random-weight FunASR fixture ``paraformer_tiny``,
whose token list covers every character used here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import REPO, espeak_wav
from tiny_asr_corpus import tiny_recipe_config  # tools/, on sys.path through conftest

from funasr_lite.data.kaldi_lists import read_scp, read_text
from funasr_lite.frontend.cmvn import load_cmvn
from funasr_lite.modelio import open_model_dir

SCRATCH = REPO / "egs" / "aishell" / "paraformer" / "run.sh"
FINETUNE = REPO / "egs" / "aishell" / "paraformer-large-finetune" / "run.sh"
INIT_MODEL = REPO / "tests" / "fixtures" / "models" / "paraformer_tiny"
# two-character words made only of characters in paraformer_tiny's token list
WORDS = [
    "今天",
    "天气",
    "很好",
    "世界",
    "我们",
    "他们",
    "中国",
    "大地",
    "你说",
    "不是",
    "这个",
    "那个",
    "出来",
    "到了",
    "以后",
    "国人",
    "上来",
    "要是",
    "也是",
    "就是",
    "她说",
    "有人",
    "在这",
    "得了",
]
VOICES = ["f1", "m3", "f3", "m1", "f2", "m2", "f4"]
# (set, speaker, utterances); AISHELL's dev speakers start at S0724, test at S0764
SPEAKERS = [
    ("train", "S0002", 5),
    ("train", "S0003", 5),
    ("train", "S0004", 5),
    ("train", "S0005", 5),
    ("dev", "S0724", 5),
    ("test", "S0764", 3),
    ("test", "S0765", 2),
]
NO_TRANSCRIPT = "BAC009S0005W0125"  # a wav without a transcript line: skipped by data prep, as in AISHELL
TRAIN_EXTRA = "--train_conf.max_epoch 1 --train_conf.keep_nbest_models 1 --train_conf.avg_nbest_model 1"
CER_LINE = re.compile(r"%CER (\S+) \[ (\d+) / (\d+), (\d+) ins, (\d+) del, (\d+) sub \]( \[PARTIAL\])? (\S+)")


def recipe_env() -> dict[str, str]:
    """The recipes run this checkout's package, whatever is installed."""
    return dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def run(script: Path, *args: object, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=recipe_env(),
        check=False,
    )


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def make_aishell(root: Path) -> dict[str, dict[str, str]]:
    """Write ``root/data_aishell``; return ``{set: {utt: character text}}`` of what data prep should keep."""
    corpus = root / "data_aishell"
    expected: dict[str, dict[str, str]] = {"train": {}, "dev": {}, "test": {}}
    lines, n = [], 0
    for k, (name, spk, count) in enumerate(SPEAKERS):
        for w in range(count):
            utt = f"BAC009{spk}W{w + 121:04d}"
            if name == "train":  # train covers every word, so dev/test have no unseen characters
                words = [WORDS[(3 * n + i) % len(WORDS)] for i in range(3)]
            else:
                words = [WORDS[(7 * n + 5 * i + 1) % len(WORDS)] for i in range(2)]
            n += 1
            wav = corpus / "wav" / name / spk / f"{utt}.wav"
            wav.parent.mkdir(parents=True, exist_ok=True)
            espeak_wav(wav, "".join(words), voice=VOICES[k % len(VOICES)])
            if utt == NO_TRANSCRIPT:
                continue
            lines.append(f"{utt} {' '.join(words)}\n")
            expected[name][utt] = "".join(words)
    lines.append("BAC009S0999W0001 没有 音频\n")  # a transcript line without a wav: ignored
    (corpus / "transcript").mkdir(parents=True)
    (corpus / "transcript" / "aishell_transcript_v0.8.txt").write_text("".join(sorted(lines)), encoding="utf-8")
    return expected


@pytest.fixture(scope="module")
def aishell(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, str]]]:
    root = tmp_path_factory.mktemp("aishell_corpus")
    return root, make_aishell(root)


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """conf/paraformer_synth_cpu.yaml with a tiny encoder/decoder (seconds per epoch here)."""
    return tiny_recipe_config(tmp_path_factory.mktemp("conf") / "paraformer_tiny.yaml")


def check_results(results: Path, decode_dirs: dict[str, Path]) -> None:
    """Every decode dir has a %CER line in RESULTS.md whose numbers are compute_cer's JSON."""
    text = results.read_text(encoding="utf-8")
    lines = {m.group(8): m for m in CER_LINE.finditer(text)}
    for label, d in decode_dirs.items():
        summary = json.loads((d / "cer.json").read_text(encoding="utf-8"))
        m = lines[str(d)]
        assert m.group(1) == f"{summary['cer']:.2f}", label
        assert [int(m.group(i)) for i in range(2, 7)] == [summary[k] for k in ("errors", "n", "i", "d", "s")], label
        assert summary["n"] > 0 and summary["missing_hyp"] == 0
    assert re.search(r"sha256 `[0-9a-f]{64}`", text)
    assert "hardware" in text and "CPU:" in text and "GPU:" in text
    assert "funasr_lite.bin.inference" in text and "funasr_lite.bin.compute_cer" in text


def test_scratch_recipe_stage_by_stage(aishell: tuple[Path, dict], tiny_config: Path, tmp_path: Path) -> None:
    root, expected = aishell
    data, dump, exp = tmp_path / "data", tmp_path / "dump", tmp_path / "exp"
    common = [
        "--data",
        data,
        "--dump",
        dump,
        "--exp",
        exp,
        "--nj",
        2,
        "--device",
        "cpu",
        "--train-config",
        tiny_config,
        "--exp-name",
        "tiny",
    ]
    dir_ = exp / "tiny"

    out = ok(run(SCRATCH, "--stage", 0, "--stop-stage", 0, "--data-root", root, *common))
    assert "stage 0" in out and out.count("check_data: ") == 3
    for name in ("train", "dev", "test"):
        assert read_text(data / name / "text") == expected[name]  # spaces removed, transcript-less wav skipped
        assert list(read_scp(data / name / "wav.scp")) == sorted(expected[name])
        assert set(read_scp(data / name / "utt2spk").values()) == {u[6:11] for u in expected[name]}

    ok(run(SCRATCH, "--stage", 1, "--stop-stage", 1, *common))
    assert not (dump / "test").exists()  # decoding reads the audio: only training and validation sets are dumped
    for name in ("train", "dev"):
        assert list(read_scp(dump / name / "feats.scp")) == sorted(expected[name])
    assert load_cmvn(exp / "cmvn" / "am.mvn").shift.shape == (560,)

    out = ok(run(SCRATCH, "--stage", 2, "--stop-stage", 2, *common))
    tokens = json.loads((data / "lang" / "tokens.json").read_text(encoding="utf-8"))
    assert set(tokens[3:-1]) == set("".join(expected["train"].values()))
    assert "note:" not in out  # dev/test use only characters train has

    ok(run(SCRATCH, "--stage", 3, "--stop-stage", 3, "--train-extra", TRAIN_EXTRA, *common))
    md = open_model_dir(dir_ / "model_dir")
    assert md.model_class == "Paraformer" and md.token_list == tokens
    assert md.config["encoder_conf"]["output_size"] == 32
    assert (dir_ / "model_dir" / "am.mvn").read_bytes() == (exp / "cmvn" / "am.mvn").read_bytes()
    assert yaml.safe_load((dir_ / "config.yaml").read_text(encoding="utf-8"))["train_conf"]["max_epoch"] == 1
    assert "--train_conf.max_epoch 1" in (dir_ / "train.cmd").read_text(encoding="utf-8")

    ok(run(SCRATCH, "--stage", 4, "--stop-stage", 4, *common))
    for name in ("dev", "test"):
        assert set(read_text(dir_ / f"decode_{name}" / "1best_recog" / "text")) == set(expected[name])

    out = ok(run(SCRATCH, "--stage", 5, "--stop-stage", 5, *common))
    check_results(dir_ / "RESULTS.md", {s: dir_ / f"decode_{s}" for s in ("dev", "test")})
    assert len(CER_LINE.findall(out)) == 2  # printed for the log too
    assert "--stage 5 --stop-stage 5" in (dir_ / "RESULTS.md").read_text(encoding="utf-8")


def test_finetune_recipe_keeps_model_tokens_and_cmvn(aishell: tuple[Path, dict], tmp_path: Path) -> None:
    root, expected = aishell
    init = tmp_path / "paraformer_tiny"  # a copy: nothing may write into the init model
    shutil.copytree(INIT_MODEL, init)
    before = {f.name: f.read_bytes() for f in init.iterdir()}
    data, dump, exp = tmp_path / "data", tmp_path / "dump", tmp_path / "exp"
    common = [
        "--init-model",
        init,
        "--data",
        data,
        "--dump",
        dump,
        "--exp",
        exp,
        "--nj",
        1,
        "--device",
        "cpu",
        "--test-sets",
        "dev test",
    ]
    dir_ = exp / "paraformer_large_finetune"
    extra = TRAIN_EXTRA + " --dataset_conf.batch_size 2000 --dataset_conf.num_workers 0 --train_conf.dtype fp32"

    ok(run(FINETUNE, "--stage", 0, "--stop-stage", 0, "--data-root", root, *common))
    assert read_text(data / "test" / "text") == expected["test"]
    ok(run(FINETUNE, "--stage", 1, "--stop-stage", 1, *common))
    assert list(read_scp(dump / "train" / "feats.scp")) == sorted(expected["train"])
    assert not (exp / "cmvn").exists() and not (data / "lang").exists()  # no new CMVN, no new token list
    out = ok(run(FINETUNE, "--stage", 2, "--stop-stage", 2, *common))
    assert f"{init}/tokens.json" in out and "note:" not in out
    ok(run(FINETUNE, "--stage", 3, "--stop-stage", 3, "--train-extra", extra, *common))
    for name in ("tokens.json", "am.mvn"):
        assert (dir_ / "model_dir" / name).read_bytes() == before[name], name
    assert open_model_dir(dir_ / "model_dir").config["encoder_conf"] == open_model_dir(init).config["encoder_conf"]
    ok(run(FINETUNE, "--stage", 4, "--stop-stage", 4, *common))
    for d in ("decode_orig", "decode"):
        for name in ("dev", "test"):
            assert set(read_text(dir_ / f"{d}_{name}" / "1best_recog" / "text")) == set(expected[name])
    out = ok(run(FINETUNE, "--stage", 5, "--stop-stage", 5, *common))
    results = dir_ / "RESULTS.md"
    check_results(results, {f"{d}_{s}": dir_ / f"{d}_{s}" for d in ("decode_orig", "decode") for s in ("dev", "test")})
    table = results.read_text(encoding="utf-8")
    assert "| model | dev | test |" in table and "| original |" in table and "| finetuned |" in table
    assert len(CER_LINE.findall(out)) == 4
    assert {f.name: f.read_bytes() for f in init.iterdir()} == before


def test_bad_inputs_give_one_line_errors(tmp_path: Path) -> None:
    proc = run(SCRATCH, "--stage", 0, "--stop-stage", 0, "--data-root", tmp_path / "nowhere", "--data", tmp_path / "d")
    assert proc.returncode != 0
    assert proc.stderr.strip().count("\n") == 0 and "not an AISHELL-1 folder" in proc.stderr
    proc = run(SCRATCH, "--stage", 0, "--stop-stage", 0, "--data", tmp_path / "d")
    assert proc.returncode != 0 and proc.stderr.strip().count("\n") == 0 and "--data-root is required" in proc.stderr
    proc = run(FINETUNE, "--stage", 1, "--init-model", tmp_path / "no_model")
    assert proc.returncode != 0 and proc.stderr.strip().count("\n") == 0
    assert "no such model folder" in proc.stderr and "modelscope download" in proc.stderr
    proc = run(FINETUNE, "--stage", 1)
    assert proc.returncode != 0 and "--init-model is required" in proc.stderr
    assert not (tmp_path / "d").exists()
