"""CER scoring: hand-computed alignments, normalisation, report format, CLI exit codes."""

from __future__ import annotations

import functools
import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from funasr_lite.errors import InputError
from funasr_lite.scoring import NormalizeOptions, align, count_ops, normalize, score_texts, tokenize
from funasr_lite.scoring.fileio import read_kaldi_text
from funasr_lite.scoring.normalize import fold_width
from funasr_lite.scoring.report import display_width, format_report, summary_dict

REPO = Path(__file__).resolve().parents[1]
DEFAULT = NormalizeOptions()


def counts(ref: str, hyp: str, opts: NormalizeOptions = DEFAULT, char: bool = False) -> tuple[int, ...]:
    """(N, C, S, D, I) of one utterance after normalisation and tokenisation."""
    r = tokenize(normalize(ref, opts), char=char)
    h = tokenize(normalize(hyp, opts), char=char)
    c = count_ops(align(r, h))
    return (c.n, c.c, c.s, c.d, c.i)


def ops(ref: list[str], hyp: list[str]) -> str:
    return "".join(p.op for p in align(ref, hyp))


# ---------------------------------------------------------------- alignment, by hand


def test_identical():
    # 6 characters, all equal: N=6 C=6.
    assert counts("今天天气很好", "今天天气很好") == (6, 6, 0, 0, 0)


def test_substitution():
    # 气 -> 汽 at position 4, the other 5 match.
    assert counts("今天天气很好", "今天天汽很好") == (6, 5, 1, 0, 0)


def test_deletion_and_tie_break():
    # ref 今 天 天 气 很 好 (6), hyp 今 天 气 很 好 (5): one 天 deleted.
    assert counts("今天天气很好", "今天气很好") == (6, 5, 0, 1, 0)
    # Which 天? Tracing back from the end, 好 很 气 match; at ref 今天天 / hyp 今天 the diagonal
    # (天=天, cost e[2][1] = 1) ties the deletion (e[2][2]+1 = 1) and Kaldi's compute-wer takes
    # the diagonal only when strictly cheaper: the deletion wins, so the *third* ref character
    # (the second 天) is the one deleted.
    assert ops(list("今天天气很好"), list("今天气很好")) == "CCDCCC"


def test_insertion():
    # ref 你 好, hyp 你 们 好: 们 inserted. N=2 C=2 I=1.
    assert counts("你好", "你们好") == (2, 2, 0, 0, 1)


def test_tie_break_like_kaldi_compute_wer():
    # ref a b / hyp b c costs 2 either as S+S or as D(a) C(b) I(c). Kaldi's compute-wer
    # (LevenshteinEditDistance with counts) gives 1 ins + 1 del: at the last cell the
    # substitution (b vs c, e[1][1]+1 = 2) ties the insertion (e[2][1]+1 = 2), and the
    # diagonal is taken only when strictly cheaper.
    assert ops(["a", "b"], ["b", "c"]) == "DCI"
    assert counts("a b", "b c") == (2, 1, 0, 1, 1)
    # ref a b a / hyp b a b: cost 2, either D(a) C C I(b) or I(b) C C D(a). At the last cell
    # the diagonal (a vs b, e[2][2]+1 = 3) loses and deletion ties insertion (both 2):
    # Kaldi takes the deletion only when strictly cheaper, so the insertion is at the end.
    assert ops(list("aba"), list("bab")) == "DCCI"
    # a match that ties an insertion: ref a / hyp a a -> the second hyp a is the insertion
    assert ops(["a"], ["a", "a"]) == "CI"


def test_mixed_cjk_and_english_words():
    # ref 我用iPhone拍照 -> lower -> tokens 我 用 iphone 拍 照 (N=5);
    # hyp 我用 I phone 拍照 -> 我 用 i phone 拍 照 (6 tokens).
    # Best: 我 C, 用 C, one substitution and one insertion, 拍 C, 照 C => C=4 S=1 D=0 I=1 (cost 2).
    # Which is which: at ref 我用iphone / hyp 我用 i phone, iphone->phone (e[2][3]+1 = 2) ties
    # inserting phone (e[3][3]+1 = 2); Kaldi's rule takes the insertion, so iphone->i is the S.
    assert tokenize(normalize("我用iPhone拍照")) == ["我", "用", "iphone", "拍", "照"]
    assert counts("我用iPhone拍照", "我用 I phone 拍照") == (5, 4, 1, 0, 1)
    assert ops(["我", "用", "iphone", "拍", "照"], ["我", "用", "i", "phone", "拍", "照"]) == "CCSICC"
    # whole English words: hello world vs hello word => N=2 C=1 S=1.
    assert counts("hello world", "hello word") == (2, 1, 1, 0, 0)
    # digits and letters stay one token next to CJK.
    assert tokenize("2024年gpt4很好") == ["2024", "年", "gpt4", "很", "好"]


def test_char_mode_splits_words():
    # --char: hello (5 chars) vs hallo: one substitution e->a. N=5 C=4 S=1.
    assert counts("hello", "hallo", char=True) == (5, 4, 1, 0, 0)
    # word mode: one token, substituted. N=1 S=1.
    assert counts("hello", "hallo") == (1, 0, 1, 0, 0)


def test_empty_hyp_and_empty_ref():
    # empty hypothesis: all 3 reference characters deleted, rate 100.
    assert counts("你好吗", "") == (3, 0, 0, 3, 0)
    # both empty: N=0 and no errors -> rate 0.0 (not a division).
    rep = score_texts({"u": ""}, {"u": ""})
    assert (rep.total.n, rep.total.errors, rep.total.rate) == (0, 0, 0.0)
    # empty ref, 1 inserted token: N=0 I=1 -> rate undefined (None), printed "inf".
    rep = score_texts({"u": ""}, {"u": "啊"})
    assert (rep.total.n, rep.total.i, rep.total.rate) == (0, 1, None)
    text = format_report(rep)
    assert "WER: inf % N=0 C=0 S=0 D=0 I=1" in text
    assert "%WER inf [ 1 / 0, 1 ins, 0 del, 0 sub ]" in text
    assert summary_dict(rep)["cer"] is None


# ---------------------------------------------------------------- missing / extra keys

REF = {"u1": "甚至出现交易几乎停滞的情况", "u2": "我爱ＡＢＣ，你呢？", "u3": "hello world <unk>", "u4": "缺失"}
HYP = {"u1": "甚至出现交易几乎停止的情况", "u2": "我爱abc你呢", "u3": "Hello  word", "u5": "extra"}


def test_missing_hyp_counts_as_deletions():
    rep = score_texts(REF, HYP)  # mode all
    # u1: 13 chars, 滞->止: N=13 C=12 S=1.  u2: 我 爱 abc 你 呢 all correct: N=5 C=5.
    # u3: hello world (<unk> removed) vs hello word: N=2 C=1 S=1.  u4 missing: N=2 D=2.
    # total N=22 C=18 S=2 D=2 I=0, E=4 -> 18.18 %.
    t = rep.total
    assert (t.n, t.c, t.s, t.d, t.i) == (22, 18, 2, 2, 0)
    assert rep.missing_hyp == ["u4"] and rep.extra_hyp == ["u5"]
    assert [u.key for u in rep.utts] == ["u1", "u2", "u3", "u4"]
    assert rep.utts[3].missing_hyp and rep.utts[3].counts.d == 2
    assert not rep.partial


def test_mode_present_and_strict():
    rep = score_texts(REF, HYP, mode="present")
    # u4 skipped: N=20 C=18 S=2 D=0; marked partial.
    assert (rep.total.n, rep.total.d, len(rep.utts), rep.partial) == (20, 0, 3, True)
    assert format_report(rep).count("[PARTIAL]") == 1
    with pytest.raises(InputError, match="u4"):
        score_texts(REF, HYP, mode="strict", hyp_name="hyp.txt")


# ---------------------------------------------------------------- normalisation


def test_fullwidth_punctuation_and_letters():
    # full-width ？，！ are folded and stripped; ＡＢＣ -> abc (fold + lowercase).
    assert normalize("你好？，！").split() == ["你好"]
    assert normalize("ＡＢＣ") == "abc"
    assert counts("我爱ＡＢＣ，你呢？", "我爱abc你呢") == (5, 5, 0, 0, 0)
    # CJK stays as written (NFKC would turn the Kangxi radical ⼀ into 一, and ﹐ into ,).
    assert fold_width("⼀丨") == "⼀丨"
    assert fold_width("ＡＢＣ　１２３") == "ABC 123"


def test_tags_removed_by_kind():
    assert tokenize(normalize("你<unk>好[noise]")) == ["你", "好"]
    # round brackets are off by default: (laugh) loses its punctuation, the word stays.
    assert tokenize(normalize("好(laugh)")) == ["好", "laugh"]
    opts = NormalizeOptions(remove_tags=("angle", "square", "round"))
    assert tokenize(normalize("好(laugh)", opts)) == ["好"]
    # with tag removal and punctuation stripping off, <unk> is one token.
    keep = NormalizeOptions(remove_tags=(), strip_punct=False)
    assert tokenize(normalize("你<unk>好", keep)) == ["你", "<unk>", "好"]


def test_spaces_and_apostrophes():
    # spaces between CJK characters do not matter: N=2 C=2.
    assert counts("你 好", "你好") == (2, 2, 0, 0, 0)
    # word-internal apostrophes survive; quotes around words do not.
    assert tokenize(normalize("Don't 'go'")) == ["don't", "go"]
    # --strip-spaces glues Latin words: "hello world" becomes one token.
    glue = NormalizeOptions(strip_spaces=True)
    assert tokenize(normalize("hello world", glue)) == ["helloworld"]
    # case folding can be switched off: Hello vs hello is then a substitution.
    assert counts("Hello", "hello", NormalizeOptions(lowercase=False)) == (1, 0, 1, 0, 0)


# ---------------------------------------------------------------- independent cross-check


def brute_distance(a: tuple, b: tuple) -> int:
    """Edit distance by memoised recursion over suffixes (a different formulation)."""

    @functools.cache
    def d(i: int, j: int) -> int:
        if i == len(a):
            return len(b) - j
        if j == len(b):
            return len(a) - i
        return min(d(i + 1, j + 1) + (a[i] != b[j]), d(i + 1, j) + 1, d(i, j + 1) + 1)

    return d(0, 0)


def test_random_against_brute_force():
    rng = random.Random(1234)
    for _ in range(400):
        ref = tuple(rng.choice("abc") for _ in range(rng.randint(0, 8)))
        hyp = tuple(rng.choice("abcd") for _ in range(rng.randint(0, 8)))
        pairs = align(ref, hyp)
        c = count_ops(pairs)
        assert c.errors == brute_distance(ref, hyp)
        assert c.c + c.s + c.d == len(ref) and c.c + c.s + c.i == len(hyp)
        assert tuple(p.ref for p in pairs if p.ref is not None) == ref
        assert tuple(p.hyp for p in pairs if p.hyp is not None) == hyp


def kaldi_edit_distance(ref: list[str], hyp: list[str]) -> tuple[int, int, int, int]:
    """A literal transliteration of Kaldi's ``LevenshteinEditDistance(ref, hyp, &ins, &del, &sub)``
    (kaldi-asr/kaldi src/util/edit-distance-inl.h, the overload compute-wer calls), written here
    independently of ``align``: the outer loop runs over the hypothesis, each cell keeps the
    counts of one predecessor. Returns ``(total_cost, ins, del, sub)``."""

    def stats(ins: int, dele: int, sub: int, cost: int) -> dict[str, int]:
        return {"ins_num": ins, "del_num": dele, "sub_num": sub, "total_cost": cost}

    e = [stats(0, i, 0, i) for i in range(len(ref) + 1)]
    cur_e = [dict(x) for x in e]
    for hyp_index in range(1, len(hyp) + 1):
        cur_e[0] = dict(e[0])
        cur_e[0]["ins_num"] += 1
        cur_e[0]["total_cost"] += 1
        for ref_index in range(1, len(ref) + 1):
            ins_err = e[ref_index]["total_cost"] + 1
            del_err = cur_e[ref_index - 1]["total_cost"] + 1
            sub_err = e[ref_index - 1]["total_cost"]
            if hyp[hyp_index - 1] != ref[ref_index - 1]:
                sub_err += 1
            if sub_err < ins_err and sub_err < del_err:
                cur_e[ref_index] = dict(e[ref_index - 1])
                if hyp[hyp_index - 1] != ref[ref_index - 1]:
                    cur_e[ref_index]["sub_num"] += 1
                cur_e[ref_index]["total_cost"] = sub_err
            elif del_err < ins_err:
                cur_e[ref_index] = dict(cur_e[ref_index - 1])
                cur_e[ref_index]["total_cost"] = del_err
                cur_e[ref_index]["del_num"] += 1
            else:
                cur_e[ref_index] = dict(e[ref_index])
                cur_e[ref_index]["total_cost"] = ins_err
                cur_e[ref_index]["ins_num"] += 1
        e = [dict(x) for x in cur_e]
    last = e[len(ref)]
    return last["total_cost"], last["ins_num"], last["del_num"], last["sub_num"]


def test_sdi_split_matches_kaldi_compute_wer():
    assert kaldi_edit_distance(["a", "b"], ["b", "c"]) == (2, 1, 1, 0)
    rng = random.Random(14)
    differ = 0
    for n in range(3000):
        alphabet = "ab" if n % 3 == 0 else "abcd"
        ref = [rng.choice(alphabet) for _ in range(rng.randint(0, 12))]
        hyp = [rng.choice(alphabet) for _ in range(rng.randint(0, 12))]
        c = count_ops(align(ref, hyp))
        assert (c.errors, c.i, c.d, c.s) == kaldi_edit_distance(ref, hyp), (ref, hyp)
        # the shown alignment is the one counted: it spells out both sequences
        pairs = align(ref, hyp)
        assert [p.ref for p in pairs if p.ref is not None] == ref
        assert [p.hyp for p in pairs if p.hyp is not None] == hyp
        differ += (c.s, c.d, c.i) != _align_text_split(ref, hyp)
    assert differ > 100  # the cases where Kaldi's two tie rules disagree are exercised


def _align_text_split(ref: list[str], hyp: list[str]) -> tuple[int, int, int]:
    """(S, D, I) under the other tie rule (Kaldi ``LevenshteinAlignment``: diagonal, then
    deletion, on ties) -- only to show the random pairs include tie cases."""
    m, n = len(ref), len(hyp)
    e = [[i + j if i == 0 or j == 0 else 0 for j in range(n + 1)] for i in range(m + 1)]
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            e[i][j] = min(e[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]), e[i - 1][j] + 1, e[i][j - 1] + 1)
    s = d = ins = 0
    i, j = m, n
    while i or j:
        diag = e[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]) if i and j else None
        if diag is not None and diag <= min(e[i - 1][j] + 1, e[i][j - 1] + 1):
            s += ref[i - 1] != hyp[j - 1]
            i, j = i - 1, j - 1
        elif i and (not j or e[i - 1][j] + 1 <= e[i][j - 1] + 1):
            d, i = d + 1, i - 1
        else:
            ins, j = ins + 1, j - 1
    return s, d, ins


# ---------------------------------------------------------------- files, CLI, format


def write(path: Path, entries: dict[str, str]) -> Path:
    path.write_text("".join(f"{k} {v}\n" for k, v in entries.items()), encoding="utf-8")
    return path


def cli(*args: str, tool: bool = False) -> subprocess.CompletedProcess:
    cmd = [str(REPO / "tools" / "compute-cer")] if tool else [sys.executable, "-m", "funasr_lite.bin.compute_cer"]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, cwd=REPO, timeout=60)


def test_report_file_format(tmp_path):
    ref, hyp = write(tmp_path / "ref", REF), write(tmp_path / "hyp", HYP)
    out, js = tmp_path / "cer.txt", tmp_path / "cer.json"
    proc = cli(str(ref), str(hyp), str(out), "--json", str(js))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "utt: u1"
    assert re.fullmatch(r"WER: 7\.69 % N=13 C=12 S=1 D=0 I=0", lines[1])
    assert lines[2] == "lab: 甚 至 出 现 交 易 几 乎 停 滞 的 情 况"
    assert lines[3] == "rec: 甚 至 出 现 交 易 几 乎 停 止 的 情 况"
    wer_lines = [ln for ln in lines if ln.startswith("WER: ")]
    assert len(wer_lines) == 4
    assert all(re.fullmatch(r"WER: \d+\.\d\d % N=\d+ C=\d+ S=\d+ D=\d+ I=\d+", ln) for ln in wer_lines)
    assert "Overall -> 18.18 % N=22 C=18 S=2 D=2 I=0" in lines
    assert "%WER 18.18 [ 4 / 22, 0 ins, 2 del, 2 sub ]" in lines
    assert "%SER 75.00 [ 3 / 4 ]" in lines
    assert any(
        re.match(r"Scored 4 sentences, 1 not present in hyp .*1 hypotheses without reference", ln) for ln in lines
    )
    summary = json.loads(js.read_text(encoding="utf-8"))
    assert summary["cer"] == pytest.approx(18.1818) and summary["n"] == 22
    assert (summary["missing_hyp"], summary["extra_hyp"], summary["mode"]) == (1, 1, "all")
    # atomic write leaves no temporary files behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cer.json", "cer.txt", "hyp", "ref"]


def test_alignment_columns_are_width_aligned():
    # ref ab 你 好 cd / hyp ab cd: C D D C; "cd" must start in the same display column.
    rep = score_texts({"u": "ab 你好 cd"}, {"u": "ab cd"})
    lab = next(ln for ln in format_report(rep).splitlines() if ln.startswith("lab:"))
    rec = next(ln for ln in format_report(rep).splitlines() if ln.startswith("rec:"))
    assert lab == "lab: ab 你 好 cd"
    assert display_width(lab.split("cd")[0]) == display_width(rec.split("cd")[0]) == 14
    # substitution of a 2-column CJK char by a 4-column word pads the CJK side.
    rep = score_texts({"u": "好的"}, {"u": "good的"})
    lab = next(ln for ln in format_report(rep).splitlines() if ln.startswith("lab:"))
    assert lab == "lab: 好   的"


def test_tool_wrapper_and_stdout(tmp_path):
    ref, hyp = write(tmp_path / "ref", {"a": "你好"}), write(tmp_path / "hyp", {"a": "你"})
    proc = cli(str(ref), str(hyp), "--no-per-utt", tool=True)
    assert proc.returncode == 0, proc.stderr
    assert "utt:" not in proc.stdout
    assert "%WER 50.00 [ 1 / 2, 0 ins, 1 del, 0 sub ]" in proc.stdout


def test_exit_code_1_on_bad_input(tmp_path):
    ref = write(tmp_path / "ref", {"a": "你好"})
    missing = tmp_path / "nope.txt"
    proc = cli(str(ref), str(missing))
    assert proc.returncode == 1 and str(missing) in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"a \xff\xfe\n")
    proc = cli(str(ref), str(bad))
    assert proc.returncode == 1 and f"{bad}:1" in proc.stderr and "UTF-8" in proc.stderr
    dup = tmp_path / "dup.txt"
    dup.write_text("a 你\nb 好\na 好\n", encoding="utf-8")
    proc = cli(str(dup), str(ref))
    assert proc.returncode == 1 and f"{dup}:3" in proc.stderr and "duplicate key 'a'" in proc.stderr
    hyp = write(tmp_path / "hyp", {"b": "你"})
    proc = cli(str(ref), str(hyp), "--mode", "strict")
    assert proc.returncode == 1 and "no hypothesis" in proc.stderr
    out = tmp_path / "no_such_dir" / "cer.txt"
    proc = cli(str(ref), str(ref), str(out))
    assert proc.returncode == 1 and "cannot write" in proc.stderr


def test_exit_code_2_on_usage():
    assert cli().returncode == 2
    assert cli("a", "b", "--mode", "bogus").returncode == 2
    assert cli("a", "b", "--remove-tags", "angle,foo").returncode == 2
    proc = cli("--help")
    assert proc.returncode == 0 and "default: angle,square" in proc.stdout


def test_read_kaldi_text_edge_cases(tmp_path):
    p = tmp_path / "t"
    p.write_bytes("\ufeffa 你 好\r\n\nb\n c  x y \n".encode("utf-8"))
    # BOM and CRLF tolerated, blank line skipped, key-only line = empty text, outer blanks stripped.
    assert read_kaldi_text(p) == {"a": "你 好", "b": "", "c": "x y"}
