"""funasr-lite: transcribe audio files, folders or a wav.scp from the shell (FunASR's ``funasr`` command).

    funasr-lite audio.wav -m ASR_DIR                       # prints the transcript
    funasr-lite a.wav b.flac recordings/ -m ASR_DIR --vad_model VAD_DIR --punc_model PUNC_DIR -f srt -o out
    funasr-lite data/test/wav.scp -m ASR_DIR -o exp/decode --nj 4

Inputs are audio files, folders (searched recursively for audio files), http(s) URLs, or one
wav.scp list. Files and folders become ``<output_dir>/wav.scp`` with the file names (without
suffix) as keys (a repeated name gets ``-2``, ``-3``, ...); a wav.scp is used as it is.
Everything else is ``python -m funasr_lite.bin.inference`` with the same options: the same
pipeline, outputs (``<output_dir>/1best_recog/``, ``<output_dir>/<format>/<key>.<ext>``),
``--nj``/``--cmd`` jobs, resumption, ``errors.txt`` and exit codes (1 when an item failed, 130
after Ctrl-C). Without ``-o`` nothing is kept and the results are printed: the transcript
(punctuated when there is a punctuation model; one recording as its text, several as Kaldi
``<key> <text>`` lines), or with ``-f FORMAT`` each recording's file in that format.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from pathlib import Path

from funasr_lite.bin import inference
from funasr_lite.bin.cli_inputs import Inputs, InputsError, collect
from funasr_lite.data.kaldi_lists import read_scp
from funasr_lite.fileio import write_text_atomic

PROG = "funasr-lite"
# bin/inference options that funasr-lite sets itself (from the inputs and -f/-o) instead of copying
_OWN = {"help", "wav_scp", "output_dir", "output_format"}
_ALIASES = {"model": ["-m"]}  # short names as FunASR's command


def get_parser() -> argparse.ArgumentParser:
    """The inputs, ``-f``/``-o``, and every other option of ``bin/inference`` (copied from its parser)."""
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio file(s), folder(s), http(s) URL(s), or a wav.scp")
    p.add_argument(
        "-o",
        "--output_dir",
        "--output-dir",
        default=None,
        help="folder for the results (as bin/inference's --output_dir); without it the text is printed",
    )
    p.add_argument(
        "-f",
        "--output_format",
        "--output-format",
        default=None,
        help="comma list of json,srt,vtt,txt,rttm, all or none (default: txt with -o); without -o one format, printed",
    )
    for action in inference.get_parser()._actions:
        if action.dest in _OWN:
            continue
        action = copy.copy(action)
        action.option_strings = [*_ALIASES.get(action.dest, []), *action.option_strings]
        p._add_action(action)
    return p


def to_inference_argv(args: argparse.Namespace, wav_scp: str, output_dir: str, output_format: str) -> list[str]:
    """``bin/inference`` arguments for ``args``: every copied option whose value differs from
    bin/inference's default, plus the list, output folder and formats."""
    argv = ["--wav_scp", wav_scp, "--output_dir", output_dir, "--output_format", output_format]
    for action in inference.get_parser()._actions:
        if action.dest in _OWN or action.dest == "config" or not action.option_strings:
            continue
        value = getattr(args, action.dest)
        if value == action.default:
            continue
        flag = action.option_strings[-1]
        if action.nargs == 0:  # store_true
            argv += [flag] if value else []
        else:
            argv += [flag, str(value)]
    return argv


def main(argv: list[str] | None = None) -> int:
    """Console entry point ``funasr-lite``; returns the exit status."""
    try:
        return _main(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        print(inference.INTERRUPTED, file=sys.stderr)
        return 130


def _main(argv: list[str]) -> int:
    parser = get_parser()
    try:
        inference.apply_config_defaults(parser, argv)
    except ValueError as e:
        parser.error(str(e))
    args = parser.parse_args(argv)
    try:
        inputs = collect(args.inputs)
    except InputsError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    if args.output_dir is not None:
        return _run(args, inputs, args.output_dir, args.output_format or "txt")
    fmt = args.output_format or "none"
    if fmt != "none" and ("," in fmt or " " in fmt.strip() or fmt == "all"):
        print(f"{PROG}: error: -f {fmt}: without -o give one format to print, or add -o DIR", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="funasr_lite_") as tmp:
        rc = _run(args, inputs, tmp, fmt)
        if rc in (0, 1):  # 1: some items failed (logged); print the others
            keys = list(read_scp(inputs.wav_scp or Path(tmp) / "wav.scp"))
            if fmt == "none":
                _print_text(Path(tmp) / "1best_recog", single=inputs.wav_scp is None and len(keys) == 1)
            else:
                _print_files(Path(tmp) / fmt.strip(), keys)
        return rc


def _run(args: argparse.Namespace, inputs: Inputs, out: str, output_format: str) -> int:
    """Write the wav.scp (for files and folders) and run bin/inference on it."""
    wav_scp = inputs.wav_scp
    if wav_scp is None:
        wav_scp = str(Path(out) / "wav.scp")
        Path(out).mkdir(parents=True, exist_ok=True)
        write_text_atomic(wav_scp, "".join(f"{key} {source}\n" for key, source in inputs.entries))
    return inference.main(to_inference_argv(args, wav_scp, out, output_format))


def _print_text(recog: Path, single: bool) -> None:
    """Print the transcripts: ``text_with_punc`` when punctuated, else ``text``."""
    path = recog / "text_with_punc" if (recog / "text_with_punc").is_file() else recog / "text"
    if not path.is_file():
        return
    for line in path.read_bytes().decode("utf-8").split("\n"):
        if line:
            print(line.partition(" ")[2] if single else line)


def _print_files(folder: Path, keys: list[str]) -> None:
    """Print each recording's file ``<folder>/<key>.<format>``, in list order."""
    for key in keys:
        path = folder / f"{key}.{folder.name}"
        if path.is_file():
            sys.stdout.write(path.read_bytes().decode("utf-8"))


if __name__ == "__main__":
    sys.exit(main())
