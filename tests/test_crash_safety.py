"""Crash safety: tools/crash_test.py (SIGKILL of the whole process group at random moments, then a
rerun) for decode and fbank, and deterministic regressions for the bugs it found.

Training's plain kill -9 resume is tests/test_train_asr.py::test_kill_9_then_rerun_continues_exactly;
here are the windows a kill at a checkpoint boundary does not reach: after the last checkpoint
(while exporting), before the first one, and between an epoch's last step and its dev evaluation.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import tiny_asr_corpus
from tiny_asr_corpus import train_args

from funasr_lite.bin import train
from funasr_lite.bin.inference import merge_jobs
from funasr_lite.writers.recog_files import RecogWriter

REPO = Path(__file__).resolve().parents[1]


def test_crash_test_decode_and_fbank(tmp_path: Path) -> None:
    """Two SIGKILLs in a row, then a rerun: each key once, no torn line, outputs equal an uninterrupted run."""
    start = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "crash_test.py"),
            "--kills",
            "2",
            "--seed",
            "1",
            "--what",
            "decode,fbank",
            "--files",
            "12",
            "--nj",
            "2",
            "--work_dir",
            str(tmp_path / "work"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = proc.stdout
    assert "crash_test: PASS" in table
    for target in ("decode", "fbank"):
        row = next(line for line in table.splitlines() if line.startswith(target + " "))
        assert row.rstrip().endswith("PASS"), row
        assert f"{target} run 2:" in table  # both kills reported
    print(table, f"\n({time.monotonic() - start:.1f} s)")


# ------------------------------------------------------------------------------------- decode


def test_merge_keeps_keys_with_unicode_line_separators(tmp_path: Path) -> None:
    """Job files are split on "\\n" only: U+2028, U+0085 or a CR inside a key must not cut a line
    (str.splitlines and universal newlines did, and the merged files lost those keys)."""
    keys = ["a", "b\u2028c", "d\x85e", "f\rg", "h\x0bi", "j"]
    jobs = [tmp_path / "split2" / "1", tmp_path / "split2" / "2"]
    for job, part in zip(jobs, (keys[:3], keys[3:])):
        writer = RecogWriter(job)
        writer.add(
            [
                {
                    "key": k,
                    "text": f"t{i}",
                    "tokens": [f"t{i}"],
                    "score": -1.0,
                    "compute_s": 0.1,
                    "audio_s": 1.0,
                    "rtf": 0.1,
                    "timestamp": [[0, 10]],
                }
                for i, k in enumerate(part)
            ]
        )
        writer.finalize(part)
    merge_jobs(tmp_path, jobs, keys)
    for name in ("text", "token", "score", "rtf", "time_stamp"):
        lines = (tmp_path / "1best_recog" / name).read_bytes().decode("utf-8").split("\n")
        assert lines[-1] == ""
        got = [ln.split(" ", 1)[0] for ln in lines[:-1] if not ln.startswith("TOTAL ")]
        assert got == keys, name


# -------------------------------------------------------------------------------------- train


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return tiny_asr_corpus(
        tmp_path_factory.mktemp("crash_corpus"),
        num_train=24,
        num_dev=4,
        num_test=1,
        seed=5,
        train_conf={"save_checkpoint_interval": 1},
    )


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "model_dir" / "model.pt", map_location="cpu", weights_only=True)


def _rows(out: Path) -> list[tuple]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [tuple(sorted((k, v) for k, v in r.items() if k != "elapsed_s")) for r in rows]


def _same(a: Path, b: Path) -> None:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert _rows(a) == _rows(b)
    assert (
        json.loads((a / "model_dir_info.json").read_text())["averaged"]
        == json.loads((b / "model_dir_info.json").read_text())["averaged"]
    )


STEPS = ["--train_conf.max_steps", "4", "--train_conf.max_epoch", "50"]


@pytest.fixture(scope="module")
def finished(corpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted 4-step run (a checkpoint after every step, dev evaluation at the end)."""
    ref = tmp_path_factory.mktemp("ref") / "exp"
    assert train.main(train_args(corpus, ref, *STEPS)) == 0
    return ref


def test_rerun_after_the_last_checkpoint_exports_without_another_step(corpus, finished: Path, tmp_path: Path) -> None:
    """Killed while exporting (after the last checkpoint), or simply rerun: no extra step, same export."""
    out = tmp_path / "out"
    shutil.copytree(finished, out, ignore=shutil.ignore_patterns("model_dir*"))  # the kill landed during the export
    assert train.main(train_args(corpus, out, *STEPS)) == 0
    assert "training had finished; exporting only" in (out / "train.log").read_text()
    _same(out, finished)
    assert max(e["step"] for e in json.loads((out / "checkpoints" / "checkpoints.json").read_text())) == 4
    assert train.main(train_args(corpus, out, *STEPS)) == 0  # a plain rerun of a finished run changes nothing
    _same(out, finished)


def test_rows_of_a_run_killed_before_its_first_checkpoint_are_not_kept(corpus, finished: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.jsonl").write_text('{"split": "train", "step": 1, "elapsed_s": 0.1, "loss": 9.0}\n{"split": "tr')
    assert train.main(train_args(corpus, out, *STEPS)) == 0
    _same(out, finished)


def test_dev_row_of_an_epoch_end_is_logged_once_after_resume(corpus, tmp_path: Path) -> None:
    """Killed after an epoch's last in-loop checkpoint and its dev row, before the epoch checkpoint."""
    out = tmp_path / "out"
    assert train.main(train_args(corpus, out, "--train_conf.max_epoch", "1")) == 0
    rows = _rows(out)
    ckpt = out / "checkpoints"
    state = torch.load(ckpt / "ep1.pt", map_location="cpu", weights_only=True)
    steps = state["step"]
    assert dict(rows[-1])["split"] == "dev" and dict(rows[-1])["step"] == steps
    # the state of the in-loop checkpoint at the epoch's last step: all batches consumed, no dev evaluation yet
    state["sampler"] = dict(state["sampler"], epoch=1, position=steps)
    state["dev_logged_step"] = -1
    torch.save(state, ckpt / f"ep1-step{steps}.pt")
    (ckpt / "checkpoints.json").write_text(
        json.dumps(
            [
                {
                    "tag": f"ep1-step{steps}",
                    "file": f"ep1-step{steps}.pt",
                    "metric": "acc",
                    "value": None,
                    "time": 0,
                    "step": steps,
                }
            ]
        )
    )
    (ckpt / "ep1.pt").unlink()
    shutil.rmtree(out / "model_dir")
    assert train.main(train_args(corpus, out, "--train_conf.max_epoch", "1")) == 0
    assert _rows(out) == rows  # without the fix the dev row at the last step was there twice
