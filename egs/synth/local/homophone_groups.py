"""The homophone floor: the least character error rate any recogniser can reach on the synthetic corpus.

The corpus of :mod:`espeak_corpus` draws each word of a sentence independently from a
fixed distribution (jieba words, weights sqrt(count)) and espeak-ng speaks it. Words that
espeak-ng pronounces identically (是/事/市, 他/她/它) give identical audio, and since the words
are independent the rest of the sentence says nothing about which one was drawn. So a word with
pronunciation key ``k`` is, for any recogniser, a draw from the words of key ``k`` in proportion
to their weights, and the best it can do is the decision that minimises the expected character
errors of that group. :func:`homophone_floor` sums these minimal losses over all groups and
divides by the expected number of reference characters.

Why this is a lower bound on the corpus CER of any recogniser: the computation gives the
decoder extra information a real one does not have: the word boundaries, the exact
pronunciation key of each word (no acoustic confusion at all) and the true word distribution.
Extra information can only lower the Bayes error, so a recogniser that hears only the audio
cannot do better on average than this floor.

Caveats (all small, and listed so that a reader can weigh them):

* espeak-ng may read a word differently inside a sentence than alone (polyphonic characters,
  tone sandhi across word boundaries), so the keys are those of isolated words;
* ``make_sentences`` cuts the last word at ``max_chars`` and drops repeated sentences, so the
  word distribution of real sentences differs slightly from the unigram one;
* errors are counted word by word; a sentence-level alignment can cross word boundaries and
  occasionally count a little less;
* per group the decision is taken from a finite set (the per-position majority string when all
  words have the same length, which is the exact minimum of expected substitutions; otherwise
  the best single word of the group under Levenshtein distance), which is the optimum in
  practice but not provably over all strings.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from funasr_lite.scoring.align import edit_distance

ESPEAK_CHUNK = 5000  # words per espeak-ng call
_LANG_MARK = re.compile(r"\([a-z]{2,3}(?:-[a-z0-9]+)*\)")  # espeak-ng language switches: (en), (cmn)
_SPACE = re.compile(r"\s+")


def normalise_key(line: str) -> str:
    """A pronunciation key from one line of ``espeak-ng -x`` output: language switch markers such
    as ``(en)``/``(cmn)`` and all whitespace removed."""
    return _SPACE.sub("", _LANG_MARK.sub("", line))


def espeak_keys(words: list[str], voice: str = "cmn", chunk: int = ESPEAK_CHUNK, timeout: float = 600) -> list[str]:
    """Normalised espeak-ng pronunciation keys of ``words`` (one key per word, same order).

    Each word is spoken alone as a sentence (``"<word>。"``, one per line, ``espeak-ng -q -x``),
    ``chunk`` words per call. ``RuntimeError`` if espeak-ng is missing, fails, or does not print
    exactly one line per word; ``ValueError`` for an empty word or one with a line break.
    """
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    for i, w in enumerate(words):
        if not w.strip() or any(c in w for c in "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"):
            raise ValueError(f"word {i} ({w!r}) is empty or spans lines")
    keys: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "words.txt"
        for start in range(0, len(words), chunk):
            part = words[start : start + chunk]
            where = f"espeak-ng on words {start}..{start + len(part) - 1}"
            path.write_text("".join(w + "。\n" for w in part), encoding="utf-8")
            try:
                proc = subprocess.run(
                    [exe, "-v", voice, "-q", "-x", "-f", str(path)], capture_output=True, timeout=timeout, check=False
                )
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"{where}: timed out after {timeout:g} s") from None
            if proc.returncode != 0:
                err = " ".join(proc.stderr.decode(errors="replace").split())
                raise RuntimeError(f"{where}: exit status {proc.returncode}: {err or 'no message'}")
            lines = [ln for ln in proc.stdout.decode("utf-8", errors="replace").split("\n") if ln.strip()]
            if len(lines) != len(part):
                raise RuntimeError(
                    f"{where}: {len(lines)} output lines for {len(part)} words "
                    f"(voice {voice!r}); cannot pair pronunciations with words"
                )
            keys.extend(normalise_key(ln) for ln in lines)
    return keys


@dataclass(frozen=True)
class GroupLoss:
    """One pronunciation group: its words and weights, the best decision and its expected loss.

    ``loss`` is in weighted character errors (same unit as ``weight * len(word)``); ``loss_pct``
    is its share of all reference characters, in percent (its contribution to the floor).
    """

    key: str
    words: list[str]
    weights: list[float]
    decision: str
    loss: float
    loss_pct: float


@dataclass(frozen=True)
class FloorReport:
    """Result of :func:`homophone_floor`. Rates are percent of the expected reference characters.

    ``floor_1char_pct`` / ``floor_multi_pct`` are the floors of the corpora drawn from only the
    1-character / only the >=2-character words (each regrouped on its own; 0 for an empty
    subset); ``share_1char_pct`` is the share of reference characters from 1-character words.
    ``n_ambiguous`` counts groups of two or more distinct words, ``n_mixed_length`` those whose
    words differ in length. ``top_groups`` are the groups that lose the most, largest first.
    """

    floor_pct: float
    floor_1char_pct: float
    floor_multi_pct: float
    share_1char_pct: float
    n_words: int
    n_groups: int
    n_ambiguous: int
    n_mixed_length: int
    top_groups: list[GroupLoss] = field(default_factory=list)

    def to_dict(self) -> dict:
        """A JSON-ready dict (floats unrounded)."""
        return asdict(self)


def group_loss(words: list[str], weights: list[float]) -> tuple[str, float]:
    """Best decision for one group of homophones and its expected loss in weighted character errors.

    Same-length words: the per-position weighted-majority string (exact minimum of expected
    substitutions; ties go to the character seen first). Otherwise: the group word ``c``
    minimising ``sum_w weight(w) * edit_distance(w, c)`` (ties: first word).
    """
    if len(words) != len(weights) or not words:
        raise ValueError("need one weight per word and at least one word")
    total = sum(weights)
    if len({len(w) for w in words}) == 1:
        decision, loss = [], 0.0
        for pos in range(len(words[0])):
            votes: dict[str, float] = {}
            for w, x in zip(words, weights):
                votes[w[pos]] = votes.get(w[pos], 0.0) + x
            best = max(votes, key=votes.__getitem__)  # first maximum in insertion order
            decision.append(best)
            loss += total - votes[best]
        return "".join(decision), loss
    best_word, best_loss = words[0], float("inf")
    for c in dict.fromkeys(words):
        loss = sum(x * edit_distance(w, c) for w, x in zip(words, weights) if w != c)
        if loss < best_loss:
            best_word, best_loss = c, loss
    return best_word, best_loss


def _floor(
    words: list[str], weights: list[float], keys: list[str]
) -> tuple[float, float, list[GroupLoss], int, int, int]:
    """(total loss, total reference characters, groups, n_groups, n_ambiguous, n_mixed_length)."""
    groups: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    chars = sum(x * len(w) for w, x in zip(words, weights))
    total_loss = 0.0
    losses: list[GroupLoss] = []
    n_ambiguous = n_mixed = 0
    for k, idx in groups.items():
        gw = [words[i] for i in idx]
        gx = [weights[i] for i in idx]
        if len(set(gw)) < 2:
            continue
        n_ambiguous += 1
        n_mixed += len({len(w) for w in gw}) > 1
        decision, loss = group_loss(gw, gx)
        total_loss += loss
        order = sorted(range(len(gw)), key=lambda j: -gx[j])
        losses.append(
            GroupLoss(
                k,
                [gw[j] for j in order],
                [gx[j] for j in order],
                decision,
                loss,
                100.0 * loss / chars if chars else 0.0,
            )
        )
    return total_loss, chars, losses, len(groups), n_ambiguous, n_mixed


def homophone_floor(words: list[str], weights: list[float], keys: list[str], top: int = 10) -> FloorReport:
    """The homophone floor of a corpus of independent words (see the module docstring).

    Word ``w`` is drawn with probability proportional to its weight and contributes ``len(w)``
    reference characters; words with equal ``keys`` cannot be told apart. The floor is the sum
    over key groups of :func:`group_loss` divided by the expected reference characters. Pure
    (no espeak-ng), so it works with any keys. ``ValueError`` on mismatched lengths, no words,
    empty words, or weights that are negative, non-finite or all zero.
    """
    if not (len(words) == len(weights) == len(keys)):
        raise ValueError(f"{len(words)} words, {len(weights)} weights and {len(keys)} keys: need one of each per word")
    if not words:
        raise ValueError("no words")
    for i, (w, x) in enumerate(zip(words, weights)):
        if not w:
            raise ValueError(f"word {i} is empty")
        if not (x >= 0 and x != float("inf")):  # also rejects NaN
            raise ValueError(f"word {i} ({w}): weight {x!r} must be finite and >= 0")
    if sum(weights) <= 0:
        raise ValueError("all weights are zero")
    if top < 0:
        raise ValueError(f"top must be >= 0, got {top}")

    def subset_floor(keep: list[int]) -> float:
        if not keep:
            return 0.0
        loss, chars, *_ = _floor([words[i] for i in keep], [weights[i] for i in keep], [keys[i] for i in keep])
        return 100.0 * loss / chars if chars else 0.0

    loss, chars, groups, n_groups, n_ambiguous, n_mixed = _floor(words, weights, keys)
    one = [i for i, w in enumerate(words) if len(w) == 1]
    multi = [i for i, w in enumerate(words) if len(w) > 1]
    groups.sort(key=lambda g: (-g.loss, g.key))
    return FloorReport(
        floor_pct=100.0 * loss / chars,
        floor_1char_pct=subset_floor(one),
        floor_multi_pct=subset_floor(multi),
        share_1char_pct=100.0 * sum(weights[i] for i in one) / chars,
        n_words=len(words),
        n_groups=n_groups,
        n_ambiguous=n_ambiguous,
        n_mixed_length=n_mixed,
        top_groups=groups[:top],
    )


_TONE = re.compile(r"\d")


def substitution_pairs(detail: str) -> tuple[list[tuple[str, str]], int]:
    """(reference, recognised) character pairs of the substitutions in a ``compute_cer`` detail
    text (``utt:``/``WER:``/``lab:``/``rec:`` blocks), and the number of utterances used.

    Only utterances without insertions or deletions are read (``I=0 D=0``): their ``lab:`` and
    ``rec:`` columns pair up one to one.
    """
    pairs: list[tuple[str, str]] = []
    used, clean, lab = 0, False, None
    for line in detail.splitlines():
        if line.startswith("WER:"):
            clean = " I=0" in line and " D=0" in line
        elif line.startswith("lab:"):
            lab = line.split()[1:]
        elif line.startswith("rec:") and clean and lab is not None:
            rec = line.split()[1:]
            if len(rec) == len(lab):
                used += 1
                pairs += [(a, b) for a, b in zip(lab, rec) if a != b]
            lab = None
    return pairs, used


def homophone_share(pairs: list[tuple[str, str]], keys: dict[str, str]) -> tuple[float, float]:
    """Percent of ``pairs`` whose two characters have the same pronunciation key, and the same key
    once tone digits are removed (same syllable, any tone). ``keys``: character -> key."""
    if not pairs:
        return 0.0, 0.0
    same = sum(keys[a] == keys[b] for a, b in pairs)
    same_syllable = sum(_TONE.sub("", keys[a]) == _TONE.sub("", keys[b]) for a, b in pairs)
    return 100.0 * same / len(pairs), 100.0 * same_syllable / len(pairs)
