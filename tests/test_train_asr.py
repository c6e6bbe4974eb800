"""The Paraformer trainer end to end on a tiny espeak-ng corpus: export, exact resume after kill -9,
DDP (2 CPU processes, gloo) equal to gradient accumulation, finetuning, bad configs, NaN batches."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import torch
import yaml
from conftest import tiny_asr_corpus
from tiny_asr_corpus import train_args

from funasr_lite.bin import train
from funasr_lite.data.kaldi_lists import read_scp
from funasr_lite.models.paraformer.build import load_paraformer
from funasr_lite.train.asr.model import build_model

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return tiny_asr_corpus(tmp_path_factory.mktemp("asr_corpus"), num_train=40, num_dev=6, num_test=2, seed=3)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)


def test_train_exports_a_loadable_folder_and_curves(corpus: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "exp"
    # 4 epochs, all kept, up to 4 averaged: the tail rule alone decides what is averaged
    assert (
        train.main(
            train_args(
                corpus,
                out,
                "--train_conf.max_epoch",
                "4",
                "--train_conf.keep_nbest_models",
                "4",
                "--train_conf.avg_nbest_model",
                "4",
            )
        )
        == 0
    )
    model, _, tokens = load_paraformer(out / "model_dir")
    assert tokens == json.loads(corpus["tokens"].read_text())
    index = json.loads((out / "checkpoints" / "checkpoints.json").read_text())
    kept = [e["tag"] for e in index["checkpoints"]] if isinstance(index, dict) else [e["tag"] for e in index]
    assert kept == ["ep1", "ep2", "ep3", "ep4"]
    info = json.loads((out / "model_dir_info.json").read_text())
    # avg_tail_fraction 0.5 (default): the first epoch (a quarter of the steps) is never averaged
    assert sorted(info["averaged"]) == ["ep2.pt", "ep3.pt", "ep4.pt"], info
    # the exported weights are the mean of the three named checkpoints
    a, b, c = (torch.load(out / "checkpoints" / n, weights_only=True)["model"] for n in info["averaged"])
    exported = _weights(out / "model_dir" / "model.pt")
    key = "decoder.output_layer.weight"
    torch.testing.assert_close(exported[key], (a[key].double() + b[key].double() + c[key].double()).div(3).float())
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert {r["split"] for r in rows} == {"train", "dev"}
    assert all(0.0 <= r["cer"] for r in rows if r["split"] == "dev")
    resolved = yaml.safe_load((out / "config.yaml").read_text())
    assert resolved["train_conf"]["max_epoch"] == 4 and resolved["encoder_conf"]["output_size"] == 32


def _run_killed(cmd: list[str], index: Path, min_step: int) -> None:
    """Start ``cmd``; kill -9 once the checkpoint index shows a checkpoint at step >= ``min_step``."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if index.is_file() and f"step{min_step}" in index.read_text():
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return
        time.sleep(0.02)
    proc.kill()
    pytest.fail(f"process ended (rc {proc.returncode}) before a checkpoint at step {min_step} appeared")


def test_kill_9_then_rerun_continues_exactly(corpus: dict[str, Path], tmp_path: Path) -> None:
    """Dropout, SpecAug, dither and the GLM sampler all draw random numbers: resume must restore them.
    Both runs use 2 torch threads: the reference runs in this process, whose thread count other tests
    change (AutoModel's ncpu sets it, as FunASR's does), and float sums split over another thread count
    differ in the last bits."""
    extra = [
        "--num_threads",
        "2",
        "--train_conf.max_steps",
        "9",
        "--train_conf.max_epoch",
        "50",
        "--train_conf.save_checkpoint_interval",
        "3",
        "--encoder_conf.dropout_rate",
        "0.1",
        "--dataset_conf.num_workers",
        "1",
    ]
    ref = tmp_path / "ref"
    assert train.main(train_args(corpus, ref, *extra, dev=False)) == 0
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "funasr_lite.bin.train", *train_args(corpus, out, *extra, dev=False)]
    _run_killed(cmd, out / "checkpoints" / "checkpoints.json", 3)
    assert not (out / "model_dir").exists()
    assert train.main(train_args(corpus, out, *extra, dev=False)) == 0
    log = (out / "train.log").read_text()
    assert "resumed from" in log
    got, want = _weights(out / "model_dir" / "model.pt"), _weights(ref / "model_dir" / "model.pt")
    assert got.keys() == want.keys()
    for k in want:
        assert torch.equal(got[k], want[k]), k


def test_torchrun_two_processes_equal_accumulation_of_two(corpus: dict[str, Path], tmp_path: Path) -> None:
    """DDP averages the 2 ranks' gradients of batches (b0, b1): one process with accum_grad 2 does the same.

    One step is compared: after it the weights differ by float rounding (~1e-8), and a later step
    can flip a CIF fire (it depends on the last ulp of the alpha sums), so trajectories diverge.
    """
    det = [
        "--train_conf.max_steps",
        "1",
        "--train_conf.max_epoch",
        "20",
        "--model_conf.sampling_ratio",
        "0.0",
        "--specaug",
        "null",
        "--dataset_conf.dither",
        "0.0",
        "--train_conf.avg_nbest_model",
        "1",
        "--optim",
        "sgd",
        "--optim_conf.lr",
        "0.5",
    ]  # SGD: Adam would amplify float-rounding noise in ~0 gradients
    single = tmp_path / "single"
    assert train.main(train_args(corpus, single, *det, "--train_conf.accum_grad", "2", dev=False)) == 0
    ddp = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29533",
        "-m",
        "funasr_lite.bin.train",
        *train_args(corpus, ddp, *det, dev=False),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert res.returncode == 0, res.stderr[-3000:]
    a, b = _weights(single / "model_dir" / "model.pt"), _weights(ddp / "model_dir" / "model.pt")
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-5, msg=k)
    conf = yaml.safe_load((single / "config.yaml").read_text())
    torch.manual_seed(conf["train_conf"]["seed"])
    init = build_model(conf, len(json.loads(corpus["tokens"].read_text()))).state_dict()
    moved = (a["decoder.output_layer.weight"] - init["decoder.output_layer.weight"]).abs().max()
    assert moved > 1e-3  # the optimiser step really happened


def test_finetune_keeps_tokens_and_cmvn_and_freezes(corpus: dict[str, Path], tmp_path: Path) -> None:
    base = tmp_path / "base"
    assert train.main(train_args(corpus, base, "--train_conf.max_epoch", "1")) == 0
    ft = tmp_path / "ft"
    args = [
        "--config",
        str(REPO / "conf/paraformer_large_finetune.yaml"),
        "--train_data",
        str(corpus["train"]),
        "--init_param",
        str(base / "model_dir"),
        "--output_dir",
        str(ft),
        "--device",
        "cpu",
        "--freeze_param",
        "encoder",
        "--train_conf.max_epoch",
        "1",
        "--dataset_conf.batch_size",
        "1200",
        "--dataset_conf.num_workers",
        "0",
        "--train_conf.use_tensorboard",
        "false",
    ]
    assert train.main(args) == 0
    for name in ("tokens.json", "am.mvn"):
        assert (ft / "model_dir" / name).read_bytes() == (base / "model_dir" / name).read_bytes(), name
    before, after = _weights(base / "model_dir" / "model.pt"), _weights(ft / "model_dir" / "model.pt")
    enc = [k for k in before if k.startswith("encoder.")]
    assert enc and all(torch.equal(before[k], after[k]) for k in enc)
    assert not torch.equal(before["decoder.output_layer.weight"], after["decoder.output_layer.weight"])
    cfg = yaml.safe_load((ft / "model_dir" / "config.yaml").read_text())
    assert cfg["encoder_conf"]["output_size"] == 32  # the init model's architecture, not the large config's


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--train_conf.max_epocs", "3"], "max_epocs"),
        (["--train_conf.max_epoch", "abc"], "max_epoch"),
        (["--encoder_conf.num_blok", "3"], "num_blok"),
        (["--no_such_section", "1"], "no_such_section"),
        (["--train_conf.dtype", "fp8"], "dtype"),
        (["--train_conf.avg_tail_fraction", "0"], "avg_tail_fraction"),
    ],
)
def test_bad_config_is_a_one_line_error(corpus, tmp_path, capfd, extra, words) -> None:
    assert train.main(train_args(corpus, tmp_path / "x", *extra)) == 1
    err = capfd.readouterr().err
    line = [ln for ln in err.splitlines() if "ERROR" in ln]
    assert line and words in line[-1]
    assert not (tmp_path / "x" / "checkpoints").exists()


def test_nan_batch_is_skipped_and_never_saved(corpus: dict[str, Path], tmp_path: Path) -> None:
    """One utterance with NaN features: its batch is skipped and reported; saved weights stay finite."""
    from funasr_lite.frontend.audio import load_audio
    from funasr_lite.frontend.wav_frontend import WavFrontend

    fe = WavFrontend.from_config(yaml.safe_load((REPO / "conf/frontend_paraformer.yaml").read_text()))
    feats_dir = tmp_path / "feats"
    feats_dir.mkdir()
    wavs = read_scp(corpus["train"] / "wav.scp")
    bad = sorted(wavs)[5]
    with kaldiio.WriteHelper(f"ark,scp:{feats_dir}/f.ark,{feats_dir}/feats.scp") as w:
        for key in sorted(wavs):
            wave = torch.from_numpy(load_audio(wavs[key]).waveform)[None]
            f, n = fe.compute_fbank(wave)
            mat = f[0, : int(n[0])].numpy()
            if key == bad:
                mat[3, :] = np.nan
            w(key, mat)
    out = tmp_path / "nan"
    assert (
        train.main(
            train_args(
                corpus, out, "--train_feats", str(feats_dir / "feats.scp"), "--train_conf.max_epoch", "1", dev=False
            )
        )
        == 0
    )
    log = (out / "train.log").read_text()
    assert f"batch skipped: non-finite features in {bad}" in log
    w = _weights(out / "model_dir" / "model.pt")
    assert all(torch.isfinite(t).all() for t in w.values())
    state = torch.load(out / "checkpoints" / "ep1.pt", weights_only=True)
    assert state["nan_skipped"] >= 1
