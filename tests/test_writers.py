"""Output writers: JSON schema, SRT/WebVTT cue splitting, plain text, the format dispatch.

Expected texts are written out by hand from the rules in funasr_lite/writers/subtitles.py.
"""

from __future__ import annotations

import itertools
import json
import logging

import pytest

from funasr_lite.writers.formats import parse_formats, write_outputs
from funasr_lite.writers.json_writer import read_json, render_json, write_json
from funasr_lite.writers.plain_text import render_text
from funasr_lite.writers.schema import build_document, tokenize
from funasr_lite.writers.subtitles import CueOptions, build_cues, display_width, format_time, render_srt, render_vtt


def ts(n: int, start: int, step: int, length: int) -> list[list[int]]:
    """n timestamps [start + i*step, start + i*step + length]."""
    return [[start + i * step, start + i * step + length] for i in range(n)]


# Two speakers; FunASR sentence_info shape (clauses closed at each punctuation mark).
MEETING = {
    "key": "meeting_01",
    "text": "欢迎大家来体验达摩院推出的语音识别模型。我们用GPU训练，好吗？",
    "timestamp": ts(19, 100, 200, 200) + ts(6, 3900, 200, 200) + [[5300, 5500], [5500, 5700]],
    "sentence_info": [
        {
            "text": "欢迎大家来体验达摩院推出的语音识别模型。",
            "start": 100,
            "end": 3900,
            "timestamp": ts(19, 100, 200, 200),
            "spk": 0,
        },
        {"text": "我们用GPU训练，", "start": 3900, "end": 5100, "timestamp": ts(6, 3900, 200, 200), "spk": 1},
        {"text": "好吗？", "start": 5300, "end": 5700, "timestamp": [[5300, 5500], [5500, 5700]], "spk": 1},
    ],
}


# ------------------------------------------------------------------ exact SRT / VTT


def test_srt_exact_with_speaker_labels_and_clause_joining():
    # speaker 1's two clauses join (same speaker, 200 ms pause, 10.5 wide <= 20);
    # speaker 0's sentence (19 + 。 = 20 wide) fits one cue.
    assert render_srt(MEETING) == (
        "1\n00:00:00,100 --> 00:00:03,900\n[SPEAKER_0] 欢迎大家来体验达摩院推出的语音识别模型。\n\n"
        "2\n00:00:03,900 --> 00:00:05,700\n[SPEAKER_1] 我们用GPU训练，好吗？\n\n"
    )


def test_vtt_exact_split_at_char_limit():
    # max 10: speaker 0's 20-wide sentence -> two pieces of 10 (the 。 counts), times from their
    # own characters (char 9 ends 100+9*200+200 = 2100, char 10 starts 2100); speaker 1's clauses
    # (8.5 + 3 wide) no longer fit together. The last cue (400 ms) is extended to 1 s.
    assert render_vtt(MEETING, CueOptions(max_chars=10)) == (
        "WEBVTT\n\n"
        "00:00:00.100 --> 00:00:02.100\n[SPEAKER_0] 欢迎大家来体验达摩院\n\n"
        "00:00:02.100 --> 00:00:03.900\n[SPEAKER_0] 推出的语音识别模型。\n\n"
        "00:00:03.900 --> 00:00:05.100\n[SPEAKER_1] 我们用GPU训练，\n\n"
        "00:00:05.300 --> 00:00:06.300\n[SPEAKER_1] 好吗？\n\n"
    )


def test_cjk_split_balanced_with_char_times():
    text = "天地玄黄宇宙洪荒日月盈昃辰宿列张寒来暑往秋收冬藏闰"  # 25 characters
    res = {
        "key": "k",
        "text": text + "。",
        "sentence_info": [{"text": text + "。", "start": 1000, "end": 3480, "timestamp": ts(25, 1000, 100, 80)}],
    }
    # 26 wide > 20: two pieces, cut at the smallest even limit (13): 13 chars | 12 chars + 。.
    # Piece 1: chars 0-12 -> 1000 .. 1000+1200+80; piece 2: chars 13-24 -> 2300 .. 3480.
    assert render_srt(res) == (
        "1\n00:00:01,000 --> 00:00:02,280\n天地玄黄宇宙洪荒日月盈昃辰\n\n"
        "2\n00:00:02,300 --> 00:00:03,480\n宿列张寒来暑往秋收冬藏闰。\n\n"
    )


def test_punctuation_first_then_joined_when_it_fits():
    text = "今天天气很好，我们去公园散步吧。"
    res = {"key": "p", "text": text, "timestamp": ts(14, 0, 250, 200)}
    # no sentence_info: clauses from the text; timestamps matched 14 tokens to 14 characters
    narrow = build_cues(res, CueOptions(max_chars=10))
    assert [(c.start_ms, c.end_ms, c.text) for c in narrow] == [
        (0, 1450, "今天天气很好，"),
        (1500, 3450, "我们去公园散步吧。"),
    ]
    wide = build_cues(res)
    assert [(c.start_ms, c.end_ms, c.text) for c in wide] == [(0, 3450, text)]


def test_sentence_end_is_never_joined():
    res = {"key": "e", "text": "好。走吧。", "timestamp": [[0, 200], [300, 600], [600, 900]]}
    cues = build_cues(res, CueOptions(min_duration_ms=0))
    assert [(c.start_ms, c.end_ms, c.text) for c in cues] == [(0, 200, "好。"), (300, 900, "走吧。")]


def test_latin_words_are_never_split():
    res = {"key": "l", "text": "我们使用 transformers 和 pytorch 训练模型。", "timestamp": ts(11, 0, 300, 250)}
    # width 21.5 -> greedy at 8 needs 4 pieces; balanced limit 5.5 also gives 4.
    # transformers (6 wide) exceeds 5.5 alone and keeps its own cue. 400 ms cues are extended
    # to 1 s only up to the next cue's start.
    cues = build_cues(res, CueOptions(max_chars=8))
    assert [(c.start_ms, c.end_ms, c.text) for c in cues] == [
        (0, 1150, "我们使用"),
        (1200, 1500, "transformers"),
        (1500, 2100, "和 pytorch"),
        (2100, 3250, "训练模型。"),
    ]
    long_word = {"key": "w", "text": "supercalifragilistic", "timestamp": [[0, 900]]}
    assert [c.text for c in build_cues(long_word, CueOptions(max_chars=4))] == ["supercalifragilistic"]


def test_duration_limit():
    res = {"key": "d", "text": "一二三四五六七八九十。", "timestamp": ts(10, 0, 1000, 900)}
    # 10 chars of 1 s each: 6 s limit -> chars 0-5 end at 5900; the rest 6000 .. 9900.
    assert render_srt(res) == (
        "1\n00:00:00,000 --> 00:00:05,900\n一二三四五六\n\n2\n00:00:06,000 --> 00:00:09,900\n七八九十。\n\n"
    )


def test_speaker_styles():
    plain = CueOptions(speaker_style="none")
    assert render_srt(MEETING, plain).splitlines()[2] == "欢迎大家来体验达摩院推出的语音识别模型。"
    dash = render_srt(MEETING, CueOptions(max_chars=10, speaker_style="dash")).split("\n\n")
    # "- " only where the speaker changes
    assert [block.splitlines()[2] for block in dash if block] == [
        "- 欢迎大家来体验达摩院",
        "推出的语音识别模型。",
        "- 我们用GPU训练，",
        "好吗？",
    ]
    voice = render_vtt(MEETING, CueOptions(speaker_style="voice", speaker_label="Speaker {n}"))
    assert "<v Speaker 1>欢迎大家" in voice and "<v Speaker 2>我们用GPU训练，好吗？" in voice
    # SRT has no voice tags: falls back to labels
    assert "[Speaker 2] 我们用GPU" in render_srt(
        MEETING, CueOptions(speaker_style="voice", speaker_label="Speaker {n}")
    )
    with pytest.raises(ValueError):
        CueOptions(speaker_style="bold")


def test_time_formatting_and_hours():
    assert format_time(0) == "00:00:00,000"
    assert format_time(3_723_004) == "01:02:03,004"
    assert format_time(36_001_234, ".") == "10:00:01.234"
    assert format_time(360_000_000) == "100:00:00,000"
    late = {"key": "h", "text": "你好。", "timestamp": [[36_001_234, 36_001_500], [36_001_500, 36_002_400]]}
    assert render_srt(late) == "1\n10:00:01,234 --> 10:00:02,400\n你好。\n\n"


def test_cues_in_order_never_overlap_never_empty():
    # overlapping speakers and a zero-length cue (FunASR #3059)
    res = {
        "key": "o",
        "text": "甲说话。乙插话。丙。",
        "sentence_info": [
            {"text": "甲说话。", "start": 0, "end": 1500, "timestamp": [[0, 500], [500, 1000], [1000, 1500]], "spk": 0},
            {
                "text": "乙插话。",
                "start": 1200,
                "end": 2000,
                "timestamp": [[1200, 1500], [1500, 1800], [1800, 2000]],
                "spk": 1,
            },
            {"text": "，", "start": 2000, "end": 2000, "timestamp": []},
            {"text": "丙。", "start": 2500, "end": 2500, "timestamp": [[2500, 2500]], "spk": 0},
        ],
        "duration_ms": 2800,
    }
    cues = build_cues(res)
    assert [(c.start_ms, c.end_ms, c.text) for c in cues] == [
        (0, 1200, "甲说话。"),
        (1200, 2200, "乙插话。"),
        (2500, 2800, "丙。"),
    ]
    # cue 1 is cut at cue 2's start; cue 2 (800 ms) is extended to 1 s; cue 3 (0 ms) is
    # extended only to the audio end (duration_ms 2800).
    for a, b in itertools.pairwise(cues):
        assert a.start_ms < a.end_ms <= b.start_ms


def test_empty_results():
    empty = {"key": "z", "text": "", "timestamp": []}
    assert render_srt(empty) == ""
    assert render_vtt(empty) == "WEBVTT\n\n"
    assert render_text(empty) == ""
    assert build_document(empty)["sentences"] == []


def test_vtt_escapes_markup():
    res = {
        "key": "x",
        "text": "a<b&c",
        "sentence_info": [
            {"text": "a<b&c", "start": 0, "end": 3000, "timestamp": [[0, 1000], [1000, 2000], [2000, 3000]]}
        ],
    }
    assert render_vtt(res).endswith("a&lt;b&amp;c\n\n")
    assert render_srt(res).endswith("a<b&c\n\n")


def test_untimed_characters_are_spread_by_width(caplog):
    # 3 tokens, 2 timestamps (FunASR #1203): the document keeps no character times ...
    res = {
        "key": "m",
        "text": "你好吗",
        "sentence_info": [{"text": "你好吗", "start": 0, "end": 3000, "timestamp": [[0, 1000], [1000, 3000]]}],
    }
    with caplog.at_level(logging.WARNING):
        doc = build_document(res)
    assert doc["sentences"][0]["chars"] == [] and "3 tokens but 2 timestamps" in caplog.text
    # ... and subtitles cut the sentence span by width: 1 s per character
    cues = build_cues(doc, CueOptions(max_chars=2, min_duration_ms=0))
    assert [(c.start_ms, c.end_ms, c.text) for c in cues] == [(0, 2000, "你好"), (2000, 3000, "吗")]


def test_display_width_and_tokenize():
    assert display_width("你好，ab c") == 5.0
    toks = tokenize("我用GPU训练，don't stop!")
    assert [t.token for t in toks] == ["我", "用", "GPU", "训", "练", "don't", "stop"]
    assert "我用GPU训练，don't stop!"[toks[4].stop : toks[4].end] == "，"
    assert [t.token for t in tokenize("涨了3.5%，到1,000点。")] == ["涨", "了", "3.5", "到", "1,000", "点"]


# ------------------------------------------------------------------ JSON schema


def test_json_schema_document():
    doc = build_document(MEETING, duration_ms=6000)
    assert list(doc) == ["schema_version", "key", "text", "raw_text", "duration_ms", "timestamp", "sentences"]
    assert doc["schema_version"] == 1 and doc["duration_ms"] == 6000 and doc["raw_text"] is None
    s1 = doc["sentences"][1]
    assert s1["text"] == "我们用GPU训练，" and s1["start_ms"] == 3900 and s1["end_ms"] == 5100 and s1["speaker"] == 1
    assert s1["chars"][3] == {"token": "GPU", "start_ms": 4500, "end_ms": 4700}
    assert [c["token"] for c in s1["chars"]] == ["我", "们", "用", "GPU", "训", "练"]
    no_spk = build_document({"key": "a", "text": "好。", "timestamp": [[0, 100]]})
    assert no_spk["sentences"] == [
        {
            "text": "好。",
            "start_ms": 0,
            "end_ms": 100,
            "speaker": None,
            "chars": [{"token": "好", "start_ms": 0, "end_ms": 100}],
        }
    ]


def test_json_round_trip(tmp_path):
    path = tmp_path / "meeting_01.json"
    write_json(MEETING, path)
    loaded = read_json(path)
    assert loaded == build_document(MEETING)
    assert render_srt(loaded) == render_srt(MEETING)
    assert "欢迎" in path.read_text(encoding="utf-8")  # CJK not \u-escaped
    assert json.loads(render_json(loaded)) == loaded
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**loaded, "schema_version": 99}))
    with pytest.raises(ValueError, match="schema_version"):
        read_json(bad)


# ------------------------------------------------------------------ plain text


def test_plain_text():
    assert render_text(MEETING) == "欢迎大家来体验达摩院推出的语音识别模型。我们用GPU训练，好吗？\n"
    assert render_text(MEETING, sentence_per_line=True) == (
        "[SPEAKER_0] 欢迎大家来体验达摩院推出的语音识别模型。\n[SPEAKER_1] 我们用GPU训练，好吗？\n"
    )
    assert render_text(MEETING, sentence_per_line=True, speakers=False, times=True) == (
        "[00:00:00.100 --> 00:00:03.900] 欢迎大家来体验达摩院推出的语音识别模型。\n"
        "[00:00:03.900 --> 00:00:05.700] 我们用GPU训练，好吗？\n"
    )


# ------------------------------------------------------------------ dispatch, atomic writes


def test_write_outputs_layout_and_atomic(tmp_path):
    other = {"key": "b", "text": "你好。", "timestamp": [[0, 300], [300, 600]]}
    written = write_outputs(
        [MEETING, other],
        tmp_path,
        "json,srt,vtt,txt",
        cue_options=CueOptions(max_chars=10),
        text_options={"sentence_per_line": True},
    )
    assert sorted(p.relative_to(tmp_path).as_posix() for paths in written.values() for p in paths) == [
        "json/b.json",
        "json/meeting_01.json",
        "srt/b.srt",
        "srt/meeting_01.srt",
        "txt/b.txt",
        "txt/meeting_01.txt",
        "vtt/b.vtt",
        "vtt/meeting_01.vtt",
    ]
    assert (tmp_path / "srt/meeting_01.srt").read_text(encoding="utf-8") == render_srt(
        MEETING, CueOptions(max_chars=10)
    )
    assert (tmp_path / "txt/b.txt").read_text(encoding="utf-8") == "你好。\n"
    # rewriting replaces the files; no temporary files are left anywhere
    write_outputs([{**other, "text": "您好。"}], tmp_path, ["txt"])
    assert (tmp_path / "txt/b.txt").read_text(encoding="utf-8") == "您好。\n"
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp")]


def test_rttm_only_with_speaker_turns(tmp_path):
    res = {"key": "rec1", "text": "你好。", "speaker_turns": [[0, 1500, 0], [1500, 4250, 1]]}
    written = write_outputs([res, {"key": "rec2", "text": "好。"}], tmp_path, ["rttm"])
    assert [p.name for p in written["rttm"]] == ["rec1.rttm"]  # rec2 has no speakers: no RTTM
    assert (tmp_path / "rttm" / "rec1.rttm").read_text() == (
        "SPEAKER rec1 1 0.000 1.500 <NA> <NA> spk0 <NA> <NA>\nSPEAKER rec1 1 1.500 2.750 <NA> <NA> spk1 <NA> <NA>\n"
    )


def test_formats_and_keys(tmp_path):
    assert parse_formats("all") == ["json", "srt", "vtt", "txt", "rttm"]
    assert parse_formats("vtt, json") == ["json", "vtt"]
    with pytest.raises(ValueError, match="unknown output format"):
        parse_formats("json,docx")
    with pytest.raises(ValueError, match="file name"):
        write_outputs([{"key": "../x", "text": ""}], tmp_path, ["txt"])
