"""egs/synth/asr/local/finetune_new_voices.sh end to end on a tiny scale, and synth_voice_set's checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import synth_corpus  # egs/synth/local, on sys.path through conftest
import synth_voice_set
from espeak_corpus import (
    DEV_VARIANTS,
    FINETUNE_PITCHES,
    FINETUNE_VARIANTS,
    HELD_OUT_PITCHES,
    TEST_VARIANTS,
    TRAIN_PITCHES,
    TRAIN_VARIANTS,
    espeak_variants,
)
from tiny_asr_corpus import tiny_recipe_config  # tools/, on sys.path through conftest

from funasr_lite.bin import compute_cer, compute_cmvn, make_tokens
from funasr_lite.data.kaldi_lists import read_text

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "egs/synth/asr/local/finetune_new_voices.sh"


def env() -> dict[str, str]:
    """This checkout's package, one torch thread per process (2 cores, parallel jobs)."""
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1")


def tiny_config(path: Path) -> Path:
    """conf/paraformer_synth_cpu.yaml shrunk to a model that trains in seconds."""
    return tiny_recipe_config(
        path, max_epoch=4, max_minutes=0.3, keep_nbest_models=2, avg_nbest_model=2, log_interval=5
    )


def test_finetune_variants_are_new_and_available() -> None:
    listed = set(TRAIN_VARIANTS) | set(DEV_VARIANTS) | set(TEST_VARIANTS)
    assert not set(FINETUNE_VARIANTS) & listed and len(set(FINETUNE_VARIANTS)) == len(FINETUNE_VARIANTS)
    assert not set(FINETUNE_PITCHES) & (set(TRAIN_PITCHES) | set(HELD_OUT_PITCHES))
    assert set(FINETUNE_VARIANTS) <= espeak_variants()


def test_finetune_new_voices_demo(tmp_path: Path) -> None:
    data, exp = tmp_path / "data", tmp_path / "exp"
    # a tiny base model as run.sh stages 0-3 make it (corpus, CMVN, tokens, training), without the dumps
    assert (
        synth_corpus.main(
            [
                "--out_dir",
                str(data),
                "--wav_dir",
                str(data / "wavs"),
                "--num_train",
                "40",
                "--num_dev",
                "4",
                "--num_test",
                "4",
                "--top_chars",
                "30",
                "--min_chars",
                "2",
                "--max_chars",
                "6",
                "--nj",
                "2",
            ]
        )
        == 0
    )
    assert (
        compute_cmvn.main(
            [
                "--wav_scp",
                str(data / "train/wav.scp"),
                "--frontend_conf",
                str(ROOT / "egs/synth/asr/conf/frontend.yaml"),
                "--out_dir",
                str(exp / "cmvn"),
            ]
        )
        == 0
    )
    assert make_tokens.main(["--text", str(data / "train/text"), "--out_dir", str(data / "lang")]) == 0
    base = exp / "tiny" / "model_dir"
    train = [
        sys.executable,
        "-m",
        "funasr_lite.bin.train",
        "--config",
        str(tiny_config(tmp_path / "tiny.yaml")),
        "--train_data",
        str(data / "train"),
        "--token_list",
        str(data / "lang/tokens.json"),
        "--cmvn_file",
        str(exp / "cmvn/am.mvn"),
        "--output_dir",
        str(exp / "tiny"),
        "--device",
        "cpu",
        "--num_threads",
        "2",
    ]
    proc = subprocess.run(train, capture_output=True, text=True, timeout=120, env=env(), check=False)
    assert proc.returncode == 0 and (base / "model.pt").is_file(), proc.stderr[-3000:]

    cmd = [
        "bash",
        str(SCRIPT),
        "--base",
        "tiny",
        "--data",
        str(data),
        "--exp",
        str(exp),
        "--num-ft-train",
        "16",
        "--num-ft-dev",
        "4",
        "--num-ft-test",
        "6",
        "--variants",
        "klatt6,croak",
        "--pitches",
        "45",
        "--max-steps",
        "6",
        "--batch-size",
        "2000",
        "--train-threads",
        "2",
        "--other-sets",
        "test",
        "--train-extra",
        "--train_conf.keep_nbest_models 2 --train_conf.avg_nbest_model 2",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env(), check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    # stage 0: new voices only (speakers and variants disjoint from train's), same voices in ft_train
    # and ft_test, distinct sentences none of which the base corpus has, all covered by the base tokens
    train_spk = set(read_text(data / "train/utt2spk").values())
    ft_spk = {name: set(read_text(data / name / "utt2spk").values()) for name in ("ft_train", "ft_dev", "ft_test")}
    assert ft_spk["ft_train"] == ft_spk["ft_test"] == {"ft_klatt6_p45", "ft_croak_p45"}
    assert not (ft_spk["ft_train"] | ft_spk["ft_dev"] | ft_spk["ft_test"]) & train_spk
    meta = json.loads((data / "ft_synth_meta.json").read_text())
    assert meta["variants"] == ["klatt6", "croak"] and not set(meta["variants"]) & set(TRAIN_VARIANTS)
    assert meta["sizes"] == {"ft_train": 16, "ft_dev": 4, "ft_test": 6} and meta["failed"] == []
    assert not {s.split("_")[1] for s in train_spk} & set(meta["variants"])
    texts = {
        name: set(read_text(data / name / "text").values())
        for name in ("train", "dev", "test", "ft_train", "ft_dev", "ft_test")
    }
    assert not texts["ft_test"] & (texts["ft_train"] | texts["ft_dev"] | texts["train"] | texts["dev"] | texts["test"])
    assert not texts["ft_train"] & (texts["train"] | texts["dev"] | texts["test"])
    tokens = json.loads((base / "tokens.json").read_text(encoding="utf-8"))
    assert set("".join(texts["ft_train"] | texts["ft_dev"] | texts["ft_test"])) <= set(tokens)

    # stage 3: the finetuned folder keeps the base model's tokens.json and am.mvn byte for byte
    ft = exp / "tiny_ft_new_voices"
    for name in ("tokens.json", "am.mvn"):
        assert (ft / "model_dir" / name).read_bytes() == (base / name).read_bytes(), name
    train_cmd = (ft / "train.cmd").read_text()
    assert f"--init_param {base}" in train_cmd and "paraformer_large_finetune.yaml" in train_cmd
    assert f"--dev_data {data}/ft_dev" in train_cmd and "--optim_conf.lr 0.0005" in train_cmd

    # stages 4, 5: before/after CER of ft_test (and the corpus test set) in RESULTS.md = compute_cer's JSON
    results = (ft / "RESULTS.md").read_text(encoding="utf-8")
    assert "| model | ft_test | test |" in results
    for label, tag, model in (("original", "decode_orig", base), ("finetuned", "decode", ft / "model_dir")):
        for name in ("ft_test", "test"):
            d = ft / f"{tag}_{name}"
            summary = json.loads((d / "cer.json").read_text())
            again = tmp_path / f"{tag}_{name}.json"  # scored anew from the reference and the decode
            assert (
                compute_cer.main(
                    [
                        str(data / name / "text"),
                        str(d / "1best_recog/text"),
                        str(tmp_path / "cer.txt"),
                        "--json",
                        str(again),
                    ]
                )
                == 0
            )
            fresh = json.loads(again.read_text())
            assert {k: fresh[k] for k in ("cer", "n", "s", "d", "i", "errors")} == {
                k: summary[k] for k in ("cer", "n", "s", "d", "i", "errors")
            }
            assert summary["sentences"] == len(read_text(data / name / "text"))
            line = (
                f"%CER {summary['cer']:.2f} [ {summary['errors']} / {summary['n']}, {summary['i']} ins, "
                f"{summary['d']} del, {summary['s']} sub ] {d}"
            )
            assert line in results and line in proc.stdout
            assert (
                f"| {label} | {name} | {summary['cer']:.2f} | {summary['n']} | {summary['s']} | {summary['d']} | "
                f"{summary['i']} | {summary['errors']} |"
            ) in results
        assert str(model) in results
    assert "finetune_new_voices.sh --base tiny" in results and "funasr_lite.bin.train --config" in results

    # a rerun resumes the finished finetuning at its last step: no more training, the same export;
    # a newer base model makes it stale (one-line error)
    stage3 = [*cmd, "--stage", "3", "--stop-stage", "3"]
    before = (ft / "model_dir/model.pt").read_bytes()
    proc = subprocess.run(stage3, capture_output=True, text=True, timeout=60, env=env(), check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (ft / "model_dir/model.pt").read_bytes() == before
    os.utime(base / "model.pt", (os.path.getmtime(ft / "model_dir/model.pt") + 10,) * 2)
    proc = subprocess.run(stage3, capture_output=True, text=True, timeout=60, env=env(), check=False)
    assert proc.returncode == 1 and "finetuned from an older" in proc.stderr.strip(), proc.stderr

    # a missing base model folder: a one-line error, non-zero exit, nothing made
    proc = subprocess.run(
        ["bash", str(SCRIPT), "--base", "nope", "--data", str(data), "--exp", str(exp)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env(),
        check=False,
    )
    err = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(err) == 1, proc.stderr
    assert err[0].startswith("finetune_new_voices.sh: error: base model folder") and f"{exp}/nope/model_dir" in err[0]
    assert not (exp / "nope_ft_new_voices").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--variants", "klatt6,m1"], "training voices"),
        (["--variants", "nosuchvoice"], "has no variant"),
        (["--sets", "ft_train:0"], "bad item"),
        (["--pitches", "45,45"], "distinct values"),
    ],
)
def test_synth_voice_set_refuses_bad_options(
    tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], message: str
) -> None:
    assert synth_voice_set.main(["--out_dir", str(tmp_path / "d"), "--wav_dir", str(tmp_path / "w"), *args]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("synth_voice_set: error:") and message in err[0]
    assert not (tmp_path / "w").exists() and not (tmp_path / "d").exists()
