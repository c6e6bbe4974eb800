"""The homophone floor (egs/synth/local: homophone_groups, homophone_floor)."""

from __future__ import annotations

import json
import math
import shutil

import homophone_floor as cli  # egs/synth/local, on sys.path through conftest
import homophone_groups as homophones
import pytest
from homophone_groups import (
    edit_distance,
    espeak_keys,
    group_loss,
    homophone_floor,
    homophone_share,
    normalise_key,
    substitution_pairs,
)


def test_edit_distance():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == edit_distance("abc", "") == 3
    assert edit_distance("abc", "abc") == 0
    assert edit_distance("abc", "bca") == 2  # Hamming would say 3


def test_normalise_key():
    assert normalise_key("ts.'ong55_| (en)gju:22@11tu:11(cmn)_|\n") == "ts.'ong55_|gju:22@11tu:11_|"
    assert normalise_key(" s.'i.51_| s.'i.35_|") == "s.'i.51_|s.'i.35_|"


def test_two_one_char_homophones_and_unique_words():
    # A/B share a key (weights 3, 1): the best decision is A, losing B's weight 1.
    # C (1 char, weight 4) and DD (2 chars, weight 2) have unique keys: no loss.
    # Expected reference characters: 3 + 1 + 4 + 2*2 = 12.
    r = homophone_floor(["A", "B", "C", "DD"], [3, 1, 4, 2], ["k", "k", "c", "d"])
    assert r.floor_pct == pytest.approx(100 * 1 / 12)
    assert r.floor_1char_pct == pytest.approx(100 * 1 / 8)  # A, B, C: 8 characters
    assert r.floor_multi_pct == 0.0
    assert r.share_1char_pct == pytest.approx(100 * 8 / 12)
    assert (r.n_words, r.n_groups, r.n_ambiguous, r.n_mixed_length) == (4, 3, 1, 0)
    (g,) = r.top_groups
    assert (g.key, g.words, g.weights, g.decision, g.loss) == ("k", ["A", "B"], [3, 1], "A", 1)
    assert g.loss_pct == pytest.approx(r.floor_pct)


def test_unique_keys_give_zero():
    r = homophone_floor(["ab", "c", "ab"], [1.0, 2.0, 5.0], ["x", "y", "x"])  # a repeated word is no ambiguity
    assert r.floor_pct == r.floor_1char_pct == r.floor_multi_pct == 0.0
    assert (r.n_groups, r.n_ambiguous, r.top_groups) == (2, 0, [])


def test_equal_length_vote_beats_every_word():
    # ab:3, cd:2, ed:2. Position 0: a=3 vs c=2, e=2 -> "a", loses 4. Position 1: b=3 vs d=4 -> "d",
    # loses 3. The vote "ad" is no word and loses 7; each whole word loses 8
    # (ab: 2*2 + 2*2; cd: 3*2 + 2*1; ed: 3*2 + 2*1). Reference characters: 7 * 2 = 14.
    words, weights = ["ab", "cd", "ed"], [3, 2, 2]
    assert group_loss(words, weights) == ("ad", 7)
    for c in words:
        assert sum(x * edit_distance(w, c) for w, x in zip(words, weights)) == 8
    r = homophone_floor(words, weights, ["k"] * 3)
    assert r.floor_pct == pytest.approx(50.0)
    assert r.floor_multi_pct == pytest.approx(50.0)
    assert r.floor_1char_pct == r.share_1char_pct == 0.0


def test_different_lengths_use_edit_distance():
    # a:1, ab:3, xyz:1 share a key. Choosing "a" loses 3*1 + 1*3 = 6, "ab" 1*1 + 1*3 = 4,
    # "xyz" 1*3 + 3*3 = 12 -> "ab", 4 errors of 1 + 6 + 3 = 10 characters.
    words, weights = ["a", "ab", "xyz"], [1, 3, 1]
    assert group_loss(words, weights) == ("ab", 4)
    r = homophone_floor(words, weights, ["k"] * 3)
    assert r.floor_pct == pytest.approx(40.0)
    assert r.n_mixed_length == 1
    # Regrouped by length the decoder also knows the length: "a" alone loses nothing, and
    # {ab:3, xyz:1} loses 3 (choose "ab") of 9 characters.
    assert r.floor_1char_pct == 0.0
    assert r.floor_multi_pct == pytest.approx(100 * 3 / 9)
    assert r.share_1char_pct == pytest.approx(10.0)


def test_top_groups_sorted_and_limited():
    words = ["a", "b", "c", "d", "e", "f"]
    weights = [5, 1, 5, 3, 5, 2]
    r = homophone_floor(words, weights, ["1", "1", "2", "2", "3", "3"], top=2)
    assert [g.decision for g in r.top_groups] == ["c", "e"]  # losses 3, 2 (1 dropped)
    assert [g.loss for g in r.top_groups] == [3, 2]
    assert r.floor_pct == pytest.approx(100 * 6 / 21)


@pytest.mark.parametrize(
    "args",
    [
        (["a"], [1.0, 2.0], ["k"]),
        ([], [], []),
        (["a", ""], [1.0, 1.0], ["k", "k"]),
        (["a"], [-1.0], ["k"]),
        (["a"], [math.nan], ["k"]),
        (["a"], [math.inf], ["k"]),
        (["a", "b"], [0.0, 0.0], ["k", "k"]),
    ],
)
def test_bad_input(args):
    with pytest.raises(ValueError):
        homophone_floor(*args)


def _need_espeak():
    assert shutil.which("espeak-ng"), "espeak-ng is needed (bash tools/install.sh installs it)"


def test_espeak_homophones():
    _need_espeak()
    words = ["是", "事", "市", "中", "国", "他", "她", "它", "事实"]
    keys = dict(zip(words, espeak_keys(words)))
    assert keys["是"] == keys["事"] == keys["市"]
    assert keys["他"] == keys["她"] == keys["它"]
    assert keys["中"] != keys["国"]
    assert keys["是"] != keys["中"] and keys["是"] != keys["他"]
    assert keys["事实"] != keys["是"]
    assert espeak_keys(words, chunk=2) == list(keys.values())  # chunking does not change keys
    assert all(k and not any(c.isspace() for c in k) and "(en)" not in k for k in keys.values())


def test_espeak_errors(monkeypatch):
    _need_espeak()
    assert espeak_keys([]) == []
    with pytest.raises(ValueError, match="spans lines"):
        espeak_keys(["是", "事\n实"])
    with pytest.raises(RuntimeError, match=r"words 0\.\.1"):
        espeak_keys(["是", "事"], voice="zzz")
    monkeypatch.setattr(homophones.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="not installed"):
        espeak_keys(["是"])


def test_cli_small(tmp_path, capsys):
    _need_espeak()
    out = tmp_path / "floor.json"
    assert cli.main(["--top_n", "300", "--json", str(out), "--show", "3"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("homophone floor: ")
    r = json.loads(out.read_text(encoding="utf-8"))
    assert (r["top_n"], r["top_chars"], r["voice"], r["n_words"]) == (300, 3500, "cmn", 300)
    assert 0 < r["n_ambiguous"] <= r["n_groups"] < r["n_words"]
    assert len(r["top_groups"]) == min(3, r["n_ambiguous"]) == len(printed) - 2
    losses = [g["loss_pct"] for g in r["top_groups"]]
    assert losses == sorted(losses, reverse=True) and sum(losses) <= r["floor_pct"] + 1e-9
    assert any(set(g["words"]) >= {"他", "她", "它"} for g in r["top_groups"])
    assert 0 <= r["floor_multi_pct"] <= r["floor_pct"] <= r["floor_1char_pct"] <= 100
    assert 0 < r["share_1char_pct"] < 100
    share = r["share_1char_pct"] / 100
    combined = share * r["floor_1char_pct"] + (1 - share) * r["floor_multi_pct"]
    assert r["n_mixed_length"] == 0  # so the floor splits exactly by word length
    assert r["floor_pct"] == pytest.approx(combined, abs=1e-9)
    assert not list(tmp_path.glob(".*tmp"))  # written atomically, no temporary left behind


def test_cli_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--top_n", "0"])
    assert e.value.code == 2
    capsys.readouterr()
    assert cli.main(["--top_n", "10", "--json", str(tmp_path / "no" / "f.json")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("homophone_floor: error: ") and "\n" not in err


def test_substitution_pairs_read_only_clean_utterances() -> None:
    detail = (
        "utt: a\nWER: 50.00 % N=4 C=2 S=2 D=0 I=0\nlab: 是 他 中 国\nrec: 事 她 中 国\n\n"
        "utt: b\nWER: 50.00 % N=2 C=1 S=0 D=0 I=1\nlab: 中    国\nrec: 中 的 国\n\n"
        "utt: c\nWER: 0.00 % N=2 C=2 S=0 D=0 I=0\nlab: 中 国\nrec: 中 国\n"
    )
    pairs, used = substitution_pairs(detail)
    assert pairs == [("是", "事"), ("他", "她")] and used == 2
    keys = {"是": "s.'i.51", "事": "s.'i.51", "他": "tha55", "她": "tha35"}
    assert homophone_share(pairs, keys) == (50.0, 100.0)  # one same key; both same syllable once tones go
    assert homophone_share([], {}) == (0.0, 0.0)


def test_cli_cer_detail_counts_homophone_substitutions(tmp_path, capsys) -> None:
    detail = tmp_path / "cer.txt"
    detail.write_text("utt: a\nWER: 66.67 % N=3 C=1 S=2 D=0 I=0\nlab: 是 我 中\nrec: 事 我 国\n", encoding="utf-8")
    assert cli.main(["--cer_detail", str(detail)]) == 0
    out = capsys.readouterr().out
    assert "2 substitutions in 1 utterances" in out and "50.0% by a homophone" in out  # 是/事 yes, 中/国 no
    assert cli.main(["--cer_detail", str(tmp_path / "missing.txt")]) == 1
