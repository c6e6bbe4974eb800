"""1best_recog writer: formats, CER-ready text, atomic finalize, resume after a torn journal."""

from __future__ import annotations

import json
from pathlib import Path

from funasr_lite.writers.recog_files import RecogWriter, cer_ready_text


def _rec(key: str, text: str, ts=None, score=-1.23456, compute=0.5, audio=2.0) -> dict:
    return {
        "key": key,
        "text": text,
        "tokens": text.split(),
        "score": score,
        "rtf": compute / audio,
        "compute_s": compute,
        "audio_s": audio,
        "timestamp": ts,
    }


def test_cer_ready_text() -> None:
    assert cer_ready_text("欢 迎 大 家") == "欢迎大家"
    assert cer_ready_text("hello world 你 好 ok") == "hello world你好ok"
    assert cer_ready_text("  ") == ""


def test_files_and_formats(tmp_path: Path) -> None:
    w = RecogWriter(tmp_path)
    w.add([_rec("b", "你 好", ts=[[0, 120], [120, 300]]), _rec("a", "hello 世 界", ts=[[0, 50], [50, 90], [90, 200]])])
    w.finalize(["a", "b", "missing"])
    d = tmp_path / "1best_recog"
    assert (d / "text").read_text() == "a hello世界\nb 你好\n"
    assert (d / "token").read_text() == "a hello 世 界\nb 你 好\n"
    assert (d / "score").read_text() == "a -1.2346\nb -1.2346\n"
    assert (d / "rtf").read_text().splitlines() == [
        "a 0.2500",
        "b 0.2500",
        "TOTAL rtf=0.2500 compute_s=1.000 audio_s=4.000 utts=2",
    ]
    assert (d / "time_stamp").read_text() == "a [[0, 50], [50, 90], [90, 200]]\nb [[0, 120], [120, 300]]\n"


def test_no_time_stamp_file_without_timestamps(tmp_path: Path) -> None:
    w = RecogWriter(tmp_path)
    w.add([_rec("a", "你 好")])
    w.finalize(["a"])
    assert not (tmp_path / "1best_recog" / "time_stamp").exists()
    assert (tmp_path / "1best_recog" / "text").read_text() == "a 你好\n"


def test_resume_after_torn_journal(tmp_path: Path) -> None:
    w = RecogWriter(tmp_path)
    w.add([_rec("a", "一"), _rec("b", "二")])
    journal = tmp_path / "1best_recog" / ".journal.jsonl"
    journal.write_text(journal.read_text() + json.dumps(_rec("c", "三"))[:20])  # a crash mid-line
    w2 = RecogWriter(tmp_path)
    assert sorted(w2.done) == ["a", "b"]
    w2.add([_rec("c", "三")])
    w3 = RecogWriter(tmp_path)
    assert sorted(w3.done) == ["a", "b", "c"]
    w3.finalize(["a", "b", "c"])
    assert (tmp_path / "1best_recog" / "text").read_text() == "a 一\nb 二\nc 三\n"
