"""AISHELL-1 -> Kaldi data dirs ``<out_dir>/{train,dev,test}`` (as Kaldi's
``egs/aishell/s5/local/aishell_data_prep.sh`` and WeNet's).

    python ../local/aishell_data_prep.py --data_root /corpora/aishell --out_dir data

Recipe code shared by ``egs/aishell/paraformer`` and ``egs/aishell/paraformer-large-finetune``.
Layout under ``data_root`` (the folder that holds ``data_aishell``, or ``data_aishell`` itself)::

    data_aishell/wav/{train,dev,test}/S0002/BAC009S0002W0122.wav
    data_aishell/transcript/aishell_transcript_v0.8.txt     # <utt> 词 词 ...

Output per set: ``wav.scp``, ``text`` (words joined without spaces: character text, as WeNet
does), ``utt2spk`` (speaker = the wav's parent folder), ``spk2utt``, all sorted by key
(``LC_ALL=C`` order). Utterances without a (non-empty) transcript are skipped and counted.
Exit 1 with a one-line error if the layout is wrong.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from funasr_lite.data.kaldi_lists import PathLike, read_text, write_scp
from funasr_lite.errors import InputError

SETS = ("train", "dev", "test")
TRANSCRIPT = Path("transcript") / "aishell_transcript_v0.8.txt"


@dataclass
class SetSummary:
    """What ``prepare_set`` wrote for one set."""

    name: str
    utts: int
    speakers: int
    no_transcript: int


def find_corpus(data_root: PathLike) -> Path:
    """The ``data_aishell`` folder under (or at) ``data_root``; ``InputError`` if the layout is wrong."""
    root = Path(data_root)
    for cand in (root / "data_aishell", root):
        if (cand / "wav").is_dir() and (cand / TRANSCRIPT).is_file():
            return cand
    raise InputError(root, f"not an AISHELL-1 folder: expected data_aishell/wav/ and data_aishell/{TRANSCRIPT}")


def read_transcript(path: PathLike) -> dict[str, str]:
    """``utt -> character text``: the words of each line joined without spaces."""
    return {utt: "".join(words.split()) for utt, words in read_text(path).items()}


def collect_wavs(set_dir: Path) -> dict[str, tuple[str, Path]]:
    """``utt -> (speaker, wav path)`` for ``set_dir/S*/<utt>.wav``; refuses duplicates and foreign ids."""
    found: dict[str, tuple[str, Path]] = {}
    for wav in sorted(set_dir.glob("*/*.wav")):
        spk, utt = wav.parent.name, wav.stem
        if spk not in utt:
            raise InputError(wav, f"utterance id {utt!r} does not contain its speaker folder name {spk!r}")
        if utt in found:
            raise InputError(wav, f"duplicate utterance id {utt!r} (also {found[utt][1]})")
        found[utt] = (spk, wav)
    return found


def prepare_set(corpus: Path, name: str, transcript: dict[str, str], out_dir: PathLike) -> SetSummary:
    """Write ``out_dir/{wav.scp,text,utt2spk,spk2utt}`` for one set (``train``, ``dev`` or ``test``)."""
    set_dir = corpus / "wav" / name
    if not set_dir.is_dir():
        raise InputError(set_dir, "missing set folder (expected wav/{train,dev,test}/S*/*.wav)")
    wavs = collect_wavs(set_dir)
    if not wavs:
        raise InputError(set_dir, "no S*/*.wav files")
    kept = sorted(u for u in wavs if transcript.get(u))
    if not kept:
        raise InputError(set_dir, f"none of {len(wavs)} wav files has a transcript line")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_scp(out / "wav.scp", [(u, str(wavs[u][1].resolve())) for u in kept])
    write_scp(out / "text", [(u, transcript[u]) for u in kept])
    write_scp(out / "utt2spk", [(u, wavs[u][0]) for u in kept])
    spk2utt: dict[str, list[str]] = {}
    for u in kept:
        spk2utt.setdefault(wavs[u][0], []).append(u)
    write_scp(out / "spk2utt", [(s, " ".join(spk2utt[s])) for s in sorted(spk2utt)])
    return SetSummary(name, len(kept), len(spk2utt), len(wavs) - len(kept))


def prepare_aishell(data_root: PathLike, out_dir: PathLike, sets: tuple[str, ...] = SETS) -> list[SetSummary]:
    """Prepare every set of ``sets`` into ``out_dir/<set>``."""
    corpus = find_corpus(data_root)
    transcript = read_transcript(corpus / TRANSCRIPT)
    return [prepare_set(corpus, name, transcript, Path(out_dir) / name) for name in sets]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_root", required=True, help="folder holding data_aishell/ (or data_aishell itself)")
    p.add_argument("--out_dir", default="data")
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    args = p.parse_args(argv)
    try:
        summaries = prepare_aishell(args.data_root, args.out_dir, tuple(args.sets))
    except InputError as e:
        print(f"aishell_data_prep: error: {e}", file=sys.stderr)
        return 1
    for s in summaries:
        print(
            f"{args.out_dir}/{s.name}: {s.utts} utterances, {s.speakers} speakers, "
            f"{s.no_transcript} wav files without transcript skipped"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
