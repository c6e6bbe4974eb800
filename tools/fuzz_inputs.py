#!/usr/bin/env python3
"""Fuzz the audio loader and the Kaldi list parsers with malformed input (nightly-style).

    python tools/fuzz_inputs.py --cases 10000 --seed 0 [--kinds bytes,path,lists] [--case_timeout 10]
        [--mem_mb 2048] [--no_ffmpeg] [--save_dir DIR] [--case N]

Each case is generated from ``(seed, case number)`` alone, so ``--case N`` replays one. Kinds:

* ``bytes``: ``load_audio(<bytes>)`` on valid WAV/FLAC/AIFF/AU/CAF/W64/RF64/OGG files (random
  subtype, channels, rate, length) with mutated header fields (WAV ``fmt``/``data``/RIFF sizes:
  0, 1, 2^31-1, 2^32-1, random: huge claimed lengths), flipped bytes, truncation, appended or
  spliced junk, random bytes after a container signature or an MPEG frame sync, and plain
  random bytes;
* ``path``: the same bytes written to a file named ``.wav``/``.flac``/``.mp3``/``.ogg``/``.opus``/
  ``.m4a``/``.pcm``/no suffix (odd names included) and loaded by path (soundfile, ffmpeg
  fallback when installed); plus paths with NUL bytes, directories, ``data:``/``file://``/
  ``ftp://``/``gopher://`` URLs and refused ``cmd |`` pipes;
* ``lists``: random ``wav.scp``/``text``/``segments`` contents (random unicode, CRLF and lone CR,
  tabs, U+3000/VT/FF/NEL/LS separators, empty and blank lines, a BOM, duplicate keys, lines of
  100,000 characters, NUL bytes, invalid UTF-8) read with ``read_scp``, ``read_text``,
  ``read_segments`` and decoded item by item with ``load_wav_scp`` (values point at small real
  clips, missing files, refused URL schemes, a closed local port and pipes, which stay refused:
  nothing is ever run by the shell).

Property: every call returns a valid result (a finite, non-empty float32 16 kHz waveform of at
most ``AMPLIFICATION`` samples per input byte, so no claimed rate or length is believed; a
``str -> str`` table whose keys have no space, tab or newline; segments with finite times, start
>= 0, end > start or -1; ``load_wav_scp`` yields ``AudioResult`` or ``InputError`` per item) or
raises ``funasr_lite.errors.InputError`` with a one-line message. Anything else fails: another
exception (``MemoryError`` included: the worker runs under an address-space limit of
``--mem_mb``), a case that takes longer than ``--case_timeout`` seconds (a watchdog in the parent
kills the worker, so a hang in C code is caught too), or a worker crash (segfault).

Prints counts per kind and outcome and the wall time; failing cases are listed with their replay
command (and their input saved under ``--save_dir`` when given). Exit status 1 if any case failed.
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import os
import random
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

KINDS = ("bytes", "path", "lists")
MAX_LEN = 64 * 1024  # generated files stay small: the limits under test are claimed sizes, not real ones
AMPLIFICATION = 256  # most output samples per input byte (x16 is resampling 1 kHz u8, ADPCM/GSM add x4-x5)
_SIGNATURES = [
    b"RIFF",
    b"RIFX",
    b"RF64",
    b"BW64",
    b"fLaC",
    b"OggS",
    b"ID3",
    b"FORM",
    b".snd",
    b"caff",
    b"\0\0\0\x18ftyp",
    b"\x1a\x45\xdf\xa3",
    b"\xff\xfb",
    b"\xff\xf3",
    b"\xff\xe2",
]
_FIELD_VALUES = [0, 1, 2, 3, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFF0, 44, 8000, 16000, 48000]


# ---------------------------------------------------------------------------------- generators


def _np_rng(r: random.Random):  # noqa: ANN202
    import numpy as np  # noqa: PLC0415

    return np.random.default_rng(r.getrandbits(32))


def valid_audio(r: random.Random) -> tuple[bytes, str]:
    """A small valid audio file (bytes, format name) written by soundfile."""
    import soundfile as sf  # noqa: PLC0415

    fmt = r.choice(["WAV", "WAV", "WAV", "FLAC", "AIFF", "AU", "CAF", "W64", "RF64", "OGG", "WAVEX"])
    subtypes = {
        "WAV": [
            "PCM_16",
            "PCM_24",
            "PCM_32",
            "PCM_U8",
            "FLOAT",
            "DOUBLE",
            "ULAW",
            "ALAW",
            "IMA_ADPCM",
            "MS_ADPCM",
            "GSM610",
        ],
        "FLAC": ["PCM_16", "PCM_24", "PCM_S8"],
        "OGG": ["VORBIS"],
    }
    subtype = r.choice(subtypes.get(fmt, ["PCM_16", "FLOAT"]))
    channels = r.choice([1, 1, 1, 2, 2, 3, 6])
    rate = r.choice([16000, 16000, 8000, 22050, 44100, 48000, 11025, 96000, 4000])
    frames = r.choice([0, 1, 7, 160, 800, 1600, r.randint(0, 6000)])
    data = (_np_rng(r).uniform(-1, 1, (frames, channels)) * r.choice([1.0, 0.5, 0.01])).astype("float32")
    buf = io.BytesIO()
    try:
        sf.write(buf, data, rate, format=fmt, subtype=subtype)
    except Exception:  # noqa: BLE001 - an invalid combination (GSM610 stereo ...): plain 16-bit WAV
        buf = io.BytesIO()
        sf.write(buf, data, rate, format="WAV", subtype="PCM_16")
        fmt = "WAV"
    return buf.getvalue(), fmt


def _put(data: bytearray, offset: int, size: int, value: int) -> None:
    if 0 <= offset and offset + size <= len(data):
        data[offset : offset + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


def mutate_header(data: bytes, r: random.Random) -> bytes:
    """Overwrite WAV/RF64 header fields (sizes, channels, rate, block align, bits) with odd values."""
    b = bytearray(data)
    fields = [(4, 4)]  # RIFF size
    fmt = b.find(b"fmt ")
    if fmt >= 0:
        fields += [
            (fmt + 4, 4),
            (fmt + 8, 2),
            (fmt + 10, 2),
            (fmt + 12, 4),
            (fmt + 16, 4),
            (fmt + 20, 2),
            (fmt + 22, 2),
        ]
    chunk = b.find(b"data")
    if chunk >= 0:
        fields += [(chunk + 4, 4)] * 3  # the data size is the most interesting one
    ds64 = b.find(b"ds64")
    if ds64 >= 0:
        fields += [(ds64 + 8, 8), (ds64 + 16, 8), (ds64 + 24, 8)]
    for _ in range(r.randint(1, 3)):
        offset, size = r.choice(fields)
        value = r.choice(_FIELD_VALUES + [r.getrandbits(8 * size), 1 << (8 * size - 1)])
        _put(b, offset, size, value)
    return bytes(b)


def mutate(data: bytes, r: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(r.randint(1, 3)):
        op = r.choice(["flip", "flip", "truncate", "append", "splice", "zero", "header", "header"])
        if op == "flip" and b:
            for _ in range(r.randint(1, 16)):
                b[r.randrange(len(b))] = r.randrange(256)
        elif op == "truncate":
            b = b[: r.randint(0, len(b))]
        elif op == "append":
            b += r.randbytes(r.randint(1, 2000))
        elif op == "splice" and b:
            at = r.randrange(len(b))
            b[at:at] = r.randbytes(r.randint(1, 200))
        elif op == "zero" and b:
            at = r.randrange(len(b))
            b[at : at + r.randint(1, 64)] = bytes(min(64, len(b) - at))
        elif op == "header":
            b = bytearray(mutate_header(bytes(b), r))
    return bytes(b[:MAX_LEN])


def audio_bytes(r: random.Random) -> tuple[bytes, str]:
    """(bytes, how they were made) for one loader case."""
    how = r.choice(
        ["valid", "mutated", "mutated", "mutated", "header", "header", "truncated", "signature", "random", "empty-ish"]
    )
    if how in ("valid", "mutated", "header", "truncated"):
        data, fmt = valid_audio(r)
        if how == "mutated":
            data = mutate(data, r)
        elif how == "header":
            data = mutate_header(data, r)
        elif how == "truncated":
            data = data[: r.randint(0, len(data))]
        return data[:MAX_LEN], f"{how} {fmt}"
    if how == "signature":
        return (r.choice(_SIGNATURES) + r.randbytes(r.randint(0, 3000)))[:MAX_LEN], how
    if how == "random":
        return r.randbytes(r.randint(1, 5000)), how
    return r.randbytes(r.randint(0, 4)), how


_NAMES = ["a", "x y", "ü 音频", "-dash", "semi;colon", "quote'\"", "$(echo x)", "back`tick`", "很" * 60, "tab\tname"]
_SUFFIXES = [".wav", ".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".pcm", ".aiff", ".au", "", ".WAV", ".txt"]


def path_case(r: random.Random, tmp: Path) -> tuple[object, str]:
    """A source for ``load_audio``: a file with random contents and name, or an odd path string."""
    how = r.random()
    if how < 0.85:
        data, made = audio_bytes(r)
        path = tmp / (r.choice(_NAMES) + r.choice(_SUFFIXES))
        path.write_bytes(data)
        return (str(path) if r.random() < 0.7 else path), f"file {path.name!r}: {made}"
    odd = r.choice(
        [
            f"{tmp}/nul\0byte.wav",
            str(tmp),
            f"{tmp}/missing.wav",
            "",
            " ",
            "data:audio/wav;base64,UklGRg==",
            "file:///etc/passwd",
            "FILE://etc/hostname",
            "ftp://127.0.0.1/a.wav",
            "gopher://127.0.0.1:70/a",
            "http://127.0.0.1:9/a.wav",
            "javascript:alert(1)",
            f"cat {tmp}/x.wav |",
            "rm -rf / |",
            "|",
            " | ",
            "/dev/null",
            "/dev/zero",
            "/proc/self/status",
            "a" * 5000,
            "\udcff.wav",
            "http://[::1",
            "https://",
            "http://127.0.0.1:abc/a.wav",
            "http://127.0.0.1:9/a b.wav",
            "http://127.0.0.1:9/%00.wav",
            "HTTP://127.0.0.1:9/",
        ]
    )
    return odd, f"odd path {odd[:40]!r}"


_KEY_CHARS = "abcXYZ019_-.:/音频测试éß\u3000\x0b\x0c\x85\u2028\u00a0\r\"'$`|;\\"


def _token(r: random.Random, chars: str = _KEY_CHARS, longest: int = 12) -> str:
    pick = r.random()
    if pick < 0.5:
        return "".join(r.choice("abcdefghij0123456789_-") for _ in range(r.randint(1, longest)))
    if pick < 0.85:
        return "".join(r.choice(chars) for _ in range(r.randint(0, longest)))
    if pick < 0.95:
        return "".join(
            chr(r.choice([r.randint(0x20, 0x7E), r.randint(0xA0, 0xD7FF), r.randint(0xE000, 0x10FFFF)]))
            for _ in range(r.randint(1, longest))
        )
    return r.choice(["x" * 100_000, "\0", "key\0nul", "..", ".", "../../etc/x", "-"])


def _time(r: random.Random) -> str:
    return r.choice(
        [
            "0",
            "0.0",
            "0.25",
            "0.5",
            "1",
            "1.5",
            "2.0",
            "-1",
            "-0.5",
            "nan",
            "inf",
            "-inf",
            "1e309",
            "1_0",
            "0x10",
            "",
            "abc",
            "1.",
            ".5",
            "1e-3",
            "9" * 400,
            "１",
            "0.1\x00",
            f"{r.uniform(-2, 5):.3f}",
        ]
    )


def list_contents(r: random.Random, kind: str, keys: list[str], values: list[str], noise: float) -> bytes:
    """A list file's bytes; ``noise`` (0..1) is the chance of each oddity (0: a clean list)."""
    lines: list[str] = []
    seps = [" ", " ", "\t", "  ", " \t ", "\u3000", "\x0b", "\x0c", "\x85", ""]
    recordings = list(keys)
    for _ in range(r.randint(0, 12)):
        if r.random() < noise * 0.3:
            lines.append(r.choice(["", " ", "\t", "\r", " \t\r"]))
            continue
        if keys and r.random() < noise * 0.3:
            key = r.choice(keys)  # a duplicate
        elif r.random() < noise:
            key = _token(r)
        else:
            key = f"{kind[:3]}{len(keys):03d}"
        keys.append(key)
        sep = r.choice(seps) if r.random() < noise else r.choice([" ", "\t"])
        if kind == "segments":
            reco = r.choice(recordings) if recordings and r.random() > noise * 0.5 else _token(r)
            start = r.choice(["0", "0.1", "0.25", "0.5"]) if r.random() > noise else _time(r)
            end = r.choice(["0.5", "0.8", "1.0", "-1", "9"]) if r.random() > noise else _time(r)
            fields = [reco, start, end]
            if r.random() < noise * 0.2:
                fields.append(r.choice(["1", "A", ""]))
            if r.random() < noise * 0.2:
                fields.pop()
            value = sep.join(fields)
        elif kind == "text":
            value = _token(r, _KEY_CHARS + "今天天气很好 ", 40) if r.random() > noise * 0.2 else ""
        else:
            value = r.choice(values) if r.random() > noise * 0.5 else _token(r, longest=30)
        lines.append(f"{key}{sep}{value}" if r.random() > noise * 0.1 else key)
    ends = r.choice(["\n", "\n", "\r\n", "\r", "\n\n"]) if r.random() < noise else "\n"
    text = ends.join(lines) + (ends if r.random() > noise * 0.3 else "")
    if r.random() < noise * 0.2:
        text = "\ufeff" + text
    data = text.encode("utf-8", "surrogatepass")
    if r.random() < noise * 0.2 and data:  # invalid UTF-8 or a NUL somewhere
        at = r.randrange(len(data) + 1)
        data = data[:at] + r.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\0", b"\x80\x80"]) + data[at:]
    return data


# ------------------------------------------------------------------------------- properties


class CaseTimeout(Exception):
    """Raised by SIGALRM inside the worker (a soft limit before the parent's watchdog)."""


def _check_error(err: BaseException) -> str | None:
    from funasr_lite.errors import InputError  # noqa: PLC0415

    if not isinstance(err, InputError):
        return f"{type(err).__name__} instead of InputError: {str(err)[:200]}"
    if "\n" in str(err):
        return f"InputError message is not one line: {str(err)[:200]!r}"
    return None


def _check_audio(result: object, input_bytes: int = MAX_LEN) -> str | None:
    import numpy as np  # noqa: PLC0415

    from funasr_lite.frontend.audio import AudioResult  # noqa: PLC0415

    if not isinstance(result, AudioResult):
        return f"returned {type(result).__name__}, not AudioResult"
    w = result.waveform
    if not (isinstance(w, np.ndarray) and w.dtype == np.float32 and w.ndim == 1 and w.size > 0):
        return f"bad waveform {getattr(w, 'dtype', None)} {getattr(w, 'shape', None)}"
    if w.size > AMPLIFICATION * max(input_bytes, 1) + 16000:  # memory must stay proportional to the input
        return f"{w.size} samples out of {input_bytes} input bytes (a claimed rate or length was believed)"
    if not np.all(np.isfinite(w)):
        return "waveform has NaN/Inf"
    if not (isinstance(result.sample_rate_orig, int) and result.sample_rate_orig > 0):
        return f"bad sample_rate_orig {result.sample_rate_orig!r}"
    return None


def _check_table(table: object, need_value: bool) -> str | None:
    if not isinstance(table, dict):
        return f"returned {type(table).__name__}"
    for k, v in table.items():
        if not isinstance(k, str) or not k or any(c in k for c in " \t\n"):
            return f"bad key {k!r}"
        if not isinstance(v, str) or "\n" in v or v != v.strip(" \t\r") or (need_value and not v):
            return f"bad value {v!r} for key {k!r}"
    return None


def _check_segments(table: object) -> str | None:
    import math  # noqa: PLC0415

    if not isinstance(table, dict):
        return f"returned {type(table).__name__}"
    for k, seg in table.items():
        start, end = seg.start_s, seg.end_s
        if not (math.isfinite(start) and math.isfinite(end) and start >= 0 and (end == -1 or end > start)):
            return f"bad segment {k!r}: {seg}"
    return None


def _call(fn, check) -> tuple[str, str]:  # noqa: ANN001
    """Run ``fn``; ('ok'|'input_error'|'FAIL', detail)."""
    try:
        result = fn()
    except CaseTimeout:
        raise
    except BaseException as err:  # noqa: BLE001 - classifying every exception is the point
        if isinstance(err, KeyboardInterrupt):
            raise
        problem = _check_error(err)
        if problem:
            return "FAIL", problem + " | " + "".join(traceback.format_exception(err)[-3:]).replace("\n", " ")[:600]
        return "input_error", ""
    problem = check(result)
    return ("FAIL", problem) if problem else ("ok", "")


def run_case(seed: int, n: int, kinds: list[str], tmp: Path, save_dir: Path | None) -> tuple[str, str, str]:
    """Generate and run case ``n``: (kind, outcome, detail). Outcome: ok, input_error or FAIL."""
    from funasr_lite.data.kaldi_lists import read_scp, read_segments, read_text  # noqa: PLC0415
    from funasr_lite.frontend.audio import load_audio, load_wav_scp  # noqa: PLC0415

    r = random.Random(f"{seed}:{n}")
    kind = kinds[n % len(kinds)]
    case_dir = tmp / f"case{n}"
    case_dir.mkdir()
    try:
        if kind == "bytes":
            data, made = audio_bytes(r)
            fs = r.choice([None, None, 8000, 16000, 44100])
            outcome, detail = _call(
                lambda: load_audio(data, fs=fs, key="fuzz", allow_pipes=False), lambda res: _check_audio(res, len(data))
            )
            if outcome == "FAIL" and save_dir:
                (save_dir / f"case{n}.bin").write_bytes(data)
            return kind, outcome, f"{made}: {detail}" if detail else made
        if kind == "path":
            source, made = path_case(r, case_dir)
            outcome, detail = _call(
                lambda: load_audio(source, key=r.choice([None, "k"]), allow_pipes=False, url_timeout_s=2.0),
                _check_audio,
            )
            return kind, outcome, f"{made}: {detail}" if detail else made
        # lists: wav.scp values point at two real clips, missing files, refused schemes and pipes
        good = case_dir / "good.wav"
        good.write_bytes(valid_audio(random.Random(n))[0])
        bad = case_dir / "bad.wav"
        bad.write_bytes(mutate(valid_audio(r)[0], r))
        values = [
            str(good),
            str(good),
            str(bad),
            f"{case_dir}/missing.wav",
            f"cat {good} |",
            "echo hi |",
            f"file://{good}",
            "data:audio/wav;base64,AAAA",
            "http://127.0.0.1:9/a.wav",
            f"{good} ",
            str(case_dir),
        ]
        keys: list[str] = []
        noise = r.choice([0.0, 0.0, 0.05, 0.2, 0.5, 1.0])
        scp, text, segs = case_dir / "wav.scp", case_dir / "text", case_dir / "segments"
        scp.write_bytes(list_contents(r, "scp", keys, values, noise))
        text.write_bytes(list_contents(r, "text", keys, values, noise))
        segs.write_bytes(list_contents(r, "segments", keys, values, noise))
        results = [
            _call(lambda: read_scp(scp), lambda t: _check_table(t, True)),
            _call(lambda: read_text(text), lambda t: _check_table(t, False)),
            _call(lambda: read_segments(segs), _check_segments),
        ]

        def wav_scp_items() -> list:
            out = []
            for key, item in load_wav_scp(
                scp, segs if r.random() < 0.4 else None, allow_pipes=False, url_timeout_s=2.0
            ):
                problem = _check_error(item) if isinstance(item, BaseException) else _check_audio(item)
                if problem:
                    raise AssertionError(f"item {key!r}: {problem}")
                out.append(key)
            return out

        results.append(_call(wav_scp_items, lambda keys_: None if isinstance(keys_, list) else "not a list"))
        fails = [d for o, d in results if o == "FAIL"]
        if fails:
            if save_dir:
                for f in (scp, text, segs):
                    shutil.copy(f, save_dir / f"case{n}.{f.name}")
            names = ["read_scp", "read_text", "read_segments", "load_wav_scp"]
            return kind, "FAIL", "; ".join(f"{names[i]}: {d}" for i, (o, d) in enumerate(results) if o == "FAIL")
        return kind, ("ok" if all(o == "ok" for o, _ in results) else "input_error"), ""
    finally:
        shutil.rmtree(case_dir, ignore_errors=True)


# ------------------------------------------------------------------------------------ worker


def worker(args: argparse.Namespace) -> int:
    """Run cases ``--start`` .. ``--cases``-1, one JSON line per case on stdout."""
    import resource  # noqa: PLC0415

    if args.mem_mb:
        limit = args.mem_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if args.no_ffmpeg:
        from funasr_lite.frontend import audio  # noqa: PLC0415

        audio.shutil.which = lambda _name: None  # type: ignore[assignment]

    def on_alarm(_sig, _frame):  # noqa: ANN001, ANN202
        raise CaseTimeout()

    signal.signal(signal.SIGALRM, on_alarm)
    kinds = args.kinds.split(",")
    save_dir = Path(args.save_dir) if args.save_dir else None
    with tempfile.TemporaryDirectory(prefix="fuzz_inputs_") as tmp:
        for n in range(args.start, args.cases):
            t0 = time.monotonic()
            signal.setitimer(signal.ITIMER_REAL, max(0.5, args.case_timeout - 1.0))
            try:
                kind, outcome, detail = run_case(args.seed, n, kinds, Path(tmp), save_dir)
            except CaseTimeout:
                kind, outcome, detail = (
                    kinds[n % len(kinds)],
                    "FAIL",
                    f"hang: over {args.case_timeout - 1.0:.1f} s "
                    f"(SIGALRM in {traceback.format_exc(limit=-2)[-300:]!r})",
                )
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            print(
                json.dumps(
                    {"n": n, "kind": kind, "outcome": outcome, "detail": detail, "s": round(time.monotonic() - t0, 4)}
                ),
                flush=True,
            )
    return 0


def supervise(args: argparse.Namespace) -> int:
    """Run the cases in a worker process; restart it after a hang or a crash."""
    t0 = time.monotonic()
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    failures: list[dict] = []
    slowest = (0.0, -1)
    start = args.first
    kinds = args.kinds.split(",")
    while start < args.cases:
        cmd = (
            [
                sys.executable,
                __file__,
                "--worker",
                "--start",
                str(start),
                "--cases",
                str(args.cases),
                "--seed",
                str(args.seed),
                "--kinds",
                args.kinds,
                "--case_timeout",
                str(args.case_timeout),
                "--mem_mb",
                str(args.mem_mb),
            ]
            + (["--no_ffmpeg"] if args.no_ffmpeg else [])
            + (["--save_dir", str(args.save_dir)] if args.save_dir else [])
        )
        errfile = tempfile.TemporaryFile()  # not a pipe: a chatty worker must never block on a full one
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=errfile,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=dict(os.environ, OMP_NUM_THREADS="1"),
        )
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        buf = b""
        next_case = start
        last = time.monotonic()
        startup_grace = 30.0  # imports (numpy, soundfile) before the first case
        while True:
            limit = args.case_timeout + (startup_grace if next_case == start else 0.0)
            events = sel.select(timeout=0.2)
            if events:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    rec = json.loads(line)
                    counts[rec["kind"]][rec["outcome"]] += 1
                    slowest = max(slowest, (rec["s"], rec["n"]))
                    if rec["outcome"] == "FAIL":
                        failures.append(rec)
                    next_case = rec["n"] + 1
                    last = time.monotonic()
                    if not args.quiet and next_case % 1000 == 0:
                        print(f"  {next_case} cases, {time.monotonic() - t0:.0f} s", flush=True)
            elif time.monotonic() - last > limit:  # hung in C code (SIGALRM could not interrupt it)
                os.killpg(proc.pid, signal.SIGKILL)
                kind = kinds[next_case % len(kinds)]
                counts[kind]["FAIL"] += 1
                failures.append(
                    {
                        "n": next_case,
                        "kind": kind,
                        "outcome": "FAIL",
                        "detail": f"hang: no answer in {limit:.0f} s (worker killed)",
                    }
                )
                next_case += 1
                break
        sel.close()
        proc.wait()
        errfile.seek(0)
        err = errfile.read().decode("utf-8", "replace")
        errfile.close()
        proc.stdout.close()
        if next_case < args.cases and (
            not failures or failures[-1]["n"] != next_case - 1 or "worker killed" not in failures[-1]["detail"]
        ):
            # the worker died on case next_case (segfault, os._exit, an error outside a case)
            kind = kinds[next_case % len(kinds)]
            counts[kind]["FAIL"] += 1
            failures.append(
                {
                    "n": next_case,
                    "kind": kind,
                    "outcome": "FAIL",
                    "detail": f"worker died (rc {proc.returncode}): {err.strip()[-400:]!r}",
                }
            )
            next_case += 1
        start = next_case
    wall = time.monotonic() - t0
    total = sum(sum(c.values()) for c in counts.values())
    print(f"{'kind':<7} {'cases':>7} {'ok':>7} {'input_error':>12} {'FAIL':>6}")
    for kind in kinds:
        c = counts[kind]
        print(f"{kind:<7} {sum(c.values()):>7} {c['ok']:>7} {c['input_error']:>12} {c['FAIL']:>6}")
    print(
        f"{'all':<7} {total:>7} {sum(c['ok'] for c in counts.values()):>7} "
        f"{sum(c['input_error'] for c in counts.values()):>12} {len(failures):>6}"
    )
    for f in failures[:50]:
        print(f"FAIL case {f['n']} ({f['kind']}): {f['detail'][:700]}")
        print(f"  replay: python tools/fuzz_inputs.py --seed {args.seed} --kinds {args.kinds} --case {f['n']}")
    print(
        f"fuzz_inputs: {total} cases, seed {args.seed}, {len(failures)} failure(s), wall {wall:.1f} s "
        f"({1000 * wall / max(1, total):.1f} ms/case, slowest case {slowest[1]}: {slowest[0]:.2f} s)"
    )
    return 1 if failures else 0


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=1000, help="number of cases (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--kinds", default=",".join(KINDS), help="comma list of %(default)s (cases rotate through them)")
    p.add_argument("--case_timeout", type=float, default=10.0, help="seconds per case before it counts as a hang")
    p.add_argument("--mem_mb", type=int, default=1024, help="address-space limit of the worker in MiB (0: none)")
    p.add_argument("--no_ffmpeg", action="store_true", help="no ffmpeg fallback (faster; soundfile paths only)")
    p.add_argument("--save_dir", type=Path, default=None, help="save the inputs of failing cases here")
    p.add_argument("--case", type=int, default=None, help="replay this one case (prints its outcome)")
    p.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    bad = [k for k in args.kinds.split(",") if k not in KINDS]
    if bad:
        print(f"fuzz_inputs: error: unknown kind(s) {bad}; choose from {','.join(KINDS)}", file=sys.stderr)
        return 2
    if args.save_dir:
        args.save_dir.mkdir(parents=True, exist_ok=True)
    if args.worker:
        return worker(args)
    if args.case is not None:
        args.first, args.cases = args.case, args.case + 1
    return supervise(args)


if __name__ == "__main__":
    sys.exit(main())
