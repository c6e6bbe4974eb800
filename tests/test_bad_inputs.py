"""Issue 8: the bad-input catalogue (docs/errors.md lists every case with its real message).

Every bad input gives ONE line that names the item (file, utterance, key, folder) and the
problem; a batch job (``bin/inference``, ``bin/asr_inference``, ``bin/dump_fbank``,
``bin/check_data``, the trainer's data loading) reports the item, finishes the rest and exits
non-zero (the trainer skips bad utterances and exits 0: ``check_data`` is the recipes' gate).
Each kind of bad input is one test id and is checked at every entry point that reads it.

Runs in-process (one batch run per entry point, shared by the ids) with the tiny FunASR-made
model folders and the real FSMN-VAD; audio is generated here. Cases that existing tests
already cover in depth are referenced, not repeated: NaN *features* in training
(``test_train_asr.py::test_nan_batch_is_skipped_and_never_saved``), the property tests of the
loader (``test_audio.py``), redirect limits (``test_audio.py::test_url_redirect_limit``),
hub names (``test_modelio.py``), bad training options (``test_train_asr.py``).

``FUNASR_LITE_ERRORS_DUMP=path.jsonl`` writes every message seen, for docs/errors.md.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import os
import shutil
import socket
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aishell_data_prep  # egs/aishell/local, on sys.path through conftest
import numpy as np
import pytest
import soundfile as sf
import soxr
import torch
import yaml
from conftest import REPO, QuietHandler, clear_proxies, espeak_wav, serve_http

from funasr_lite import AutoModel
from funasr_lite.bin import asr_inference, check_data, compute_cer, dump_fbank, inference, train
from funasr_lite.data.kaldi_lists import read_scp, read_text
from funasr_lite.errors import InputError, ModelError
from funasr_lite.frontend import audio
from funasr_lite.frontend.audio import load_audio
from funasr_lite.train.core import checkpoint as ckpt_mod
from funasr_lite.train.core.checkpoint import CheckpointManager, looks_complete

FIX = REPO / "tests" / "fixtures" / "models"
ASR = FIX / "paraformer_tiny"
SR = 16000
SEEN: list[dict[str, str]] = []  # every message checked here (for docs/errors.md)


def one_line(msg: str, *phrases: str, kind: str = "", entry: str = "") -> str:
    """``msg`` is one non-empty line without a traceback and holds every phrase; recorded for the docs."""
    msg = msg.rstrip("\n")
    assert msg.strip() and "\n" not in msg, f"not one line: {msg!r}"
    assert "Traceback" not in msg
    for p in phrases:
        assert p in msg, f"{p!r} not in {msg!r}"
    if kind:
        SEEN.append({"kind": kind, "entry": entry, "message": msg})
    return msg


@pytest.fixture(scope="module", autouse=True)
def _dump_messages() -> Iterator[None]:
    yield
    dump = os.environ.get("FUNASR_LITE_ERRORS_DUMP")
    if dump:
        with open(dump, "a", encoding="utf-8") as f:
            f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in SEEN)


class _Logs(logging.Handler):
    """Collects log messages of in-process CLI runs (their handlers may be set up by someone else)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextlib.contextmanager
def captured() -> Iterator[tuple[_Logs, io.StringIO]]:
    """Root-logger messages and stderr of an in-process run."""
    handler, err = _Logs(), io.StringIO()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        with contextlib.redirect_stderr(err):
            yield handler, err
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _run_train(argv: list[str]) -> int:
    """``bin/train.main`` in-process; afterwards the root logger is restored (the trainer replaces its handlers)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        return train.main(argv)
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
            if h not in handlers:
                h.close()
        for h in handlers:
            root.addHandler(h)
        root.setLevel(level)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_proxies(monkeypatch)


# ------------------------------------------------------------------ a machine without mp3/opus decoders


def _no_mp3_opus(patch: pytest.MonkeyPatch) -> None:
    """Simulate libsndfile < 1.1 (no MP3, no Opus) and no ffmpeg: what the loader decodes compressed audio with."""
    real_read = audio._soundfile_read
    real_formats, real_subtypes = sf.available_formats, sf.available_subtypes

    def head(file: Any) -> bytes:
        if isinstance(file, (str, Path)):
            with open(file, "rb") as f:
                return f.read(64)
        pos = file.tell()
        data = file.read(64)
        file.seek(pos)
        return data

    def read(file: Any) -> Any:
        h = head(file)
        if h.startswith((b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")) or (
            h.startswith(b"OggS") and b"OpusHead" in h
        ):
            raise RuntimeError(f"Error opening {file!r}: Format not recognised.")
        return real_read(file)

    patch.setattr(audio, "_soundfile_read", read)
    patch.setattr(audio.soundfile, "available_formats", lambda: {k: v for k, v in real_formats().items() if k != "MP3"})
    patch.setattr(
        audio.soundfile,
        "available_subtypes",
        lambda major=None: {k: v for k, v in real_subtypes(major).items() if k != "OPUS"},
    )
    patch.setattr(
        audio.shutil, "which", lambda name, *a, **k: None if name == "ffmpeg" else shutil.which(name, *a, **k)
    )


# ------------------------------------------------------------------------------------- HTTP server


class _Handler(QuietHandler):
    def do_GET(self) -> None:
        if self.path == "/too_big.wav":  # announces 600 MB
            self.send_response(200)
            self.send_header("Content-Length", "600000000")
            self.end_headers()
        elif self.path in ("/endless.wav", "/stall.wav"):
            self._stream(b"RIFF")
        else:
            self._send(404, b"not found")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve_http(_Handler) as url:
        yield url


def _dead_url() -> str:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/a.wav"


# ---------------------------------------------------------------------------------- audio kinds


def _wav(x: np.ndarray, sr: int = SR, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="WAV", subtype=subtype)
    return buf.getvalue()


def _set_u32(data: bytes, tag: bytes, value: int) -> bytes:
    """Overwrite the 32-bit length after chunk ``tag``."""
    b = bytearray(data)
    i = b.find(tag)
    b[i + 4 : i + 8] = struct.pack("<I", value)
    return bytes(b)


def _with_nan(x: np.ndarray, value: float) -> bytes:
    y = x.copy()
    y[len(y) // 2] = value
    return _wav(y, subtype="FLOAT")


def _encoded(x: np.ndarray, sr: int = SR, **kw: Any) -> Callable[[Path], None]:
    """A writer of ``x`` in the format of the path's suffix (mp3, ogg/opus, ...)."""

    def write(path: Path) -> None:
        sf.write(path, soxr.resample(x, SR, sr) if sr != SR else x, sr, **kw)

    return write


# kind -> (file name, content maker(speech) -> bytes, expected problem phrases or None for "decodes")
def _audio_files(speech: np.ndarray) -> dict[str, tuple[str, Any, tuple[str, ...] | None]]:
    good = _wav(speech)
    return {
        "zero-bytes": ("empty.wav", b"", ("empty file (0 bytes)",)),
        "truncated-riff-header": ("cut.wav", good[:20], ("cannot decode wav",)),
        "wrong-fmt-chunk-length": ("fmt_len.wav", _set_u32(good, b"fmt ", 2), ("cannot decode wav",)),
        "wrong-riff-length": ("riff_len.wav", _set_u32(good, b"RIFF", 10**9), None),
        "data-length-past-eof": ("data_len.wav", _set_u32(good, b"data", 10**8), None),
        "undecodable-bytes-named-wav": ("noise.wav", np.random.default_rng(1).bytes(3000), ("cannot decode wav",)),
        "nan-samples": ("nan.wav", _with_nan(speech, np.nan), ("samples contain NaN or Inf",)),
        "inf-samples": ("inf.wav", _with_nan(speech, np.inf), ("samples contain NaN or Inf",)),
        "all-zeros": ("zeros.wav", _wav(np.zeros(SR, np.float32)), None),
        "0.05s-long": ("short.wav", _wav(speech[:800]), None),
        "one-sample": ("one.wav", _wav(speech[:1]), None),
        "8khz": ("r8k.wav", _wav(soxr.resample(speech, SR, 8000), 8000), None),
        "48khz": ("r48k.wav", _wav(soxr.resample(speech, SR, 48000), 48000), None),
        "5-channels": ("ch5.wav", _wav(np.stack([speech] * 5, axis=1)), None),
        "24-bit-wav": ("pcm24.wav", _wav(speech, subtype="PCM_24"), None),
        "float-wav": ("float.wav", _wav(speech, subtype="FLOAT"), None),
        "mp3-without-decoder": ("speech.mp3", _encoded(speech), ("no mp3 decoder", "install ffmpeg")),
        "opus-without-decoder": (
            "speech.opus",
            _encoded(speech, 48000, format="OGG", subtype="OPUS"),
            ("no opus decoder", "install ffmpeg"),
        ),
        "missing-file": ("not_there.wav", None, ("file not found",)),
    }


def _url_kinds(server: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """URL kinds the batch CLIs see (default limits: 30 s, 512 MiB)."""
    return {
        "url-dead": (_dead_url(), ("cannot fetch URL", "refused")),
        "url-404": (f"{server}/gone.wav", ("HTTP error 404",)),
        "url-too-big": (f"{server}/too_big.wav", ("download too big: 600000000 bytes > limit 536870912",)),
        "url-file-scheme": ("file:///etc/hostname", ("URL scheme 'file' is refused; only http and https",)),
        "url-ftp-scheme": ("ftp://example.com/a.wav", ("URL scheme 'ftp' is refused; only http and https",)),
    }


class Batch:
    """One run of every batch entry point over the same wav.scp of all audio kinds."""

    def __init__(self) -> None:
        self.sources: dict[str, str] = {}
        self.expect: dict[str, tuple[str, ...] | None] = {}
        self.api: dict[str, InputError | Any] = {}
        self.rc: dict[str, int] = {}
        self.errors: dict[str, str] = {}  # inference errors.txt: key -> line
        self.text: dict[str, str] = {}  # inference 1best_recog/text
        self.duration_ms: dict[str, int] = {}
        self.check: list[str] = []  # check_data --audio output lines
        self.wav_lines: dict[str, int] = {}
        self.dump_log: list[str] = []
        self.dumped: dict[str, str] = {}


GOOD = ("good1", "good2")


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    d = tmp_path_factory.mktemp("speech")
    return espeak_wav(d / "s.wav", "今天天气很好", pad_s=0.3)


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory, speech: np.ndarray, server: str, vad_dir: Path) -> Batch:
    d = tmp_path_factory.mktemp("audio_batch")
    b = Batch()
    for key in GOOD:
        (d / f"{key}.wav").write_bytes(_wav(speech))
        b.sources[key] = str(d / f"{key}.wav")
    for kind, (name, content, expect) in _audio_files(speech).items():
        path = d / name
        if callable(content):
            content(path)
        elif content is not None:
            path.write_bytes(content)
        b.sources[kind], b.expect[kind] = str(path), expect
    for kind, (url, expect) in _url_kinds(server).items():
        b.sources[kind], b.expect[kind] = url, expect
    lines = [f"{k} {v}\n" for k, v in b.sources.items()]
    (d / "data").mkdir()
    (d / "data" / "wav.scp").write_text("".join(lines), encoding="utf-8")
    b.wav_lines = {k: i for i, k in enumerate(b.sources, start=1)}
    scp = str(d / "data" / "wav.scp")
    with pytest.MonkeyPatch.context() as patch:
        _no_mp3_opus(patch)
        for kind, src in b.sources.items():
            try:
                b.api[kind] = load_audio(src, key=kind)
            except InputError as e:
                b.api[kind] = e
        with captured():
            b.rc["inference"] = inference.main(
                [
                    "--model",
                    str(ASR),
                    "--vad_model",
                    str(vad_dir),
                    "--wav_scp",
                    scp,
                    "--output_dir",
                    str(d / "exp"),
                    "--output_format",
                    "json",
                ]
            )
        with captured(), contextlib.redirect_stdout(io.StringIO()) as out:
            b.rc["check_data"] = check_data.main(["--data_dir", str(d / "data"), "--audio"])
        b.check = out.getvalue().splitlines()
        with captured() as (logs, _):
            b.rc["dump_fbank"] = dump_fbank.main(
                [
                    "--wav_scp",
                    scp,
                    "--out_dir",
                    str(d / "dump"),
                    "--frontend_conf",
                    str(REPO / "conf" / "frontend_paraformer.yaml"),
                ]
            )
        b.dump_log = logs.lines
    for line in (d / "exp" / "errors.txt").read_text(encoding="utf-8").splitlines():
        b.errors[line.split(" ", 1)[0]] = line
    b.text = read_text(d / "exp" / "1best_recog" / "text")
    for f in (d / "exp" / "json").glob("*.json"):
        b.duration_ms[f.stem] = json.loads(f.read_text(encoding="utf-8"))["duration_ms"]
    b.dumped = read_scp(d / "dump" / "feats.scp")
    return b


AUDIO_KINDS = list(_audio_files(np.zeros(10, np.float32)))
URL_KINDS = ["url-dead", "url-404", "url-too-big", "url-file-scheme", "url-ftp-scheme"]


def _check_batch_error(b: Batch, kind: str) -> None:
    """The item failed the same way at every batch entry point; the others went on; exit codes non-zero."""
    api = b.api[kind]
    assert isinstance(api, InputError), f"{kind} decoded"
    msg = one_line(str(api), *b.expect[kind], kind=kind, entry="load_audio / AutoModel.generate")
    assert msg.startswith(f"{kind} (")  # key (source): problem
    assert "does not exist" not in msg  # libsndfile's misleading words for an unknown header are replaced
    assert b.errors.get(kind) == msg  # bin/inference errors.txt: the same line
    SEEN.append({"kind": kind, "entry": "bin/inference errors.txt", "message": msg})
    line = next(x for x in b.check if f": utt {kind}: " in x)
    problem = f"audio file not found: {b.sources[kind]}" if kind == "missing-file" else api.problem
    one_line(line, f"wav.scp:{b.wav_lines[kind]}: utt {kind}: {problem}", kind=kind, entry="bin/check_data --audio")
    assert f"skipping {msg}" in b.dump_log  # bin/dump_fbank log
    assert kind not in b.text and kind not in b.dumped
    assert all(k in b.text and k in b.dumped for k in GOOD)  # the rest finished ...
    assert b.rc == {"inference": 1, "check_data": 1, "dump_fbank": 1}  # ... and the jobs exit 1


@pytest.mark.parametrize("kind", AUDIO_KINDS)
def test_audio(kind: str, batch: Batch, speech: np.ndarray) -> None:
    if batch.expect[kind] is not None:
        _check_batch_error(batch, kind)
        return
    res = batch.api[kind]
    assert not isinstance(res, InputError), str(res)
    assert kind not in batch.errors and not any(f"utt {kind}:" in x for x in batch.check)
    assert kind in batch.text  # decoded by bin/inference
    if kind == "one-sample":  # too short for one fbank frame: empty text, and dump_fbank skips it
        assert batch.text[kind] == "" and kind not in batch.dumped
        one_line(
            next(x for x in batch.dump_log if kind in x),
            f"skipping {kind}: too short for one frame",
            kind=kind,
            entry="bin/dump_fbank log",
        )
        return
    assert kind in batch.dumped
    want_ms = {"all-zeros": 1000, "0.05s-long": 50}.get(kind, int(len(speech) / 16))
    assert abs(batch.duration_ms[kind] - want_ms) <= 2, (kind, batch.duration_ms[kind])
    assert abs(res.duration_s * 1000 - want_ms) <= 2
    if kind in ("all-zeros", "0.05s-long"):  # no speech found by the VAD: empty text, not an error
        assert batch.text[kind] == ""
        return
    assert res.sample_rate_orig == {"8khz": 8000, "48khz": 48000}.get(kind, SR)
    if kind in ("24-bit-wav", "float-wav"):  # written from the float original: within 16-bit rounding of it
        np.testing.assert_allclose(res.waveform, speech, atol=2 / 32768)
    elif kind not in ("8khz", "48khz"):  # the 16-bit samples of good1 exactly, so the same words
        np.testing.assert_array_equal(res.waveform, batch.api["good1"].waveform)
        assert batch.text[kind] == batch.text["good1"], kind


@pytest.mark.parametrize("kind", URL_KINDS)
def test_url(kind: str, batch: Batch) -> None:
    _check_batch_error(batch, kind)


@pytest.mark.parametrize("kind", ["url-never-ends", "url-stalls"])
def test_url_time_out(kind: str, server: str) -> None:
    """A download that never ends (or stops sending) is cut at ``url_timeout_s`` (bin CLIs: the 30 s default)."""
    path = {"url-never-ends": "/endless.wav", "url-stalls": "/stall.wav"}[kind]
    start = time.monotonic()
    with pytest.raises(InputError) as e:
        load_audio(server + path, key=kind, url_timeout_s=1.0)
    assert time.monotonic() - start < 4
    one_line(str(e.value), f"{kind} ({server}{path}): download timed out after 1.0 s", kind=kind, entry="load_audio")


@pytest.fixture(scope="module")
def asr_vad(vad_dir: Path) -> AutoModel:
    return AutoModel(model=str(ASR), vad_model=str(vad_dir))


@pytest.fixture(scope="module")
def asr_plain() -> AutoModel:
    return AutoModel(model=str(ASR))


def test_automodel_all_zeros_and_tiny_inputs(asr_vad: AutoModel, asr_plain: AutoModel) -> None:
    """Documented: silence and audio too short for one frame decode to empty text (no error)."""
    assert asr_vad.generate(input=np.zeros(SR, np.float32), key="silence")[0]["text"] == ""
    for n in (1, 2, 800):  # one sample used to crash the encoder (0 feature frames)
        assert asr_plain.generate(input=np.zeros(n, np.float32), key="tiny")[0]["text"] == ""
        assert asr_vad.generate(input=np.zeros(n, np.float32), key="tiny")[0]["text"] == ""


def test_automodel_bad_item_in_a_list_names_it(tmp_path: Path, asr_plain: AutoModel, speech: np.ndarray) -> None:
    """The Python API raises for the first bad item, naming its key (batch jobs skip instead)."""
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(InputError) as e:
        asr_plain.generate(input=[speech, str(tmp_path / "empty.wav")])
    one_line(
        str(e.value),
        f"empty ({tmp_path}/empty.wav): empty file (0 bytes)",
        kind="zero-bytes",
        entry="AutoModel.generate([...])",
    )


# --------------------------------------------------------------------------------------- lists


def _data_dir(root: Path, wav: bytes, text: bytes) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "wav.scp").write_bytes(wav)
    (root / "text").write_bytes(text)
    return root


def _check(d: Path, capsys: pytest.CaptureFixture, tokens: Path | None = None) -> tuple[int, list[str], str]:
    capsys.readouterr()
    rc = check_data.main(["--data_dir", str(d)] + (["--token_list", str(tokens)] if tokens else []))
    cap = capsys.readouterr()
    return rc, cap.out.splitlines(), cap.err


@pytest.fixture(scope="module")
def train_corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Four good utterances (0.5 s of noise; any text in the tiny model's token list) and the bad kinds."""
    root = tmp_path_factory.mktemp("train_corpus")
    rng = np.random.default_rng(0)
    good = {"u0": "你好", "u1": "今天天气", "u2": "世界很好", "u3": "我是人"}
    wavs, texts = {}, dict(good)
    for k in good:
        sf.write(root / f"{k}.wav", (0.1 * rng.standard_normal(8000)).astype(np.float32), SR)
        wavs[k] = str(root / f"{k}.wav")
    nan = (0.1 * rng.standard_normal(8000)).astype(np.float32)
    nan[100] = np.nan
    sf.write(root / "nan.wav", nan, SR, subtype="FLOAT")
    for k in ("x_oov", "x_empty"):
        shutil.copy(root / "u0.wav", root / f"{k}.wav")
        wavs[k] = str(root / f"{k}.wav")
    wavs["x_nan"], wavs["x_missing"] = str(root / "nan.wav"), str(root / "gone.wav")
    texts.update(x_oov="你猫", x_empty="", x_nan="你好", x_missing="你好", x_textonly="你好")
    out = {}
    for name, keys in (("good", list(good)), ("mixed", sorted(set(wavs) | set(texts)))):
        d = root / name
        d.mkdir()
        (d / "wav.scp").write_text("".join(f"{k} {wavs[k]}\n" for k in keys if k in wavs), encoding="utf-8")
        (d / "text").write_text(
            "".join(f"{k} {texts[k]}\n" if texts[k] else f"{k}\n" for k in keys if k in texts), encoding="utf-8"
        )
        out[name] = d
    (root / "empty").mkdir()
    for name in ("wav.scp", "text"):
        (root / "empty" / name).write_text("", encoding="utf-8")
    out["empty"] = root / "empty"
    out["root"] = root
    return out


TRAIN_BASE = [
    "--init_param",
    str(ASR),
    "--device",
    "cpu",
    "--dataset_conf.num_workers",
    "0",
    "--dataset_conf.preload",
    "none",
    "--dataset_conf.batch_size",
    "100",
    "--train_conf.use_tensorboard",
    "false",
    "--train_conf.dev_cer",
    "false",
    "--train_conf.max_epoch",
    "1",
    "--train_conf.avg_nbest_model",
    "1",
    "--train_conf.log_interval",
    "1",
]


@pytest.fixture(scope="module")
def train_mixed(train_corpus: dict[str, Path]) -> tuple[int, list[str], Path]:
    """One training run over good + bad utterances: (exit code, train.log lines, output dir)."""
    out = train_corpus["root"] / "exp_mixed"
    rc = _run_train(TRAIN_BASE + ["--train_data", str(train_corpus["mixed"]), "--output_dir", str(out)])
    return rc, (out / "train.log").read_text(encoding="utf-8").splitlines(), out


def _log_line(lines: list[str], *phrases: str) -> str:
    found = [ln for ln in lines if all(p in ln for p in phrases)]
    assert found, f"no log line with {phrases}"
    return found[0].split("] ", 1)[1].split(" ", 1)[1]  # drop "date time [rank 0] LEVEL"


def _trainer_skip(train_mixed: tuple[int, list[str], Path], kind: str, *phrases: str) -> None:
    """The trainer listed the utterance on one line, trained on the rest and exported the model."""
    rc, lines, out = train_mixed
    one_line(_log_line(lines, "skipped:", *phrases), *phrases, kind=kind, entry="bin/train (data loading)")
    assert rc == 0 and (out / "model_dir" / "model.pt").is_file()
    assert _log_line(lines, "utterance(s) skipped (listed above)")


def test_list_missing_file_in_wav_scp(batch: Batch, train_corpus: dict[str, Path], train_mixed, capsys) -> None:
    d = _data_dir(
        train_corpus["root"] / "lists" / "missing", b"u1 /nope/x.wav\nu2 /nope/y.wav\n", "u1 你\nu2 好\n".encode()
    )
    rc, out, _ = _check(d, capsys)
    assert rc == 1
    one_line(
        out[0], f"{d}/wav.scp:1: utt u1: audio file not found: /nope/x.wav", kind="missing-file", entry="bin/check_data"
    )
    assert len([x for x in out if "audio file not found" in x]) == 2  # every item is listed
    _check_batch_error(batch, "missing-file")
    _trainer_skip(train_mixed, "missing-file", "utt x_missing: audio file not found:", "gone.wav")


def test_list_duplicate_keys(tmp_path: Path, capsys: pytest.CaptureFixture, speech: np.ndarray) -> None:
    sf.write(tmp_path / "a.wav", speech, SR)
    d = _data_dir(
        tmp_path / "data",
        f"u1 {tmp_path}/a.wav\nu2 {tmp_path}/a.wav\nu1 {tmp_path}/a.wav\n".encode(),
        "u1 你\nu2 好\n".encode(),
    )
    rc, out, _ = _check(d, capsys)
    assert rc == 1
    one_line(
        out[0], f"{d}/wav.scp:3: duplicate key 'u1' (first on line 1)", kind="duplicate-key", entry="bin/check_data"
    )
    # bin/inference refuses the whole list before loading anything: a list error is not an item error
    rc = inference.main(["--model", str(ASR), "--wav_scp", str(d / "wav.scp"), "--output_dir", str(tmp_path / "exp")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and not (tmp_path / "exp" / "1best_recog").exists()
    one_line(
        err[-1],
        f"error: {d}/wav.scp:3: duplicate key 'u1' (first on line 1)",
        kind="duplicate-key",
        entry="bin/inference",
    )


def test_list_key_in_text_not_in_wav_scp(train_corpus: dict[str, Path], train_mixed, capsys) -> None:
    d = _data_dir(
        train_corpus["root"] / "lists" / "textonly",
        f"u0 {train_corpus['root']}/u0.wav\n".encode(),
        "u0 你好\nu9 你好\n".encode(),
    )
    rc, out, _ = _check(d, capsys)
    assert rc == 1
    one_line(
        out[0],
        f"{d}/text:2: utt u9: in text but not in wav.scp",
        kind="key-in-text-not-in-wav.scp",
        entry="bin/check_data",
    )
    _trainer_skip(train_mixed, "key-in-text-not-in-wav.scp", "utt x_textonly: in text but not in wav.scp")


def test_list_key_in_wav_scp_not_in_text(train_corpus: dict[str, Path], capsys) -> None:
    root = train_corpus["root"]
    d = _data_dir(root / "lists" / "wavonly", f"u0 {root}/u0.wav\nu1 {root}/u1.wav\n".encode(), "u0 你好\n".encode())
    rc, out, _ = _check(d, capsys)
    assert rc == 1
    one_line(
        out[0],
        f"{d}/wav.scp:2: utt u1: in wav.scp but not in text",
        kind="key-in-wav.scp-not-in-text",
        entry="bin/check_data",
    )


@pytest.mark.parametrize("kind", ["empty-lines", "crlf-line-endings"])
def test_list_tolerated_formatting(kind: str, train_corpus: dict[str, Path], tmp_path: Path, capsys) -> None:
    """Blank lines and CRLF ends are tolerated everywhere (not an error): same keys and values as a clean list."""
    root = train_corpus["root"]
    nl = "\r\n" if kind == "crlf-line-endings" else "\n\n  \n"
    d = _data_dir(
        tmp_path / "d", f"u0 {root}/u0.wav{nl}u1 {root}/u1.wav{nl}".encode(), f"u0 你好{nl}u1 今天{nl}".encode()
    )
    rc, out, _ = _check(d, capsys, ASR / "tokens.json")
    assert rc == 0 and out[-1] == f"check_data: {d}: OK"
    assert read_scp(d / "wav.scp") == {"u0": f"{root}/u0.wav", "u1": f"{root}/u1.wav"}
    assert read_text(d / "text") == {"u0": "你好", "u1": "今天"}
    (tmp_path / "hyp").write_text("u0 你好\nu1 今天\n", encoding="utf-8")
    assert compute_cer.main([str(d / "text"), str(tmp_path / "hyp"), str(tmp_path / "cer")]) == 0
    assert "Overall -> 0.00 %" in (tmp_path / "cer").read_text(encoding="utf-8")


def test_list_non_utf8_text(tmp_path: Path, train_corpus: dict[str, Path], capsys) -> None:
    root = train_corpus["root"]
    d = _data_dir(
        tmp_path / "d", f"u0 {root}/u0.wav\nu1 {root}/u1.wav\n".encode(), "u0 你好\n".encode() + b"u1 caf\xe9\n"
    )
    rc, out, _ = _check(d, capsys)
    assert rc == 1
    one_line(out[0], f"{d}/text:2: not valid UTF-8 (byte offset 16)", kind="non-utf8-text", entry="bin/check_data")
    (tmp_path / "hyp").write_text("u0 你好\n", encoding="utf-8")
    assert compute_cer.main([str(d / "text"), str(tmp_path / "hyp")]) == 1
    one_line(
        capsys.readouterr().err,
        f"compute_cer: error: {d}/text:2: not valid UTF-8 (byte offset 16)",
        kind="non-utf8-text",
        entry="bin/compute_cer",
    )


def test_list_chars_outside_token_list(train_corpus: dict[str, Path], train_mixed, capsys) -> None:
    root = train_corpus["root"]
    d = _data_dir(
        root / "lists" / "oov", f"u0 {root}/u0.wav\nu1 {root}/u1.wav\n".encode(), "u0 你好\nu1 你猫\n".encode()
    )
    rc, out, _ = _check(d, capsys, ASR / "tokens.json")
    assert rc == 1
    one_line(
        out[0], f"{d}/text:2: utt u1: not in token list: '猫'", kind="chars-outside-token-list", entry="bin/check_data"
    )
    _trainer_skip(train_mixed, "chars-outside-token-list", "utt x_oov: character(s) '猫' not in the token list")


def test_list_empty_transcript(train_corpus: dict[str, Path], train_mixed, capsys) -> None:
    root = train_corpus["root"]
    d = _data_dir(
        root / "lists" / "empty_text", f"u0 {root}/u0.wav\nu1 {root}/u1.wav\n".encode(), "u0 你好\nu1\n".encode()
    )
    rc, out, _ = _check(d, capsys)
    assert rc == 1
    one_line(out[0], f"{d}/text:2: utt u1: empty transcript", kind="empty-transcript", entry="bin/check_data")
    _trainer_skip(train_mixed, "empty-transcript", "utt x_empty: empty transcript")


@pytest.fixture(scope="module")
def segments_run(tmp_path_factory: pytest.TempPathFactory, speech: np.ndarray) -> tuple[int, Path, str]:
    """bin/asr_inference over segments: one past the end of its 1.x s recording, two good ones."""
    d = tmp_path_factory.mktemp("segments")
    sf.write(d / "rec.wav", speech, SR)
    (d / "wav.scp").write_text(f"rec {d}/rec.wav\n", encoding="utf-8")
    (d / "segments").write_text("s1 rec 0.0 0.8\ns2 rec 0.5 9.0\ns3 rec 0.3 -1\n", encoding="utf-8")
    with captured() as (_, err):
        rc = asr_inference.main(
            [
                "--model",
                str(ASR),
                "--wav_scp",
                str(d / "wav.scp"),
                "--segments",
                str(d / "segments"),
                "--output_dir",
                str(d / "exp"),
            ]
        )
    return rc, d, err.getvalue()


def test_list_segment_past_end_of_audio(segments_run: tuple[int, Path, str], speech: np.ndarray) -> None:
    rc, d, _ = segments_run
    errors = (d / "exp" / "errors.txt").read_text(encoding="utf-8").splitlines()
    assert rc == 1 and len(errors) == 1
    dur = len(speech) / SR
    one_line(
        errors[0],
        f"s2 (<segment of {d}/rec.wav>): segment end 9.0 s is past the end of the audio ({dur:.3f} s)",
        kind="segment-past-end",
        entry="bin/asr_inference errors.txt",
    )
    assert set(read_text(d / "exp" / "1best_recog" / "text")) == {"s1", "s3"}  # the other segments decoded


def test_list_segment_of_unknown_recording(tmp_path: Path, capsys) -> None:
    (tmp_path / "wav.scp").write_text(f"rec {tmp_path}/rec.wav\n", encoding="utf-8")
    (tmp_path / "segments").write_text("s1 rec 0 1\ns2 other 0 1\n", encoding="utf-8")
    rc = asr_inference.main(
        [
            "--model",
            str(ASR),
            "--wav_scp",
            str(tmp_path / "wav.scp"),
            "--segments",
            str(tmp_path / "segments"),
            "--output_dir",
            str(tmp_path / "exp"),
        ]
    )
    assert rc == 1
    one_line(
        capsys.readouterr().err.strip().splitlines()[-1],
        f"error: {tmp_path}/segments: segment 's2': recording 'other' is not in {tmp_path}/wav.scp",
        kind="segment-of-unknown-recording",
        entry="bin/asr_inference",
    )


# -------------------------------------------------------------------------------------- models


def _copy(tmp: Path, name: str = "paraformer_tiny") -> Path:
    d = tmp / "model"
    shutil.copytree(FIX / name, d)
    return d


def _edit_config(d: Path, edit: Callable[[dict], None]) -> Path:
    conf = yaml.safe_load((d / "config.yaml").read_text(encoding="utf-8"))
    edit(conf)
    (d / "config.yaml").write_text(yaml.safe_dump(conf, allow_unicode=True), encoding="utf-8")
    return d


class _Evil:
    """Unpickling this would run ``touch <marker>``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _evil(tmp: Path) -> Path:
    d = _copy(tmp)
    state = torch.load(d / "model.pt", weights_only=True)
    state["payload"] = _Evil(tmp / "PWNED")
    torch.save(state, d / "model.pt")
    assert not (tmp / "PWNED").exists()
    return d


def _truncate(tmp: Path) -> Path:
    d = _copy(tmp)
    data = (d / "model.pt").read_bytes()
    (d / "model.pt").write_bytes(data[: len(data) // 2])
    return d


def _unlink(name: str) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        d = _copy(tmp)
        (d / name).unlink()
        return d

    return make


def _extra_tokens(tmp: Path) -> Path:
    d = _copy(tmp)
    tokens = json.loads((d / "tokens.json").read_text(encoding="utf-8"))
    (d / "tokens.json").write_text(
        json.dumps(tokens[:-1] + ["猫", "狗", "<unk>"], ensure_ascii=False), encoding="utf-8"
    )
    return d


def _other_arch(tmp: Path) -> Path:
    d = _copy(tmp)
    shutil.copy(FIX / "ct_transformer_tiny" / "model.pt", d / "model.pt")
    return d


# kind -> (make folder(tmp) -> path, phrases; "{d}" is the folder)
MODEL_KINDS: dict[str, tuple[Callable[[Path], Path], tuple[str, ...]]] = {
    "model-folder-does-not-exist": (lambda tmp: tmp / "no_such_model", ("{d}: model folder does not exist",)),
    "model-missing-am.mvn": (
        _unlink("am.mvn"),
        ("{d}: no CMVN file found (looked for am.mvn, vad.mvn); Paraformer needs am.mvn",),
    ),
    "model-missing-token-list": (_unlink("tokens.json"), ("{d}: no token list found",)),
    "model-token-list-size-differs": (
        _extra_tokens,
        ("{d}: the token list has 63 tokens but the checkpoint's output layer has 61",),
    ),
    "model-truncated-model.pt": (_truncate, ("{d}/model.pt: checkpoint is corrupt or truncated",)),
    "model-checkpoint-of-another-architecture": (
        _other_arch,
        ("{d}/model.pt: checkpoint holds a CTTransformer model but config.yaml says 'Paraformer'",),
    ),
    "model-config-unknown-key": (
        lambda tmp: _edit_config(_copy(tmp), lambda c: c["encoder_conf"].update(num_blockz=3)),
        ("{d}: config: encoder_conf: unknown key 'num_blockz'",),
    ),
    "model-config-wrong-type": (
        lambda tmp: _edit_config(_copy(tmp), lambda c: c["encoder_conf"].update(output_size="big")),
        ("{d}: config: encoder_conf: output_size='big' must be an integer",),
    ),
    "model-config-block-not-a-mapping": (
        lambda tmp: _edit_config(_copy(tmp), lambda c: c.update(encoder_conf=[1, 2])),
        ("{d}/config.yaml: config key 'encoder_conf' must be a mapping, got list",),
    ),
    "model-pickle-that-runs-code": (
        _evil,
        (
            (
                "{d}/model.pt: refusing to load: the checkpoint contains Python objects "
                "other than tensors (it could run code)"
            ),
        ),
    ),
}


@pytest.mark.parametrize("kind", list(MODEL_KINDS))
def test_model(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture, speech: np.ndarray) -> None:
    make, phrases = MODEL_KINDS[kind]
    d = make(tmp_path)
    want = [p.format(d=d) for p in phrases]
    with pytest.raises(ModelError) as e:
        AutoModel(model=str(d))
    msg = one_line(str(e.value), *want, kind=kind, entry="AutoModel(model=...)")
    sf.write(tmp_path / "a.wav", speech, SR)
    (tmp_path / "wav.scp").write_text(f"a {tmp_path}/a.wav\n", encoding="utf-8")
    capsys.readouterr()
    rc = inference.main(
        ["--model", str(d), "--wav_scp", str(tmp_path / "wav.scp"), "--output_dir", str(tmp_path / "exp")]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and err[-1] == f"error: {msg}"
    one_line(err[-1], kind=kind, entry="bin/inference")
    assert not (tmp_path / "PWNED").exists(), "the checkpoint's code ran"


def test_vad_folder_as_asr_model_of_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture, speech: np.ndarray) -> None:
    """bin/inference --model wants an ASR folder (AutoModel takes a VAD folder on its own, as FunASR does:
    tests/test_auto_model_folders.py)."""
    d = _copy(tmp_path, "fsmn_vad_tiny")
    sf.write(tmp_path / "a.wav", speech, SR)
    (tmp_path / "wav.scp").write_text(f"a {tmp_path}/a.wav\n", encoding="utf-8")
    rc = inference.main(
        ["--model", str(d), "--wav_scp", str(tmp_path / "wav.scp"), "--output_dir", str(tmp_path / "e")]
    )
    err = capsys.readouterr().err.strip().splitlines()
    want = f"error: {d}: is a FsmnVAD model, not an ASR model (Paraformer, BiCifParaformer or SeacoParaformer)"
    assert rc == 1 and err[-1] == want


# ------------------------------------------------------------------------------------ training


def test_train_nan_samples_in_training_audio(train_mixed) -> None:
    """Audio that cannot be read when its batch is built (NaN samples) gives NaN features: batch skipped, reported.

    NaN *features* from a feats.scp: ``test_train_asr.py::test_nan_batch_is_skipped_and_never_saved``.
    """
    rc, lines, out = train_mixed
    one_line(
        _log_line(lines, "x_nan (", "samples contain NaN or Inf"),
        "nan.wav): samples contain NaN or Inf; its batch is skipped",
        kind="train-nan-samples",
        entry="bin/train (batch)",
    )
    one_line(
        _log_line(lines, "batch skipped: non-finite features in"),
        "x_nan",
        kind="train-nan-samples",
        entry="bin/train (batch)",
    )
    assert rc == 0
    state = torch.load(out / "checkpoints" / "ep1.pt", weights_only=True)
    assert state["nan_skipped"] >= 1 and all(torch.isfinite(t).all() for t in state["model"].values())


def _train_error(out: Path) -> str:
    lines = (out / "train.log").read_text(encoding="utf-8").splitlines()
    errors = [ln for ln in lines if " ERROR " in ln]
    assert len(errors) == 1, errors
    return errors[0].split(" ERROR ", 1)[1]


def test_train_empty_training_set(train_corpus: dict[str, Path]) -> None:
    out = train_corpus["root"] / "exp_empty"
    assert _run_train(TRAIN_BASE + ["--train_data", str(train_corpus["empty"]), "--output_dir", str(out)]) == 1
    one_line(
        _train_error(out),
        f"train: {train_corpus['empty']}: no usable utterances",
        kind="train-empty-set",
        entry="bin/train",
    )
    assert not (out / "checkpoints").exists()


def test_train_all_utterances_too_long_for_the_batch(train_corpus: dict[str, Path]) -> None:
    out = train_corpus["root"] / "exp_long"
    assert (
        _run_train(
            TRAIN_BASE
            + ["--train_data", str(train_corpus["good"]), "--output_dir", str(out), "--dataset_conf.batch_size", "10"]
        )
        == 1
    )
    one_line(
        _train_error(out),
        f"train: {train_corpus['good']}: no item fits: all 4 items are longer than "
        "max_length=3000 or than batch_bins=10",
        kind="train-all-too-long",
        entry="bin/train",
    )


class _DiskFullTorch:
    """``torch`` for the checkpoint module whose 2nd ``save`` writes part of the file, then hits ENOSPC."""

    def __init__(self) -> None:
        self.saves = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(torch, name)

    def save(self, obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        self.saves += 1
        if self.saves == 2:
            buf = io.BytesIO()
            torch.save(obj, buf, *args, **kwargs)
            f.write(buf.getvalue()[: len(buf.getvalue()) // 3])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        torch.save(obj, f, *args, **kwargs)


def test_train_disk_full_writing_a_checkpoint(train_corpus: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    out = train_corpus["root"] / "exp_full"
    fake = _DiskFullTorch()
    monkeypatch.setattr(ckpt_mod, "torch", fake)
    rc = _run_train(
        TRAIN_BASE
        + [
            "--train_data",
            str(train_corpus["good"]),
            "--output_dir",
            str(out),
            "--train_conf.save_checkpoint_interval",
            "1",
            "--train_conf.max_steps",
            "3",
        ]
    )
    monkeypatch.undo()
    assert rc == 1 and fake.saves == 2
    ckpts = out / "checkpoints"
    one_line(
        _train_error(out),
        f"train: {ckpts}/ep1-step2.pt: No space left on device",
        kind="train-disk-full",
        entry="bin/train",
    )
    assert sorted(p.name for p in ckpts.iterdir()) == ["checkpoints.json", "ep1-step1.pt"]  # no partial file left
    assert looks_complete(ckpts / "ep1-step1.pt")
    state = CheckpointManager(ckpts).load_latest()  # the previous checkpoint survives: a rerun resumes from it
    assert state is not None and state["step"] == 1
    assert not (out / "model_dir").exists()


# ------------------------------------------------------------------------------------- scoring


CER_CASES = [
    ("cer-missing-hyp-file", "u1 你好\n", None, [], "{hyp}: file not found"),
    ("cer-duplicate-key", "u1 你好\n", "u1 你好\nu1 你\n", [], "{hyp}:2: duplicate key 'u1' (first on line 1)"),
    (
        "cer-strict-missing-hypothesis",
        "u1 你好\nu2 世界\n",
        "u1 你好\n",
        ["--mode", "strict"],
        "{hyp}: 1 reference utterance(s) have no hypothesis (first: u2); use --mode all or --mode present",
    ),
    ("cer-unwritable-report", "u1 你好\n", "u1 你好\n", ["{tmp}/no/dir/cer.txt"], "{tmp}/no/dir/cer.txt: cannot write"),
]


@pytest.mark.parametrize("kind, ref, hyp, extra, phrase", CER_CASES, ids=[c[0] for c in CER_CASES])
def test_compute_cer(
    kind: str, ref: str, hyp: str | None, extra: list[str], phrase: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "ref").write_text(ref, encoding="utf-8")
    if hyp is not None:
        (tmp_path / "hyp").write_text(hyp, encoding="utf-8")
    fmt = {"hyp": tmp_path / "hyp", "tmp": tmp_path}
    rc = compute_cer.main([str(tmp_path / "ref"), str(tmp_path / "hyp")] + [x.format(**fmt) for x in extra])
    assert rc == 1
    one_line(capsys.readouterr().err, f"compute_cer: error: {phrase.format(**fmt)}", kind=kind, entry="bin/compute_cer")


# ------------------------------------------------------------------------------------ data prep


def _aishell(root: Path, wavs: list[str], transcript: bytes) -> Path:
    corpus = root / "data_aishell"
    (corpus / "transcript").mkdir(parents=True)
    (corpus / "transcript" / "aishell_transcript_v0.8.txt").write_bytes(transcript)
    for s in ("train", "dev", "test"):
        (corpus / "wav" / s).mkdir(parents=True)
    for rel in wavs:
        (corpus / "wav" / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(corpus / "wav" / rel, np.zeros(1600, np.int16), SR)
    return corpus


AISHELL_CASES = [
    (
        "aishell-speaker-folder-mismatch",
        ["train/S0002/BAC009S0003W0121.wav"],
        "BAC009S0003W0121 你 好\n".encode(),
        (
            "{c}/wav/train/S0002/BAC009S0003W0121.wav: utterance id 'BAC009S0003W0121' does not contain its speaker "
            "folder name 'S0002'"
        ),
    ),
    (
        "aishell-duplicate-utterance-id",
        ["train/S0002/BAC009S0002W0121.wav", "train/S00/BAC009S0002W0121.wav"],
        "BAC009S0002W0121 你 好\n".encode(),
        (
            "{c}/wav/train/S0002/BAC009S0002W0121.wav: duplicate utterance id "
            "'BAC009S0002W0121' (also {c}/wav/train/S00/BAC009S0002W0121.wav)"
        ),
    ),
    (
        "aishell-transcript-not-utf8",
        ["train/S0002/BAC009S0002W0121.wav"],
        "BAC009S0002W0121 你 好\n".encode() + b"X caf\xe9\n",
        "{c}/transcript/aishell_transcript_v0.8.txt:2: not valid UTF-8 (byte offset 30)",
    ),
    (
        "aishell-duplicate-transcript-line",
        ["train/S0002/BAC009S0002W0121.wav"],
        "BAC009S0002W0121 你 好\nBAC009S0002W0121 你\n".encode(),
        "{c}/transcript/aishell_transcript_v0.8.txt:2: duplicate key 'BAC009S0002W0121' (first on line 1)",
    ),
    (
        "aishell-no-transcripts",
        ["train/S0002/BAC009S0002W0121.wav"],
        "BAC009S0002W0999 你 好\n".encode(),
        "{c}/wav/train: none of 1 wav files has a transcript line",
    ),
    (
        "aishell-missing-set-folder",
        None,
        "BAC009S0002W0121 你 好\n".encode(),
        "{c}/wav/train: missing set folder (expected wav/{{train,dev,test}}/S*/*.wav)",
    ),
]


@pytest.mark.parametrize("kind, wavs, transcript, phrase", AISHELL_CASES, ids=[c[0] for c in AISHELL_CASES])
def test_aishell_data_prep(
    kind: str, wavs: list[str] | None, transcript: bytes, phrase: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    corpus = _aishell(tmp_path / "corpus", wavs or [], transcript)
    if wavs is None:
        shutil.rmtree(corpus / "wav" / "train")
    rc = aishell_data_prep.main(
        ["--data_root", str(tmp_path / "corpus"), "--out_dir", str(tmp_path / "data"), "--sets", "train"]
    )
    assert rc == 1 and not (tmp_path / "data" / "train" / "wav.scp").exists()
    one_line(
        capsys.readouterr().err,
        f"aishell_data_prep: error: {phrase.format(c=corpus)}",
        kind=kind,
        entry="egs/aishell/local/aishell_data_prep",
    )
