"""The built-in egs/synth recipe, stages 0-5, on a tiny corpus, and compute_cmvn against FunASR features."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from espeak_corpus import (  # egs/synth/local, on sys.path through conftest
    DEV_VARIANTS,
    FINETUNE_VARIANTS,
    TEST_VARIANTS,
    TRAIN_VARIANTS,
    WIDE_EXTRA_VARIANTS,
    check_new_variants,
    espeak_variants,
    jieba_words,
    make_sentences,
    plan_set,
)
from recipe_local import local_script
from tiny_asr_corpus import tiny_recipe_config  # tools/, on sys.path through conftest

from funasr_lite.bin import compute_cmvn
from funasr_lite.data.kaldi_lists import read_scp, read_text
from funasr_lite.frontend.cmvn import load_cmvn

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "tests" / "fixtures" / "frontend"


def test_compute_cmvn_matches_stats_of_funasr_fbank(tmp_path: Path) -> None:
    """am.mvn from our pipeline equals mean/std (numpy) of the fbank FunASR computed for the same audio."""
    cases = sorted(FRONTEND.glob("paraformer_*.npz"))
    assert cases, "run tools/make_fixtures (see tests/fixtures/README.md)"
    lines, fbanks = [], []
    for case in cases:
        data = np.load(case)
        wav = tmp_path / f"{case.stem}.wav"
        sf.write(wav, data["waveform"], 16000, subtype="FLOAT")
        lines.append(f"{case.stem} {wav}\n")
        fbanks.append(data["fbank"].astype(np.float64))
    (tmp_path / "wav.scp").write_text("".join(lines))
    conf = tmp_path / "frontend.yaml"
    conf.write_text("fs: 16000\nwindow: hamming\nn_mels: 80\nframe_length: 25\nframe_shift: 10\nlfr_m: 7\nlfr_n: 6\n")
    assert (
        compute_cmvn.main(
            ["--wav_scp", str(tmp_path / "wav.scp"), "--frontend_conf", str(conf), "--out_dir", str(tmp_path / "out")]
        )
        == 0
    )
    allf = np.concatenate(fbanks)
    mean, std = allf.mean(0), allf.std(0)
    cmvn = load_cmvn(tmp_path / "out" / "am.mvn")
    assert cmvn.shift.shape == (560,)
    np.testing.assert_allclose(cmvn.shift.numpy(), np.tile(-mean, 7), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(cmvn.scale.numpy(), np.tile(1 / std, 7), rtol=1e-4)
    stats = json.loads((tmp_path / "out" / "cmvn.json").read_text())
    assert stats["total_frames"] == allf.shape[0]


def test_compute_cmvn_skips_bad_items_and_exits_1(tmp_path: Path) -> None:
    data = np.load(FRONTEND / "paraformer_1s.npz")
    sf.write(tmp_path / "good.wav", data["waveform"], 16000)
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "wav.scp").write_text(f"a {tmp_path / 'empty.wav'}\nb {tmp_path / 'good.wav'}\n")
    conf = tmp_path / "f.yaml"
    conf.write_text("lfr_m: 7\nlfr_n: 6\n")
    rc = compute_cmvn.main(
        ["--wav_scp", str(tmp_path / "wav.scp"), "--frontend_conf", str(conf), "--out_dir", str(tmp_path / "o")]
    )
    assert rc == 1
    assert (tmp_path / "o" / "am.mvn").is_file()  # the good item's statistics are still written


def recipe_env() -> dict[str, str]:
    """The recipe runs this checkout's package, whatever is installed."""
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def tiny_config(path: Path) -> Path:
    """conf/paraformer_synth_cpu.yaml with a tiny encoder/decoder (seconds per epoch here)."""
    return tiny_recipe_config(path)


def test_synth_recipe_stages_0_to_5(tmp_path: Path) -> None:
    """The whole recipe on a tiny corpus (30-character set so that train covers dev) and a tiny model."""
    data, exp, dump = tmp_path / "data", tmp_path / "exp", tmp_path / "dump"
    cmd = [
        "bash",
        str(ROOT / "egs/synth/asr/run.sh"),
        "--stage",
        "0",
        "--stop-stage",
        "5",
        "--num-train",
        "40",
        "--num-dev",
        "4",
        "--num-test",
        "4",
        "--top-chars",
        "30",
        "--data",
        str(data),
        "--exp",
        str(exp),
        "--dump",
        str(dump),
        "--train-config",
        str(tiny_config(tmp_path / "tiny.yaml")),
        "--exp-name",
        "tiny",
        "--train-extra",
        "--train_conf.max_epoch 2 --train_conf.keep_nbest_models 2 --train_conf.avg_nbest_model 2",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=recipe_env(), check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    meta = json.loads((data / "synth_meta.json").read_text())
    assert meta["seed"] == 777 and (meta["top_chars"], meta["min_chars"], meta["max_chars"]) == (30, 2, 6)
    common = set("".join(jieba_words(top_chars=30)[0]))
    for name, n in (("train", 40), ("dev", 4), ("test", 4)):
        wavs, text = read_scp(data / name / "wav.scp"), read_text(data / name / "text")
        assert len(wavs) == n and sorted(wavs) == sorted(text)
        for key, sentence in text.items():
            assert re.fullmatch(r"[\u4e00-\u9fff]{2,6}", sentence) and set(sentence) <= common, sentence
            info = sf.info(wavs[key])
            assert info.samplerate == 16000 and info.channels == 1 and info.duration > 0.2
    # dev/test voices and sentences are held out from train
    train_spk = set(read_text(data / "train" / "utt2spk").values())
    held_spk = set(read_text(data / "dev" / "utt2spk").values()) | set(read_text(data / "test" / "utt2spk").values())
    assert not {s.split("_")[1] for s in train_spk} & {s.split("_")[1] for s in held_spk}
    assert not set(read_text(data / "train" / "text").values()) & set(read_text(data / "test" / "text").values())
    assert load_cmvn(exp / "cmvn" / "am.mvn").shift.shape == (560,)
    assert not (dump / "test").exists()  # stage 1: fbank ark/scp of the training and validation sets
    for name, n in (("train", 40), ("dev", 4)):
        assert len(read_scp(dump / name / "feats.scp")) == n
    tokens = json.loads((data / "lang" / "tokens.json").read_text(encoding="utf-8"))  # stage 2
    assert tokens[:3] == ["<blank>", "<s>", "</s>"] and tokens[-1] == "<unk>"
    assert set("".join(read_text(data / "train" / "text").values())) <= set(tokens)
    dir_ = exp / "tiny"  # stage 3: a model folder the decoder loads, from the averaged 2 epochs
    assert len(json.loads((dir_ / "model_dir_info.json").read_text())["averaged"]) == 2
    assert (dir_ / "model_dir" / "am.mvn").read_bytes() == (exp / "cmvn" / "am.mvn").read_bytes()
    for name in ("dev", "test"):  # stage 4, 5
        hyp = read_text(dir_ / f"decode_{name}" / "1best_recog" / "text")
        assert set(hyp) == set(read_text(data / name / "text"))
        summary = json.loads((dir_ / f"decode_{name}" / "cer.json").read_text())
        line = (
            f"%CER {summary['cer']:.2f} [ {summary['errors']} / {summary['n']}, {summary['i']} ins, "
            f"{summary['d']} del, {summary['s']} sub ] {dir_}/decode_{name}"
        )
        assert line in (dir_ / "RESULTS.md").read_text(encoding="utf-8") and line in proc.stdout
    results = (dir_ / "RESULTS.md").read_text(encoding="utf-8")
    model_sha = hashlib.sha256((dir_ / "model_dir" / "model.pt").read_bytes()).hexdigest()
    assert model_sha in results and "--top-chars 30" in results and "funasr_lite.bin.train --config" in results
    assert "average of 2 checkpoint(s)" in results


def test_synth_corpus_refuses_impossible_sizes(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            local_script("synth", "synth_corpus"),
            "--out_dir",
            str(tmp_path / "d"),
            "--wav_dir",
            str(tmp_path / "w"),
            "--num_train",
            "50",
            "--num_dev",
            "1",
            "--num_test",
            "1",
            "--top_chars",
            "1",
            "--min_chars",
            "1",
            "--max_chars",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=recipe_env(),
        check=False,
    )
    assert proc.returncode == 1 and "distinct sentences" in proc.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "w").exists()
    rng = random.Random(0)
    with pytest.raises(ValueError, match="min_chars <= max_chars"):
        make_sentences(1, rng, ["我们"], [1.0], min_chars=3, max_chars=2)
    out = make_sentences(20, rng, ["我", "们", "好"], [1.0, 1.0, 1.0], min_chars=2, max_chars=3)
    assert len(set(out)) == 20 and all(2 <= len(x) <= 3 for x in out)


def test_wide_train_voices_keep_held_out_voices_out(tmp_path: Path) -> None:
    """--train_voices wide: 71 training variants, none a dev/test/finetuning voice, all in espeak-ng;
    the corpus is spoken by all of them and dev/test keep their voices."""
    held_out = set(DEV_VARIANTS) | set(TEST_VARIANTS) | set(FINETUNE_VARIANTS)
    assert not set(WIDE_EXTRA_VARIANTS) & (held_out | set(TRAIN_VARIANTS))
    assert set(WIDE_EXTRA_VARIANTS) <= espeak_variants() and len(set(WIDE_EXTRA_VARIANTS)) == 41
    plan = plan_set("train", 213, random.Random(0), [f"句{i}" for i in range(213)], train_voices="wide")
    assert {u.variant for u in plan} == set(TRAIN_VARIANTS) | set(WIDE_EXTRA_VARIANTS) and len(
        {u.spk_id for u in plan}
    ) == 213
    with pytest.raises(ValueError, match="training voices"):
        check_new_variants(["Alex"])  # a wide training voice is not a new voice for finetuning demos
    data = tmp_path / "d"
    proc = subprocess.run(
        [
            sys.executable,
            local_script("synth", "synth_corpus"),
            "--out_dir",
            str(data),
            "--wav_dir",
            str(tmp_path / "w"),
            "--num_train",
            "6",
            "--num_dev",
            "2",
            "--num_test",
            "2",
            "--top_chars",
            "50",
            "--min_chars",
            "2",
            "--max_chars",
            "4",
            "--train_voices",
            "wide",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=recipe_env(),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads((data / "synth_meta.json").read_text())["train_voices"] == "wide"
    dev_variants = {spk.split("_")[1] for spk in read_scp(data / "dev" / "utt2spk").values()}
    assert dev_variants <= set(DEV_VARIANTS)


def test_synth_recipe_gpu_size_launches_torchrun(tmp_path: Path) -> None:
    """--size gpu --ngpu 2: stage 3 runs torchrun with the GPU config on cuda (a stand-in torchrun records the call)."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "torchrun").write_text(
        '#!/usr/bin/env bash\necho "$@" > "$CALLS"\n'
        'while [ $# -gt 0 ]; do [ "$1" = --output_dir ] && out=$2; shift; done\n'
        'mkdir -p "$out/model_dir" && touch "$out/model_dir/model.pt"\n'
    )
    (fake / "torchrun").chmod(0o755)
    env = dict(recipe_env(), PATH=f"{fake}{os.pathsep}{os.environ['PATH']}", CALLS=str(tmp_path / "calls"))
    cmd = [
        "bash",
        str(ROOT / "egs/synth/asr/run.sh"),
        "--size",
        "gpu",
        "--ngpu",
        "2",
        "--stage",
        "3",
        "--stop-stage",
        "3",
        "--exp",
        str(tmp_path / "exp"),
        "--train-extra",
        "--train_conf.max_epoch 1",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    call = (tmp_path / "calls").read_text()
    assert call.startswith(
        "--standalone --nproc_per_node 2 -m funasr_lite.bin.train --config conf/paraformer_synth_gpu.yaml"
    )
    assert "--device cuda" in call and call.rstrip().endswith("--train_conf.max_epoch 1")
    assert f"--output_dir {tmp_path}/exp/paraformer_synth_gpu" in call
    assert "torchrun --standalone" in (tmp_path / "exp" / "paraformer_synth_gpu" / "train.cmd").read_text()


def test_write_results_needs_scores(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from funasr_lite.bin import write_results

    assert write_results.main(["--exp_dir", str(tmp_path), "--sets", "test"]) == 1
    assert "decode_test/cer.json: no score" in capsys.readouterr().err
    (tmp_path / "decode_test").mkdir()
    (tmp_path / "decode_test" / "cer.json").write_text('{"cer": 1.0}')
    assert write_results.main(["--exp_dir", str(tmp_path), "--sets", "test"]) == 1
    assert "not a compute_cer --json summary" in capsys.readouterr().err
    assert not (tmp_path / "RESULTS.md").exists()
