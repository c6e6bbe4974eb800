"""Long-audio pipeline (VAD -> ASR -> punctuation -> sentences) against FunASR 1.4.16.

Fixtures: tests/fixtures/pipeline/ (tools/make_fixtures/make_pipeline.py). FunASR ran
`AutoModel(model=<tiny ASR>, vad_model=tools/fsmn_vad, punc_model=<tiny CT-Transformer>, device="cpu")`
`.generate(input=wave, sentence_timestamp=True, return_raw_text=True, **call)` on three espeak-ng
recordings; funasr_lite's AutoModel runs with the same folders and options on the same audio.
The audio is regenerated from the recipe (sha256-checked); without espeak-ng, or with an espeak-ng
that makes other audio, the tests skip.

Compared exactly: VAD segments, each segment's ASR text and timestamps, and the result fields
`text`, `raw_text`, `timestamp`, `sentence_info` (`key` differs: FunASR uses a random key).

`sentence_info` with punctuation and timestamps: FunASR 1.4.16 joins the segment texts without a
space between two CJK sides (`_join_vad_texts`), and `timestamp_sentence` splits that text on
whitespace, so a segment's first character sticks to the previous segment's last word and every
later sentence text is shifted by one word per VAD boundary (`funasr/auto/auto_model.py`). funasr_lite builds
the sentences from the words themselves. The test computes the corrected sentences independently
from FunASR's own data (its per-segment words, its per-word timestamps, and the marks in its
punctuated text), asserts funasr_lite gives exactly those, and asserts that FunASR's sentences are
exactly those with the whitespace-split join units in place of the words (the bug, documented).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from funasr_lite import AutoModel

REPO = Path(__file__).resolve().parents[1]
FIX = REPO / "tests" / "fixtures" / "pipeline"
REF = json.loads((FIX / "results.json").read_text(encoding="utf-8"))
RECIPE = json.loads((FIX / "recipe.json").read_text(encoding="utf-8"))
RUNS = REF["runs"]
CASES = [(run, clip) for run in RUNS for clip in RUNS[run]["clips"]]
IDS = [f"{run}-{clip}" for run, clip in CASES]
MARKS = {"，": "，", "。": "。", "？": "？", "、": "、", ",": "，", ".": "。", "?": "？"}


def _case_params():
    return [pytest.param(run, clip, id=i) for (run, clip), i in zip(CASES, IDS)]


def _is_nopunc_with_ts(run: str) -> bool:
    return RUNS[run]["ctor"]["punc_model"] is None and "bicif" in RUNS[run]["ctor"]["model"]


def _make_pipeline_module():
    spec = importlib.util.spec_from_file_location(
        "make_pipeline", REPO / "tools" / "make_fixtures" / "make_pipeline.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def clips() -> dict[str, np.ndarray]:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed: cannot regenerate the pipeline test audio")
    mp = _make_pipeline_module()
    out = {}
    for name, recipe in RECIPE["clips"].items():
        a = mp.synth_clip(recipe)
        if mp.sha256(a) != RECIPE["sha256"][name]:
            pytest.skip(f"regenerated clip {name} differs from the recipe's sha256 (other espeak-ng build)")
        out[name] = mp.to_float(a)
    return out


@cache
def _model(run: str) -> AutoModel:
    ctor = {k: str(REPO / v) for k, v in RUNS[run]["ctor"].items() if v is not None}
    return AutoModel(**ctor, device="cpu", disable_update=True)


@pytest.fixture(scope="session")
def lite(vad_dir, clips):
    """(run, clip) -> funasr_lite's (segments, per-segment results, generate() result), computed once."""
    cache: dict = {}

    def get(run: str, clip: str):
        if (run, clip) not in cache:
            m, call, w = _model(run), RUNS[run]["call"], clips[clip]
            segs = m.pipeline.segments(w, **call)
            seg_results = m.pipeline.recognize_segments("k", w, segs)
            res = m.generate(input=w, sentence_timestamp=True, return_raw_text=True, **call)
            assert len(res) == 1
            cache[run, clip] = (segs, seg_results, res[0])
        return cache[run, clip]

    return get


# ---------------------------------------------------------------------------------------------
# FunASR's sentences, corrected and with the bug, computed independently of the punc_array
def _latin(ch: str) -> bool:
    return "a" <= ch <= "z" or "A" <= ch <= "Z"


def _sentence_text(units: list[str]) -> str:
    """Concatenate words as timestamp_sentence does: a space before a Latin-initial word and
    before any word that follows a Latin letter."""
    text = ""
    for u in units:
        text += (" " + u) if (_latin(u[0]) or (text and _latin(text[-1]))) else u
    return text


def _join_vad_texts(texts: list[str]) -> str:
    parts = [t.strip() for t in texts if t.strip()]
    joined = parts[0] if parts else ""
    for t in parts[1:]:
        cjk = "\u3400" <= joined[-1] <= "\u9fff" and "\u3400" <= t[0] <= "\u9fff"
        joined += ("" if cjk else " ") + t
    return joined


def sentence_spans(words: list[str], punctuated: str) -> list[tuple[int, int, str]]:
    """Walk FunASR's punctuated text over its words: (first word, last word, mark) per sentence.
    A mark is one of ，。？、 (or , . ? after a Latin word); `<unk>` labels are written literally
    and close nothing; capitalisation may differ (the punctuation model capitalises)."""
    pos, spans, first = 0, [], 0
    for i, w in enumerate(words):
        while punctuated[pos : pos + 1].isspace():
            pos += 1
        assert punctuated[pos : pos + len(w)].casefold() == w.casefold(), (i, w, punctuated[pos : pos + 20])
        pos += len(w)
        while True:
            if punctuated.startswith("<unk>", pos):
                pos += len("<unk>")
            elif punctuated[pos : pos + 1] in MARKS:
                spans.append((first, i, MARKS[punctuated[pos]]))
                first, pos = i + 1, pos + 1
            else:
                break
    assert not punctuated[pos:].strip(), punctuated[pos:]
    return spans


def corrected_sentences(entry: dict) -> list[dict]:
    """Sentences from FunASR's words (per-segment texts), per-word timestamps and punctuated text.
    `raw_text` is the words concatenated WITHOUT spaces: timestamp_sentence appends `word + " "` and
    then strips the trailing space after every word (FunASR behaviour, kept by funasr_lite)."""
    words = [w for seg in entry["segments"] for w in seg["text"].split()]
    ts = entry["result"]["timestamp"]
    assert len(words) == len(ts)
    out = []
    for a, b, mark in sentence_spans(words, entry["result"]["text"]):
        out.append(
            {
                "text": _sentence_text(words[a : b + 1]) + mark,
                "start": ts[a][0],
                "end": ts[b][1],
                "timestamp": ts[a : b + 1],
                "raw_text": "".join(words[a : b + 1]),
            }
        )
    return out


def funasr_shifted_sentences(entry: dict, corrected: list[dict]) -> list[dict]:
    """The corrected sentences with FunASR 1.4.16's text units: `_join_vad_texts(segment texts).split()`,
    taken position by position in place of the words (timestamps and boundaries unchanged)."""
    units = _join_vad_texts([seg["text"] for seg in entry["segments"]]).split()
    out, k = [], 0
    for s in corrected:
        n = len(s["timestamp"])
        u = units[k : k + n]
        k += n
        out.append({**s, "text": _sentence_text(u) + s["text"][-1], "raw_text": "".join(u)})
    return out


def _has_punc_and_ts(run: str, entry: dict) -> bool:
    return RUNS[run]["ctor"]["punc_model"] is not None and "timestamp" in (entry["result"] or {})


# ---------------------------------------------------------------------------------------------
def test_fixture_is_complete() -> None:
    assert set(RECIPE["clips"]) == {c for r in RUNS.values() for c in r["clips"]}
    for run, clip in CASES:
        e = RUNS[run]["clips"][clip]
        assert e["n_results"] == 1 and e["result"] is not None
        assert 4 <= len(e["vad_segments"]) <= 15
        assert len(e["segments"]) == len(e["vad_segments"])
    # FunASR's default VAD (dynamic silence schedule) and max_end_silence_time=800 differ on every clip
    for clip in RECIPE["clips"]:
        assert (
            RUNS["bicif_vad_punc_default"]["clips"][clip]["vad_segments"]
            != RUNS["bicif_vad_punc_classic800"]["clips"][clip]["vad_segments"]
        )


@pytest.mark.parametrize("run,clip", _case_params())
def test_vad_segments(lite, run: str, clip: str) -> None:
    segs, _, _ = lite(run, clip)
    assert segs == RUNS[run]["clips"][clip]["vad_segments"]


@pytest.mark.parametrize("run,clip", _case_params())
def test_segment_texts_and_timestamps(lite, run: str, clip: str) -> None:
    _, seg_results, _ = lite(run, clip)
    ref = RUNS[run]["clips"][clip]["segments"]
    assert len(seg_results) == len(ref)
    for i, (got, want) in enumerate(zip(seg_results, ref)):
        assert got.rec.text == want["text"], f"segment {i}"
        if "timestamp" in want:
            assert [list(t) for t in got.rec.timestamp] == want["timestamp"], f"segment {i}"
        else:
            assert got.rec.timestamp is None, f"segment {i}"


@pytest.mark.parametrize("run,clip", _case_params())
def test_result_fields(lite, run: str, clip: str) -> None:
    _, _, res = lite(run, clip)
    ref = RUNS[run]["clips"][clip]["result"]
    assert set(res) - {"key"} == set(ref) - {"key"}
    for field in ("text", "raw_text", "timestamp"):
        if field in ref:
            assert res[field] == ref[field], field


@pytest.mark.parametrize("run,clip", _case_params())
def test_sentence_info(lite, run: str, clip: str) -> None:
    _, _, res = lite(run, clip)
    entry = RUNS[run]["clips"][clip]
    ref = entry["result"]["sentence_info"]
    if _is_nopunc_with_ts(run):
        # Deliberate difference: FunASR 1.4.16 returns no sentences at all here ("punc_model is
        # required for sentence_timestamp"); funasr_lite gives one sentence per VAD segment, in
        # FunASR's own fallback format, built here from FunASR's per-segment results.
        assert ref == []
        expected = []
        for seg, (seg_start, _) in zip(entry["segments"], entry["vad_segments"]):
            if seg["text"].strip():  # segment-relative timestamps -> file time
                ts = [[s + seg_start, e + seg_start] for s, e in seg["timestamp"]]
                expected.append(
                    {"start": ts[0][0], "end": ts[-1][1], "text": seg["text"], "sentence": seg["text"], "timestamp": ts}
                )
        assert res["sentence_info"] == expected and expected
        return
    if not _has_punc_and_ts(run, entry):
        assert res["sentence_info"] == ref
        return
    corrected = corrected_sentences(entry)
    assert res["sentence_info"] == corrected
    # FunASR's own sentences differ from the corrected ones only by the VAD-boundary text shift
    assert ref == funasr_shifted_sentences(entry, corrected)


def test_funasr_sentence_shift_is_exercised() -> None:
    """The fixtures really show the bug: in every run with punctuation and timestamps some
    sentence text differs between FunASR and the corrected sentences, and never anything else."""
    for run in RUNS:
        n_diff = 0
        for entry in RUNS[run]["clips"].values():
            if not _has_punc_and_ts(run, entry):
                continue
            corrected = corrected_sentences(entry)
            ref = entry["result"]["sentence_info"]
            assert [{k: v for k, v in s.items() if k not in ("text", "raw_text")} for s in ref] == [
                {k: v for k, v in s.items() if k not in ("text", "raw_text")} for s in corrected
            ]
            # same characters overall: only the cut points between sentence texts move
            assert "".join(s["raw_text"] for s in ref) == "".join(s["raw_text"] for s in corrected)
            n_diff += sum(a["text"] != b["text"] for a, b in zip(ref, corrected))
        if RUNS[run]["ctor"]["punc_model"] is not None and "bicif" in RUNS[run]["ctor"]["model"]:
            assert n_diff > 0, run
