"""DER (funasr_lite.diar.der): hand-computed cases, RTTM I/O, CLI, and a cross-check against
pyannote.metrics' DiarizationErrorRate (the independent reference; skipped if not installed)."""

from __future__ import annotations

import json
import math
import random
import warnings

import pytest

from funasr_lite.bin import compute_der
from funasr_lite.diar.der import DerResult, score_all, score_recording
from funasr_lite.diar.rttm import read_rttm, rttm_lines

REF = [(0.0, 10.0, "A"), (10.0, 20.0, "B")]


def der(ref, hyp, collar=0.0, **kw):
    return score_recording(ref, hyp, collar=collar, **kw)


def test_perfect_with_other_names():
    r = der(REF, [(0.0, 10.0, "spk1"), (10.0, 20.0, "spk0")])
    assert r.der == 0 and r.total == pytest.approx(20.0)
    assert r.mapping == {"A": "spk1", "B": "spk0"}
    assert der(REF, [(0.0, 10.0, "x"), (10.0, 20.0, "y")], collar=0.25).der == 0


def test_missed_region():
    r = der(REF, [(0.0, 10.0, "x"), (10.0, 18.0, "y")])
    assert (r.missed, r.false_alarm, r.confusion) == pytest.approx((2.0, 0.0, 0.0))
    assert r.der == pytest.approx(0.10)


def test_false_alarm():
    r = der(REF, [(0.0, 10.0, "x"), (10.0, 22.0, "y")])
    assert (r.missed, r.false_alarm, r.confusion) == pytest.approx((0.0, 2.0, 0.0))
    assert r.der == pytest.approx(0.10)
    # speech in a gap of the reference is false alarm too
    r = der([(0.0, 5.0, "A"), (8.0, 10.0, "A")], [(0.0, 10.0, "x")])
    assert r.false_alarm == pytest.approx(3.0) and r.der == pytest.approx(3.0 / 7.0)


def test_confusion():
    r = der(REF, [(0.0, 12.0, "x"), (12.0, 20.0, "y")])
    assert (r.missed, r.false_alarm, r.confusion) == pytest.approx((0.0, 0.0, 2.0))
    assert r.der == pytest.approx(0.10)


def test_collar():
    # boundary 0.2 s late: 1 % confusion without collar, nothing inside a 0.25 s collar
    hyp = [(0.0, 10.2, "x"), (10.2, 20.0, "y")]
    assert der(REF, hyp).der == pytest.approx(0.01)
    r = der(REF, hyp, collar=0.25)
    assert r.der == 0
    # collars around 0, 10, 20 remove 0.25 + 0.5 + 0.25 s of reference speech
    assert r.total == pytest.approx(19.0)
    # 2 s confusion, 0.25 s of it inside the collar at 10 s
    r = der(REF, [(0.0, 12.0, "x"), (12.0, 20.0, "y")], collar=0.25)
    assert r.confusion == pytest.approx(1.75) and r.der == pytest.approx(1.75 / 19.0)
    # the collar applies to the hypothesis too: false alarm just after the end is not counted
    r = der(REF, [(0.0, 10.0, "x"), (10.0, 20.2, "y")], collar=0.25)
    assert r.false_alarm == 0


def test_speaker_permutation():
    ref = [(0, 3, "A"), (3, 6, "B"), (6, 9, "C"), (9, 12, "A"), (12, 15, "C")]
    hyp = [(s, e, {"A": "2", "B": "0", "C": "1"}[k]) for s, e, k in ref]
    r = der(ref, hyp)
    assert r.der == 0 and r.mapping == {"A": "2", "B": "0", "C": "1"}


def test_extra_and_missing_speakers():
    # one reference speaker split into two hypothesis speakers: the smaller part is confusion
    r = der([(0.0, 10.0, "A")], [(0.0, 6.0, "x"), (6.0, 10.0, "y")])
    assert r.confusion == pytest.approx(4.0) and r.der == pytest.approx(0.4)
    # two reference speakers merged into one
    r = der(REF, [(0.0, 20.0, "x")])
    assert r.confusion == pytest.approx(10.0) and r.der == pytest.approx(0.5)
    assert list(r.mapping.values()).count(None) == 1


def test_overlap_is_scored():
    ref = [(0.0, 10.0, "A"), (5.0, 15.0, "B")]
    r = der(ref, [(0.0, 15.0, "x")])
    # total 20 s; 5 s of the overlap missed; 5 s of the speaker not mapped to x confused
    assert r.total == pytest.approx(20.0)
    assert r.missed == pytest.approx(5.0) and r.confusion == pytest.approx(5.0)
    assert r.der == pytest.approx(0.5)
    r = der(ref, [(0.0, 10.0, "x"), (5.0, 15.0, "y")])
    assert r.der == 0


def test_empty_cases():
    assert der([], []).der == 0
    r = der(REF, [])
    assert r.missed == pytest.approx(20.0) and r.der == pytest.approx(1.0)
    assert math.isinf(der([], [(0.0, 1.0, "x")]).der)


def test_score_all_sums_components_and_reports_missing():
    ref = {"r1": REF, "r2": [(0.0, 5.0, "A")], "r3": [(0.0, 4.0, "A")]}
    hyp = {"r1": [(0.0, 12.0, "x"), (12.0, 20.0, "y")], "r2": [(0.0, 5.0, "z")], "extra": [(0.0, 1.0, "q")]}
    per, total, missing, extra = score_all(ref, hyp, collar=0.0)
    assert list(per) == ["r1", "r2", "r3"]
    assert missing == ["r3"] and extra == ["extra"]
    assert per["r3"].missed == pytest.approx(4.0)
    assert total.total == pytest.approx(29.0)
    assert total.der == pytest.approx((2.0 + 4.0) / 29.0)  # time-weighted, not a mean of DERs


def test_frame_grid_rounding():
    # boundaries are rounded to 10 ms frames
    r = der([(0.0, 1.004, "A")], [(0.0, 0.996, "x")])
    assert r.total == pytest.approx(1.0) and r.der == 0


def test_rttm_roundtrip_and_cli(tmp_path):
    ref_p, hyp_p = tmp_path / "ref.rttm", tmp_path / "hyp.rttm"
    ref_p.write_text(
        ";; comment\n" + "\n".join(rttm_lines("m1", REF)) + "\nSPKR-INFO m1 1 <NA> <NA> <NA> unknown A <NA>\n"
    )
    hyp_p.write_text("\n".join(rttm_lines("m1", [(0.0, 12.0, "0"), (12.0, 20.0, "1")])) + "\n")
    assert read_rttm(ref_p) == {"m1": [(0.0, 10.0, "A"), (10.0, 20.0, "B")]}
    out, js = tmp_path / "der.txt", tmp_path / "der.json"
    assert compute_der.main([str(ref_p), str(hyp_p), str(out), "--collar", "0", "--json", str(js)]) == 0
    assert "%DER 10.00 [" in out.read_text()
    data = json.loads(js.read_text())
    assert data["overall"]["der"] == pytest.approx(0.1)
    assert data["recordings"]["m1"]["mapping"] == {"A": "0", "B": "1"}
    bad = tmp_path / "bad.rttm"
    bad.write_text("SPEAKER m1 1 abc 1.0 <NA> <NA> A <NA> <NA>\n")
    assert compute_der.main([str(bad), str(hyp_p)]) == 1
    with pytest.raises(SystemExit) as e:
        compute_der.main([])
    assert e.value.code == 2


def _random_annotation(rng: random.Random, n_spk: int, dur: float, overlap: bool) -> list:
    turns, t = [], 0.0
    while t < dur:
        seg = round(rng.uniform(0.3, 4.0), 2)
        spk = f"s{rng.randrange(n_spk)}"
        turns.append((round(t, 2), round(t + seg, 2), spk))
        if overlap and rng.random() < 0.3:
            o = round(rng.uniform(0.1, 1.5), 2)
            turns.append((max(0.0, round(t + seg - o, 2)), round(t + seg + 0.5, 2), f"s{rng.randrange(n_spk)}"))
        t += seg + round(rng.choice([0.0, rng.uniform(0.0, 1.0)]), 2)
    return turns


@pytest.mark.parametrize("collar", [0.0, 0.25])
@pytest.mark.parametrize("overlap", [False, True])
def test_matches_pyannote(collar, overlap):
    pm = pytest.importorskip("pyannote.metrics.diarization")
    from pyannote.core import Annotation, Segment

    def annotation(turns):
        a = Annotation()
        # pyannote merges nothing; same-speaker overlapping turns would be counted twice there,
        # as in our frame model (a speaker is active or not), so give each turn its own track
        for i, (s, e, spk) in enumerate(turns):
            a[Segment(s, e), i] = spk
        return a

    rng = random.Random(1234 + int(collar * 100) + overlap)
    for _ in range(8):
        n_spk = rng.randint(2, 4)
        ref = _random_annotation(rng, n_spk, 60.0, overlap)
        # hypothesis: the reference with jittered boundaries, some turns relabelled and dropped
        hyp = []
        for s, e, spk in ref:
            if rng.random() < 0.1:
                continue
            s2 = max(0.0, round(s + rng.uniform(-0.4, 0.4), 2))
            e2 = round(max(s2 + 0.05, e + rng.uniform(-0.4, 0.4)), 2)
            lab = f"h{rng.randrange(n_spk + 1)}" if rng.random() < 0.2 else "h_" + spk
            hyp.append((s2, e2, lab))
        ours = score_recording(_dedup(ref), _dedup(hyp), collar=collar)
        metric = pm.DiarizationErrorRate(collar=2 * collar, skip_overlap=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            comp = metric(annotation(_dedup(ref)), annotation(_dedup(hyp)), detailed=True)
        assert ours.total == pytest.approx(comp["total"], abs=1e-6)
        assert ours.missed == pytest.approx(comp["missed detection"], abs=1e-6)
        assert ours.false_alarm == pytest.approx(comp["false alarm"], abs=1e-6)
        assert ours.confusion == pytest.approx(comp["confusion"], abs=1e-6)
        assert ours.der == pytest.approx(comp["diarization error rate"], abs=1e-9)


def _dedup(turns):
    """Union of each speaker's turns (a speaker is either active or not at a time)."""
    by: dict = {}
    for s, e, spk in sorted(turns):
        lst = by.setdefault(spk, [])
        if lst and s <= lst[-1][1]:
            lst[-1][1] = max(lst[-1][1], e)
        else:
            lst.append([s, e])
    return sorted((s, e, spk) for spk, lst in by.items() for s, e in lst)


def test_der_result_addition():
    a = DerResult(10, 1, 2, 3, 12)
    b = DerResult(5, 0, 0, 1, 6)
    c = a + b
    assert (c.total, c.missed, c.false_alarm, c.confusion, c.scored) == (15, 1, 2, 4, 18)
    assert c.der == pytest.approx(7 / 15)
