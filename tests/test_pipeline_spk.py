"""Speaker diarization in the long-audio pipeline (VAD -> ASR -> punctuation -> CAM++ chunks ->
clustering -> turns -> sentence speakers) against FunASR 1.4.16.

Fixtures: tests/fixtures/pipeline_spk/ (tools/make_fixtures/make_pipeline_spk.py). FunASR ran
`AutoModel(model=bicif_paraformer_tiny, vad_model=tools/fsmn_vad, punc_model=ct_transformer_tiny,
spk_model=campplus_tiny, device="cpu"[, spk_mode="vad_segment"])` `.generate(input=wave[, preset_spk_num=2])`
(and punc_segment with `model=paraformer_tiny`, the plain Paraformer: its CIF-peak timestamps are on
because a speaker model is loaded)
on two espeak-ng dialogues (2 and 3 voices), a fresh AutoModel per call (so its k-means drew from
numpy's global RNG in the `np.random.seed(0)` state, checked by the generator: `rng_is_seed0`,
which funasr_lite's default `seed=0` reproduces). The tiny CAM++ has random weights: its embeddings
are nearly constant (pairwise cosine > 0.9997), so without a speaker count FunASR finds one speaker;
with `preset_spk_num=2` it finds two (18-30 turns, speaker changes inside VAD segments and sentences).

funasr_lite runs with the same folders on the same audio (regenerated from the recipe,
sha256-checked; the tests skip without espeak-ng or with one that makes other audio).

Compared: VAD segments, chunk times (exact floats), embeddings (max|diff| <= 1e-5), cluster labels,
turns (exact floats), and with `split_at_speaker_change=False` the result fields and every
`sentence_info` entry (`spk`, `start`, `end`, `timestamp`, `text`): punc_segment sentence texts are
compared with the VAD-boundary-corrected texts (docs/compatibility.md; helpers from
test_pipeline_golden.py), vad_segment sentences exactly. With the default
`split_at_speaker_change=True`: every piece has one speaker over its characters (`timestamp_spk`)
and the pieces concatenate back to the unsplit sentences.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import shutil
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from funasr_lite import AutoModel

REPO = Path(__file__).resolve().parents[1]
FIX = REPO / "tests" / "fixtures" / "pipeline_spk"
REF = json.loads((FIX / "results.json").read_text(encoding="utf-8"))
RECIPE = json.loads((FIX / "recipe.json").read_text(encoding="utf-8"))
NPZ = np.load(FIX / "embeddings.npz")
RUNS = REF["runs"]
CLIPS = list(RECIPE["clips"])
CASES = [pytest.param(run, clip, id=f"{run}-{clip}") for run in RUNS for clip in CLIPS]
PUNC_CASES = [
    pytest.param(run, clip, id=f"{run}-{clip}")
    for run in RUNS
    for clip in CLIPS
    if RUNS[run]["ctor"].get("spk_mode", "punc_segment") == "punc_segment"
]
VAD_CASES = [
    pytest.param(run, clip, id=f"{run}-{clip}")
    for run in RUNS
    for clip in CLIPS
    if RUNS[run]["ctor"].get("spk_mode") == "vad_segment"
]
LITE_ONLY_KEYS = {"timestamp_spk", "speaker_turns"}  # funasr_lite's additions to the result dict


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


GOLDEN = _load("_test_pipeline_golden_helpers", REPO / "tests" / "test_pipeline_golden.py")


def _embeddings(run: str, clip: str) -> np.ndarray:
    return NPZ[f"{run}/{clip}"] if f"{run}/{clip}" in NPZ.files else NPZ[clip]


def _call(run: str) -> dict:
    """funasr_lite's generate() options for a run (FunASR's preset_spk_num is accepted as is)."""
    return dict(RUNS[run]["call"])


@pytest.fixture(scope="session")
def clips() -> dict[str, np.ndarray]:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed: cannot regenerate the diarization test audio")
    mod = _load("_make_pipeline_spk", REPO / "tools" / "make_fixtures" / "make_pipeline_spk.py")
    out = {}
    for name, recipe in RECIPE["clips"].items():
        a = mod.synth_clip(recipe, RECIPE["voices"])
        if mod.sha256(a) != RECIPE["sha256"][name]:
            pytest.skip(f"regenerated clip {name} differs from the recipe's sha256 (other espeak-ng build)")
        out[name] = mod.to_float(a)
    return out


@cache
def _model(spk_mode: str, split: bool, asr: str = RUNS["punc_segment"]["ctor"]["model"]) -> AutoModel:
    ctor = {k: str(REPO / v) for k, v in RUNS["punc_segment"]["ctor"].items()} | {"model": str(REPO / asr)}
    return AutoModel(**ctor, spk_mode=spk_mode, split_at_speaker_change=split, device="cpu", disable_update=True)


@pytest.fixture(scope="session")
def lite(vad_dir, clips):
    """(run, clip, split, extra call options) -> funasr_lite's generate() result, computed once."""
    results: dict = {}

    def get(run: str, clip: str, split: bool = False, **call):
        key = (run, clip, split, tuple(sorted(call.items())))
        if key not in results:
            ctor = RUNS[run]["ctor"]
            m = _model(ctor.get("spk_mode", "punc_segment"), split, ctor["model"])
            res = m.generate(input=clips[clip], **(call or _call(run)))
            assert len(res) == 1
            results[key] = res[0]
        return results[key]

    return get


@pytest.fixture(scope="session")
def steps(vad_dir, clips):
    """clip -> funasr_lite's VAD segments, chunks and embeddings (the same in every run)."""
    from funasr_lite.diar.chunks import chunk_vad_segments
    from funasr_lite.diar.embed import extract_embeddings

    out: dict = {}

    def get(clip: str):
        if clip not in out:
            p = _model("punc_segment", False).pipeline
            segs = p.segments(clips[clip])
            chunks = [c for seg in chunk_vad_segments(segs, clips[clip]) for c in seg]
            out[clip] = (segs, chunks, extract_embeddings(p.spk, chunks))
        return out[clip]

    return get


# ---------------------------------------------------------------------------------------------
def test_fixture_is_meaningful() -> None:
    for clip in CLIPS:
        assert 45 <= RECIPE["samples"][clip] / 16000 <= 90
        assert len({v for _, _, v in RECIPE["truth"][clip]}) >= 2
    for run in RUNS:
        for clip in CLIPS:
            e = RUNS[run]["clips"][clip]
            assert e["rng_is_seed0"], "FunASR's k-means did not start from np.random.seed(0)'s state"
            assert len(e["chunks"]) >= 20  # below 20 chunks FunASR always gives one speaker
            assert _embeddings(run, clip).shape == (len(e["chunks"]), 16)
            assert e["oracle_num"] == RUNS[run]["call"].get("preset_spk_num")
            n_spk = len(set(e["labels"]))
            assert n_spk == (2 if e["oracle_num"] == 2 else 1)
            if e["oracle_num"] == 2:  # speaker changes inside VAD segments, so inside sentences too
                assert len(e["turns"]) > len(e["vad_segments"])


@pytest.mark.parametrize("run,clip", CASES)
def test_vad_chunks_and_embeddings(steps, run: str, clip: str) -> None:
    segs, chunks, emb = steps(clip)
    e = RUNS[run]["clips"][clip]
    assert segs == e["vad_segments"]
    assert [[c.start, c.end] for c in chunks] == e["chunks"]  # exact floats, FunASR's order
    ref = _embeddings(run, clip)
    assert emb.dtype == np.float32 and emb.shape == ref.shape
    assert float(np.abs(emb - ref).max()) <= 1e-5


@pytest.mark.parametrize("run,clip", CASES)
def test_labels_and_turns(steps, run: str, clip: str) -> None:
    from funasr_lite.diar.cluster import cluster_embeddings
    from funasr_lite.diar.postprocess import labels_to_turns

    _, chunks, emb = steps(clip)
    e = RUNS[run]["clips"][clip]
    n = e["oracle_num"]
    with threadpool_limits(1):  # as test_cluster.py (labels are the same with 2 threads, just slower)
        # clustering alone, on FunASR's own embeddings, then on ours
        assert cluster_embeddings(_embeddings(run, clip), num_speakers=n).tolist() == e["labels"]
        labels = cluster_embeddings(emb, num_speakers=n)
    assert labels.tolist() == e["labels"]
    turns = labels_to_turns([(c.start, c.end) for c in chunks], labels)
    assert [list(t) for t in turns] == e["turns"]


@pytest.mark.parametrize("run,clip", CASES)
def test_result_unsplit_matches_funasr(lite, run: str, clip: str) -> None:
    res = lite(run, clip)
    e = RUNS[run]["clips"][clip]
    ref = e["result"]
    assert set(res) - {"key"} == (set(ref) - {"key"}) | LITE_ONLY_KEYS
    assert res["text"] == ref["text"]
    assert res["timestamp"] == ref["timestamp"]
    assert res["speaker_turns"] == [[round(s * 1000), round(t * 1000), k] for s, t, k in e["turns"]]
    got, want = res["sentence_info"], ref["sentence_info"]
    if RUNS[run]["ctor"].get("spk_mode") == "vad_segment":
        # one sentence per VAD segment: start/end = the segment, text = sentence = its ASR text
        assert [(s["start"], s["end"]) for s in want] == [tuple(v) for v in e["vad_segments"]]
        assert got == want
        return
    # punc_segment: FunASR's sentences, with the VAD-boundary text shift corrected
    corrected = GOLDEN.corrected_sentences(e)
    assert want == [
        {k: v for k, v in s.items() if k != "raw_text"} | {"spk": w["spk"]}
        for s, w in zip(GOLDEN.funasr_shifted_sentences(e, corrected), want)
    ]
    assert len(got) == len(want)
    for i, (g, w, c) in enumerate(zip(got, want, corrected)):
        assert {k: g[k] for k in ("start", "end", "timestamp", "spk")} == {
            k: w[k] for k in ("start", "end", "timestamp", "spk")
        }, f"sentence {i}"
        assert g["text"] == c["text"], f"sentence {i}"
        assert set(g) == set(w), f"sentence {i}"


@pytest.mark.parametrize("run,clip", PUNC_CASES)
def test_split_at_speaker_change(lite, run: str, clip: str) -> None:
    whole = lite(run, clip, split=False)
    res = lite(run, clip, split=True)
    assert res["timestamp"] == whole["timestamp"] and res["text"] == whole["text"]
    assert res["speaker_turns"] == whole["speaker_turns"]
    spk_of_char = res["timestamp_spk"]
    assert len(spk_of_char) == len(res["timestamp"])
    pieces, k, n_split, from_split = res["sentence_info"], 0, 0, []
    for sent in whole["sentence_info"]:
        n = len(sent["timestamp"])
        group, got = [], 0
        while got < n:
            p = pieces[k]
            group.append(p)
            got += len(p["timestamp"])
            k += 1
        assert got == n
        # pieces concatenate back to the unsplit sentence
        assert [t for p in group for t in p["timestamp"]] == sent["timestamp"]
        assert "".join(p["text"] for p in group).replace(" ", "") == sent["text"].replace(" ", "")
        assert group[0]["start"] == sent["start"] and group[-1]["end"] == sent["end"]
        for p in group:
            assert p["start"] == p["timestamp"][0][0] and p["end"] == p["timestamp"][-1][1]
        from_split += [len(group) > 1] * len(group)
        if len(group) == 1:
            assert group[0] == sent  # unchanged, FunASR's label kept
        else:
            n_split += 1
            for a, b in itertools.pairwise(group):
                assert a["spk"] != b["spk"]
    assert k == len(pieces)
    # every piece has one speaker over its characters (and it is the piece's label when split)
    pos = 0
    for p, was_split in zip(pieces, from_split):
        labels = set(spk_of_char[pos : pos + len(p["timestamp"])])
        pos += len(p["timestamp"])
        assert len(labels) == 1, p
        if was_split:
            assert labels == {p["spk"]}, p
    n_spk = len(set(RUNS[run]["clips"][clip]["labels"]))
    if n_spk == 1:
        assert res["sentence_info"] == whole["sentence_info"]
    else:
        assert n_split > 0  # the fixtures do exercise splitting


@pytest.mark.parametrize("run,clip", VAD_CASES)
def test_vad_segment_mode_is_never_split(lite, run: str, clip: str) -> None:
    """spk_mode="vad_segment": the default split_at_speaker_change=True changes nothing (FunASR's sentences)."""
    res = lite(run, clip, split=True)
    assert res["sentence_info"] == RUNS[run]["clips"][clip]["result"]["sentence_info"]
    assert res == lite(run, clip, split=False)


@pytest.mark.parametrize("clip", CLIPS)
def test_plain_paraformer_gets_timestamps_and_punctuated_sentences(lite, clip: str) -> None:
    """With a speaker model FunASR turns ``output_timestamp`` on, so plain Paraformer has CIF-peak
    timestamps and its sentences are cut at the punctuation, not one per VAD segment (issue 16, item 2)."""
    e = RUNS["paraformer_punc_segment"]["clips"][clip]
    res = lite("paraformer_punc_segment", clip)
    assert res["timestamp"] == e["result"]["timestamp"] and len(res["timestamp"]) > 100
    n_words = sum(len(s["text"].split()) for s in e["segments"])
    assert len(res["timestamp"]) == n_words  # one time per recognised word
    assert len(res["sentence_info"]) > 2 * len(e["vad_segments"])
    assert [t for s in res["sentence_info"] for t in s["timestamp"]] == res["timestamp"]


@pytest.mark.parametrize("clip", CLIPS)
def test_num_speakers_two(lite, clip: str) -> None:
    res = lite("punc_segment", clip, split=True, num_speakers=2)
    assert len({s["spk"] for s in res["sentence_info"]}) <= 2
    assert len({t[2] for t in res["speaker_turns"]}) <= 2
    assert set(res["timestamp_spk"]) <= {0, 1}
    # FunASR's name for it gives the same
    assert res == lite("punc_segment", clip, split=True, preset_spk_num=2)
