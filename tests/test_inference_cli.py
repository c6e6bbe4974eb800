"""bin/inference (VAD -> ASR -> punctuation over a wav.scp): outputs, --nj jobs, bad files, resume after kill -9.

Models: the real FSMN-VAD checkpoint and FunASR-made tiny random-weight ASR/punctuation folders,
so the words are meaningless; what is checked is the plumbing: every key once, files complete,
job splitting equal to a single job, and resumption.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, espeak_wav

FIX = REPO / "tests" / "fixtures" / "models"
SENTENCES = ["今天天气很好我们去公园散步。", "然后我们一起吃午饭，下午回家休息。", "明天还要上班。"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("corpus")
    lines = []
    for i in range(6):
        text = "".join(SENTENCES[(i + k) % 3] for k in range(1 + i % 3))
        espeak_wav(d / f"rec{i}.wav", text, voice=f"f{1 + i % 4}", pad_s=1.0)
        lines.append(f"rec{i} {d / f'rec{i}.wav'}\n")
    (d / "empty.wav").write_bytes(b"")
    lines.insert(2, f"broken {d / 'empty.wav'}\n")
    (d / "wav.scp").write_text("".join(lines))
    return d


def _cmd(corpus: Path, out: Path, vad_dir: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "funasr_lite.bin.inference",
        "--model",
        str(FIX / "bicif_paraformer_tiny"),
        "--vad_model",
        str(vad_dir),
        "--punc_model",
        str(FIX / "ct_transformer_tiny"),
        "--wav_scp",
        str(corpus / "wav.scp"),
        "--output_dir",
        str(out),
        *extra,
    ]


def _keys(path: Path) -> list[str]:
    return [
        line.split(" ", 1)[0] for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("TOTAL ")
    ]


GOOD = [f"rec{i}" for i in range(6)]


def test_single_job_outputs(corpus: Path, vad_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        _cmd(corpus, out, vad_dir, "--output_format", "all"), capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 1, proc.stderr[-2000:]  # the broken file makes the run fail ...
    assert "broken" in (out / "errors.txt").read_text()  # ... is reported ...
    for name in ("text", "token", "score", "rtf", "time_stamp", "text_with_punc"):  # ... and the rest finish
        assert _keys(out / "1best_recog" / name) == GOOD, name
    for fmt in ("json", "srt", "vtt", "txt"):
        assert sorted(p.stem for p in (out / fmt).iterdir()) == GOOD
    doc = json.loads((out / "json" / "rec3.json").read_text())
    assert doc["key"] == "rec3" and doc["sentences"] and doc["duration_ms"] > 0
    ts = json.loads((out / "1best_recog" / "time_stamp").read_text().splitlines()[0].split(" ", 1)[1])
    assert ts == sorted(ts) and all(s <= e for s, e in ts)
    _check_text_files(out)


def _values(path: Path) -> dict[str, str]:
    return dict((line.split(" ", 1) + [""])[:2] for line in path.read_text(encoding="utf-8").split("\n") if line)


def _check_text_files(out: Path) -> None:
    """``1best_recog/text`` is the unpunctuated ASR text (FunASR's own ``1best_recog/text`` is written
    by the ASR model), ``text_with_punc`` the punctuated text; the JSON carries both (``raw_text``)."""
    from funasr_lite.writers.recog_files import cer_ready_text

    text, punc = _values(out / "1best_recog" / "text"), _values(out / "1best_recog" / "text_with_punc")
    assert list(text) == list(punc) == GOOD
    differ = 0
    for key in GOOD:
        doc = json.loads((out / "json" / f"{key}.json").read_text(encoding="utf-8"))
        assert doc["text"] == punc[key]  # the punctuated text
        assert doc["raw_text"] is not None and cer_ready_text(doc["raw_text"]) == text[key]
        assert not any(ch in text[key] for ch in "，。？、,?")
        if any(ch in punc[key] for ch in "，。？、"):  # where punctuation exists, the two files differ
            assert text[key] != punc[key]
            differ += 1
    assert differ >= 5  # the random punctuation model punctuates 5 of the 6 recordings


def test_nj_jobs_equal_one_job(corpus: Path, vad_dir: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    subprocess.run(_cmd(corpus, one, vad_dir, "--output_format", "srt"), capture_output=True, timeout=600)
    proc = subprocess.run(
        _cmd(corpus, two, vad_dir, "--output_format", "srt", "--nj", "3"), capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 1
    assert sorted((two / "log").iterdir()) == [two / "log" / f"decode.{j}.log" for j in (1, 2, 3)]
    for name in ("text", "token", "score", "time_stamp", "text_with_punc"):
        assert (one / "1best_recog" / name).read_text() == (two / "1best_recog" / name).read_text(), name
    assert sorted(p.name for p in (two / "srt").iterdir()) == sorted(p.name for p in (one / "srt").iterdir())
    assert "broken" in (two / "errors.txt").read_text()


def test_kill_9_then_rerun_gives_each_key_once(corpus: Path, vad_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    journal = out / "1best_recog" / ".journal.jsonl"
    proc = subprocess.Popen(_cmd(corpus, out, vad_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not (journal.is_file() and journal.read_text().count("\n") >= 2):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = journal.read_text().count("\n")
    assert 2 <= done_before < len(GOOD), "the kill should land mid-run"
    rerun = subprocess.run(_cmd(corpus, out, vad_dir), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 1
    assert f"resuming: {done_before} utterances already decoded" in rerun.stderr
    for name in ("text", "token", "score", "rtf", "time_stamp", "text_with_punc"):
        assert _keys(out / "1best_recog" / name) == GOOD, name
