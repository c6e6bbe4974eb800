"""Tests for funasr_lite.data.kaldi_lists: parsing rules, one-line errors, atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funasr_lite.data.kaldi_lists import (
    Segment,
    SegmentSource,
    iter_wav_scp,
    read_scp,
    read_segments,
    read_text,
    write_scp,
)
from funasr_lite.errors import InputError

settings.register_profile(
    "funasr_lite", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
PROFILE = settings.get_profile("funasr_lite")


def _write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def test_read_scp_crlf_tabs_spaces_and_blank_lines(tmp_path: Path) -> None:
    scp = _write(
        tmp_path / "wav.scp", "\ufeffa /x/a.wav\r\n\r\n  \nb\t/dir with space/b.wav  \r\nc sox in.wav -t wav - |\n\n"
    )
    assert read_scp(scp) == {"a": "/x/a.wav", "b": "/dir with space/b.wav", "c": "sox in.wav -t wav - |"}


def test_read_scp_keeps_tabs_inside_value(tmp_path: Path) -> None:
    scp = _write(tmp_path / "wav.scp", "a\tcmd\targ |\n")
    assert read_scp(scp) == {"a": "cmd\targ |"}


def test_read_scp_duplicate_key_names_file_line_and_key(tmp_path: Path) -> None:
    scp = _write(tmp_path / "wav.scp", "a 1\nb 2\n\na 3\n")
    with pytest.raises(InputError) as info:
        read_scp(scp)
    assert str(info.value) == f"{scp}:4: duplicate key 'a' (first on line 1)"


def test_read_scp_key_without_value(tmp_path: Path) -> None:
    scp = _write(tmp_path / "wav.scp", "a 1\nb   \r\n")
    with pytest.raises(InputError, match=rf"{scp}:2: key 'b' has no value"):
        read_scp(scp)


def test_read_scp_non_utf8_names_line_and_byte(tmp_path: Path) -> None:
    scp = _write(tmp_path / "wav.scp", b"a 1\nb caf\xe9.wav\n")
    with pytest.raises(InputError) as info:
        read_scp(scp)
    assert str(info.value) == f"{scp}:2: not valid UTF-8 (byte offset 9)"  # len(b"a 1\nb caf")


def test_read_scp_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nope.scp: file not found"):
        read_scp(tmp_path / "nope.scp")
    with pytest.raises(InputError, match="is a directory"):
        read_scp(tmp_path)


def test_read_text_allows_empty_transcript(tmp_path: Path) -> None:
    text = _write(tmp_path / "text", "u1 你好 世界\r\nu2\nu3 \n")
    assert read_text(text) == {"u1": "你好 世界", "u2": "", "u3": ""}


def test_read_text_duplicate(tmp_path: Path) -> None:
    text = _write(tmp_path / "text", "u1 a\nu1 b\n")
    with pytest.raises(InputError, match=":2: duplicate key 'u1'"):
        read_text(text)


def test_read_segments_valid(tmp_path: Path) -> None:
    seg = _write(tmp_path / "segments", "s1 r1 0 1.5\r\ns2\tr1  1.5 -1\n\ns3 r2 0.25 0.5\n")
    assert read_segments(seg) == {
        "s1": Segment("r1", 0.0, 1.5),
        "s2": Segment("r1", 1.5, -1.0),
        "s3": Segment("r2", 0.25, 0.5),
    }


@pytest.mark.parametrize(
    "line, problem",
    [
        ("s1 r1 0", "expected '<seg-id> <reco-id> <start> <end>', got 3 fields"),
        ("s1 r1 0 1 0", "a channel column is not supported"),
        ("s1 r1 zero 1", "start time 'zero' is not a number"),
        ("s1 r1 0 1e", "end time '1e' is not a number"),
        ("s1 r1 0 nan", "end time 'nan' is not finite"),
        ("s1 r1 inf 2", "start time 'inf' is not finite"),
        ("s1 r1 -0.5 1", "start time -0.5 is negative"),
        ("s1 r1 2 1", "end time 1.0 is not after start time 2.0"),
        ("s1 r1 1 1", "end time 1.0 is not after start time 1.0"),
        ("s1 r1 1 -2", "end time -2.0 is not after start time 1.0"),
    ],
)
def test_read_segments_bad_line(tmp_path: Path, line: str, problem: str) -> None:
    seg = _write(tmp_path / "segments", f"s0 r0 0 1\n{line}\n")
    with pytest.raises(InputError) as info:
        read_segments(seg)
    assert str(info.value).startswith(f"{seg}:2: {problem}")


def test_read_segments_duplicate(tmp_path: Path) -> None:
    seg = _write(tmp_path / "segments", "s1 r1 0 1\ns1 r1 1 2\n")
    with pytest.raises(InputError, match=r":2: duplicate segment id 's1' \(first on line 1\)"):
        read_segments(seg)


def test_write_scp_round_trip_and_atomic_replace(tmp_path: Path) -> None:
    target = _write(tmp_path / "text", "old content\n")
    write_scp(target, {"b": "hello world", "a": "", "c": "x\ty |"})
    assert target.read_text(encoding="utf-8") == "b hello world\na\nc x\ty |\n"
    assert read_text(target) == {"b": "hello world", "a": "", "c": "x\ty |"}
    write_scp(target, [("k", "v")])
    assert target.read_text(encoding="utf-8") == "k v\n"
    assert sorted(os.listdir(tmp_path)) == ["text"]  # no temporary file left behind


@pytest.mark.parametrize("items", [{"a b": "x"}, {"": "x"}, {"a": "x\ny"}])
def test_write_scp_refuses_bad_items_and_keeps_old_file(tmp_path: Path, items: dict) -> None:
    target = _write(tmp_path / "wav.scp", "a x\n")
    with pytest.raises(InputError, match="wav.scp"):
        write_scp(target, items)
    assert target.read_text() == "a x\n"
    assert sorted(os.listdir(tmp_path)) == ["wav.scp"]


def test_iter_wav_scp_plain_and_segments(tmp_path: Path) -> None:
    scp = _write(tmp_path / "wav.scp", "r1 /a/r1.wav\nr2 cat /a/r2.wav |\n")
    assert list(iter_wav_scp(scp)) == [("r1", "/a/r1.wav"), ("r2", "cat /a/r2.wav |")]
    seg = _write(tmp_path / "segments", "s1 r2 0 1\ns2 r1 0.5 -1\n")
    items = list(iter_wav_scp(scp, seg))
    assert items == [("s1", SegmentSource("cat /a/r2.wav |", 0.0, 1.0)), ("s2", SegmentSource("/a/r1.wav", 0.5, -1.0))]


def test_iter_wav_scp_unknown_recording(tmp_path: Path) -> None:
    scp = _write(tmp_path / "wav.scp", "r1 /a/r1.wav\n")
    seg = _write(tmp_path / "segments", "s1 r1 0 1\ns2 r9 0 1\n")
    with pytest.raises(InputError, match=r"segment 's2': recording 'r9' is not in"):
        list(iter_wav_scp(scp, seg))


@settings(PROFILE)
@given(data=st.binary(max_size=200))
def test_read_scp_arbitrary_bytes_only_input_error(tmp_path: Path, data: bytes) -> None:
    path = _write(tmp_path / "any.scp", data)
    for reader in (read_scp, read_text, read_segments):
        try:
            result = reader(path)
        except InputError as err:
            assert str(err).startswith(str(path))
        else:
            assert isinstance(result, dict)
