"""RTTM (funasr_lite.diar.rttm, the one reader/writer): ids with whitespace, and the file
``AutoModel(...).generate`` + ``write_outputs`` make for ``my meeting.wav``, read back by our reader
and by an independent one, pyannote.database's ``load_rttm`` (pandas, ``sep=r"\\s+"``, 10 named
columns: a line with 11 fields is silently misread there, which is how the bug showed).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import REPO, espeak_wav

from funasr_lite.diar.rttm import read_rttm, rttm_lines, rttm_text, write_rttm
from funasr_lite.errors import InputError
from funasr_lite.writers.formats import write_outputs

FIX = REPO / "tests" / "fixtures" / "models"
TURNS = [(0.0, 1.5, 0), (1.5, 3.25, 1), (10.0, 12.345, 0)]


def ten_fields(text: str) -> list[list[str]]:
    """The RTTM rule pyannote.database, dscore and md-eval rely on: whitespace-split, 10 fields."""
    rows = [line.split() for line in text.splitlines()]
    assert rows and all(len(r) == 10 and r[0] == "SPEAKER" for r in rows), text
    return rows


@pytest.mark.parametrize("bad", ["my meeting", "tab\there", "ideographic\u3000space", "nbsp\xa0", ""])
def test_writer_refuses_ids_that_are_not_one_field(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="recording id .* whitespace"):
        rttm_lines(bad, TURNS)
    with pytest.raises(ValueError, match="speaker label .* whitespace"):
        rttm_text("rec1", [(0.0, 1.0, bad)])
    with pytest.raises(ValueError):
        write_rttm(tmp_path / "x.rttm", bad, TURNS)
    assert not list(tmp_path.iterdir())  # nothing written


def test_writer_and_reader(tmp_path: Path) -> None:
    text = rttm_text("rec1", TURNS, speaker_prefix="spk")
    assert [r[1] for r in ten_fields(text)] == ["rec1"] * 3
    p = tmp_path / "a.rttm"
    p.write_text(
        ";; comment\n" + text + "SPKR-INFO rec1 1 <NA> <NA> <NA> unknown spk0 <NA> <NA>\n"
        "SPEAKER rec2 1 0.5 1.0 <NA> <NA> A <NA>\n"
    )  # 9 fields: the older layout
    assert read_rttm(p) == {
        "rec1": [(0.0, 1.5, "spk0"), (1.5, 3.25, "spk1"), (10.0, 12.345, "spk0")],
        "rec2": [(0.5, 1.5, "A")],
    }
    p.write_text("SPEAKER my meeting 1 0.000 1.500 <NA> <NA> spk0 <NA> <NA>\n")
    with pytest.raises(InputError, match="line 1: a SPEAKER line has 10 fields, this one 11"):
        read_rttm(p)


def test_pyannote_reads_what_we_write(tmp_path: Path) -> None:
    util = pytest.importorskip("pyannote.database.util")
    p = tmp_path / "a.rttm"
    p.write_text(rttm_text("rec1", TURNS, speaker_prefix="spk") + rttm_text("rec2", [(0.25, 0.75, "B")]))
    got = {
        uri: sorted((s.start, s.end, label) for s, _, label in ann.itertracks(yield_label=True))
        for uri, ann in util.load_rttm(str(p)).items()
    }
    ours = {rec: sorted(turns) for rec, turns in read_rttm(p).items()}
    assert got.keys() == ours.keys() == {"rec1", "rec2"}
    for rec in got:
        assert rounded(got[rec]) == rounded(ours[rec])
    # the bug this guards against: an id with a space is read by pyannote, without an error, as
    # another recording with no turns
    p.write_text("SPEAKER my meeting 1 0.000 1.500 <NA> <NA> spk0 <NA> <NA>\n")
    assert [(uri, len(ann)) for uri, ann in util.load_rttm(str(p)).items()] == [("meeting", 0)]


# ---------------------------------------------------------------- end to end: my meeting.wav
@pytest.fixture(scope="module")
def meeting(tmp_path_factory: pytest.TempPathFactory, vad_dir: Path) -> tuple[Path, dict]:
    """``my meeting.wav`` (two espeak-ng voices) through VAD + ASR + punctuation + CAM++."""
    from funasr_lite import AutoModel

    d = tmp_path_factory.mktemp("rttm")
    a = espeak_wav(d / "a.wav", "今天天气很好我们一起去公园散步吧", voice="f1", pad_s=0.6)
    b = espeak_wav(d / "b.wav", "好的那我们下午三点在门口见面", voice="m3", pad_s=0.6)
    wav = d / "my meeting.wav"
    sf.write(wav, np.concatenate([a, b, a]), 16000, subtype="PCM_16")
    m = AutoModel(
        model=str(FIX / "bicif_paraformer_tiny"),
        vad_model=str(vad_dir),
        punc_model=str(FIX / "ct_transformer_tiny"),
        spk_model=str(FIX / "campplus_tiny"),
        device="cpu",
    )
    res = m.generate(input=str(wav), preset_spk_num=2)
    assert len(res) == 1 and res[0]["speaker_turns"]
    return d, res[0]


def test_my_meeting_wav_end_to_end(meeting: tuple[Path, dict]) -> None:
    d, res = meeting
    assert res["key"] == "my_meeting"  # whitespace of a file name -> "_", where the key is made
    out = d / "out"
    written = write_outputs([res], out, "all")
    assert {p.relative_to(out).as_posix() for paths in written.values() for p in paths} == {
        f"{fmt}/my_meeting.{fmt}" for fmt in ("json", "srt", "vtt", "txt", "rttm")
    }
    assert json.loads((out / "json" / "my_meeting.json").read_text(encoding="utf-8"))["key"] == "my_meeting"
    text = (out / "rttm" / "my_meeting.rttm").read_text()
    expected = sorted((s / 1000, e / 1000, f"spk{spk}") for s, e, spk in res["speaker_turns"])
    assert len(expected) >= 2 and {r[1] for r in ten_fields(text)} == {"my_meeting"}
    assert rounded(read_rttm(out / "rttm" / "my_meeting.rttm")["my_meeting"]) == rounded(expected)
    util = pytest.importorskip("pyannote.database.util")
    anns = util.load_rttm(str(out / "rttm" / "my_meeting.rttm"))
    assert list(anns) == ["my_meeting"]
    got = sorted((s.start, s.end, label) for s, _, label in anns["my_meeting"].itertracks(yield_label=True))
    assert rounded(got) == rounded(expected)


def rounded(turns: list) -> list:
    """Turns with times to the millisecond (onset + duration is not exact in binary floats)."""
    return [(round(s, 3), round(e, 3), spk) for s, e, spk in turns]


def test_explicit_key_with_space_fails_before_writing(meeting: tuple[Path, dict]) -> None:
    d, res = meeting
    out = d / "explicit"
    with pytest.raises(ValueError, match="RTTM recording id 'my meeting'"):
        write_outputs([{**res, "key": "my meeting"}], out, "all")
    assert not [p for p in out.rglob("*") if p.is_file()]  # no half set of outputs
    written = write_outputs([{**res, "key": "my meeting"}], out, "json,txt")  # fine without RTTM
    assert [p.name for p in written["json"]] == ["my meeting.json"]
