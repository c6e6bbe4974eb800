"""The ``funasr-lite`` console command (issue 16, item 9), run as pip installs it.

The package is installed with ``pip install --target`` from a copy of the source, so the test
runs the console script that setup.py's entry point makes. Every result is compared with
``python -m funasr_lite.bin.inference`` on the equivalent wav.scp (the machinery it reuses); the
tiny random-weight model folders make the words meaningless but the plumbing checkable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import REPO, espeak_wav

from funasr_lite.bin.cli import get_parser, to_inference_argv

FIX = REPO / "tests" / "fixtures" / "models"
ASR = FIX / "paraformer_tiny"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """``funasr-lite`` from a pip install of the package (the path of the script, and its environment)."""
    root = tmp_path_factory.mktemp("install")
    src = root / "src"
    shutil.copytree(REPO / "funasr_lite", src / "funasr_lite", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "setup.py", src / "setup.py")
    site = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
        + ["--target", str(site), str(src)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    script = site / "bin" / "funasr-lite"
    assert script.is_file()
    return script, dict(os.environ, PYTHONPATH=str(site))


def _run(installed, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    script, env = installed
    return subprocess.run([str(script), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _inference(wav_scp: Path, out: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "funasr_lite.bin.inference", "--wav_scp", str(wav_scp), "--output_dir", str(out)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([*cmd, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _lines(path: Path) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in path.read_text(encoding="utf-8").splitlines())


def _noise(path: Path, seconds: float, seed: int) -> None:
    samples = (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * 16000))).astype(np.float32)
    sf.write(path, samples, 16000, subtype="PCM_16")


def test_help_lists_the_inference_options(installed) -> None:
    proc = _run(installed, "--help")
    assert proc.returncode == 0
    for option in ("-m", "--model", "--vad_model", "--punc_model", "--spk_model", "--device", "-f", "-o", "--fs"):
        assert f" {option}" in proc.stdout, option
    for option in ("--nj", "--cmd", "--output-format", "--output-dir", "--batch_size_s", "--num_workers"):
        assert option in proc.stdout, option


def test_inference_argv_from_the_command_line() -> None:
    args = get_parser().parse_args(
        ["a.wav", "-m", "M", "--vad_model", "V", "--nj", "3", "--no_split_at_speaker_change", "--fs", "8000"]
    )
    assert to_inference_argv(args, "s.scp", "o", "srt") == [
        "--wav_scp",
        "s.scp",
        "--output_dir",
        "o",
        "--output_format",
        "srt",
        "--model",
        "M",
        "--vad_model",
        "V",
        "--no_split_at_speaker_change",
        "--fs",
        "8000",
        "--nj",
        "3",
    ]


def test_one_file_prints_its_punctuated_transcript(installed, vad_dir: Path, tmp_path: Path) -> None:
    wav = tmp_path / "talk.wav"
    espeak_wav(wav, "今天天气很好我们去公园散步。然后我们一起吃午饭，下午回家休息。", pad_s=0.5)
    models = ["--model", str(FIX / "bicif_paraformer_tiny"), "--vad_model", str(vad_dir)]
    models += ["--punc_model", str(FIX / "ct_transformer_tiny")]
    proc = _run(installed, str(wav), *models)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (tmp_path / "wav.scp").write_text(f"talk {wav}\n", encoding="utf-8")
    ref = _inference(tmp_path / "wav.scp", tmp_path / "ref", *models)
    assert ref.returncode == 0, ref.stderr[-2000:]
    expected = _lines(tmp_path / "ref" / "1best_recog" / "text_with_punc")["talk"]
    assert proc.stdout == expected + "\n"  # the text alone, as FunASR's `funasr audio.wav`
    srt = _run(installed, str(wav), *models, "-f", "srt")  # one format without -o: that file, printed
    assert srt.returncode == 0 and srt.stdout.startswith("1\n00:00:")


def test_files_and_folders_with_output_formats(installed, tmp_path: Path) -> None:
    folder = tmp_path / "recordings"
    (folder / "sub").mkdir(parents=True)
    (folder / ".cache").mkdir()
    _noise(folder / "sub" / "x.wav", 1.0, 1)
    _noise(folder / "sub" / "y y.wav", 1.2, 2)  # whitespace in a name: key y_y
    _noise(folder / "x.wav", 0.8, 3)  # same name as sub/x.wav: key x-2
    _noise(folder / ".cache" / "hidden.wav", 0.5, 4)
    (folder / "notes.txt").write_text("not audio\n")
    _noise(tmp_path / "z.wav", 1.1, 5)
    out = tmp_path / "out"
    proc = _run(installed, str(folder), str(tmp_path / "z.wav"), "-m", str(ASR), "-f", "json,txt", "-o", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == ""
    keys = {"x": folder / "sub" / "x.wav", "y_y": folder / "sub" / "y y.wav", "x-2": folder / "x.wav"}
    keys["z"] = tmp_path / "z.wav"
    assert _lines(out / "wav.scp") == {k: str(v) for k, v in keys.items()}
    assert sorted(p.name for p in (out / "json").iterdir()) == sorted(f"{k}.json" for k in keys)
    assert sorted(p.name for p in (out / "txt").iterdir()) == sorted(f"{k}.txt" for k in keys)
    ref = _inference(out / "wav.scp", tmp_path / "ref", "--model", str(ASR))
    assert ref.returncode == 0
    assert _lines(out / "1best_recog" / "text") == _lines(tmp_path / "ref" / "1best_recog" / "text")
    doc = json.loads((out / "json" / "z.json").read_text())
    assert doc["key"] == "z" and doc["duration_ms"] == 1100


def test_wav_scp_with_jobs_from_another_directory(installed, tmp_path: Path) -> None:
    lines = []
    for i in range(3):
        _noise(tmp_path / f"r{i}.wav", 1.0 + 0.3 * i, 10 + i)
        lines.append(f"r{i} r{i}.wav\n")  # relative to the working directory, as Kaldi lists often are
    (tmp_path / "wav.scp").write_text("".join(lines), encoding="utf-8")
    proc = _run(installed, "wav.scp", "-m", str(ASR), "-o", "out", "--nj", "2", "--cmd", "utils/run.pl", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "out" / "log").iterdir()) == ["decode.1.log", "decode.2.log"]
    assert not (tmp_path / "out" / "wav.scp").exists()  # a list is used where it is
    printed = _run(installed, "wav.scp", "-m", str(ASR), cwd=tmp_path)  # several recordings: Kaldi lines
    ref = _inference(tmp_path / "wav.scp", tmp_path / "ref", "--model", str(ASR), cwd=tmp_path)
    assert ref.returncode == 0
    expected = (tmp_path / "ref" / "1best_recog" / "text").read_text()
    assert (tmp_path / "out" / "1best_recog" / "text").read_text() == expected
    assert printed.returncode == 0 and printed.stdout == expected


def test_bad_inputs_are_one_line_and_bad_items_are_skipped(installed, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    _noise(tmp_path / "a.wav", 1.0, 7)
    (tmp_path / "list.scp").write_text(f"a {tmp_path / 'a.wav'}\n", encoding="utf-8")
    for args, message in (
        (["nope.wav"], "nope.wav: no such file or folder"),
        ([str(empty)], f"{empty}: folder has no audio files"),
        ([str(tmp_path / "list.scp"), str(tmp_path / "a.wav")], f"{tmp_path / 'list.scp'}: a wav.scp list must be"),
        ([str(tmp_path / "a.wav"), "-f", "json,srt"], "-f json,srt: without -o give one format"),
    ):
        proc = _run(installed, *args, "-m", str(ASR), cwd=tmp_path)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, args
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(f"funasr-lite: error: {message}"), proc.stderr
    rttm = _run(installed, str(tmp_path / "a.wav"), "-m", str(ASR), "-o", str(tmp_path / "o"), "-f", "rttm")
    assert rttm.returncode == 2 and "rttm needs --spk_model" in rttm.stderr
    (tmp_path / "b.wav").write_bytes(b"")  # a bad recording among good ones: skipped and reported
    out = tmp_path / "out"
    proc = _run(installed, str(tmp_path / "a.wav"), str(tmp_path / "b.wav"), "-m", str(ASR), "-o", str(out))
    assert proc.returncode == 1
    assert list(_lines(out / "1best_recog" / "text")) == ["a"]
    assert (out / "errors.txt").read_text().startswith("b (")
    assert sorted(p.name for p in (out / "txt").iterdir()) == ["a.txt"]
