"""Sentence building (FunASR's timestamp_sentence rules) on hand-computed cases."""

from funasr_lite.postprocess.sentences import build_sentences


def test_clauses_close_at_every_mark() -> None:
    # FunASR strips the trailing space after every word, so raw_text ends up without spaces.
    words = ["欢", "迎", "大", "家", "你", "好", "吗"]
    ts = [[0, 100], [100, 200], [200, 300], [300, 400], [900, 1000], [1000, 1100], [1100, 1200]]
    punc = [1, 1, 1, 2, 1, 1, 4]
    got = build_sentences(punc, ts, words, return_raw_text=True)
    assert got == [
        {"text": "欢迎大家，", "start": 0, "end": 400, "timestamp": ts[:4], "raw_text": "欢迎大家"},
        {"text": "你好吗？", "start": 900, "end": 1200, "timestamp": ts[4:], "raw_text": "你好吗"},
    ]


def test_english_spacing_and_trailing_words_without_mark_are_dropped() -> None:
    # FunASR only emits a sentence at a mark: words after the last mark are not returned.
    words = ["我", "用", "python", "写", "代", "码", "好"]
    ts = [[0, 10], [10, 20], [20, 60], [60, 70], [70, 80], [80, 90], [90, 99]]
    got = build_sentences([1, 1, 1, 1, 1, 3, 1], ts, words)
    assert [s["text"] for s in got] == ["我用 python 写代码。"]
    assert got[0]["end"] == 90


def test_no_punctuation_gives_one_entry_with_the_word_list() -> None:
    got = build_sentences(None, [[0, 10], [10, 20]], ["你", "好"])
    assert got == [{"text": ["你", "好"], "start": 0, "end": 20, "timestamp": [[0, 10], [10, 20]]}]
    assert build_sentences([1], [], ["x"]) == []


def test_length_mismatch_follows_zip_longest() -> None:
    # one timestamp short: the last word keeps the previous end and a None timestamp entry
    got = build_sentences([1, 3], [[0, 10]], ["你", "好"])
    assert got == [{"text": "你好。", "start": 0, "end": 10, "timestamp": [[0, 10], None]}]
