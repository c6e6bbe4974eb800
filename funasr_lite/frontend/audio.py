"""The one audio loader: any input -> mono float32 waveform at the model's rate (``load_audio``).

Accepted sources and how each is read:

* ``str``/``os.PathLike`` path: soundfile (wav, flac, ogg/vorbis, opus, mp3, aiff, ...). When
  soundfile cannot read it, the ``ffmpeg`` CLI decodes it at its native rate and channel count;
  without ffmpeg the error says so. A ``.pcm`` path is headerless 16-bit little-endian mono at
  ``fs`` (default 16000).
* ``str`` ending in ``|``: a Kaldi ``wav.scp`` piped command, run with the shell; its stdout must
  be an audio file (normally WAV). Pipes run shell commands written in a list file, so they are
  refused unless enabled: ``allow_pipes=True`` (``--allow_pipes`` on ``bin/inference``) or the
  environment variable ``FUNASR_LITE_ALLOW_PIPES=1`` (for every entry point).
* ``str`` starting with ``http://`` or ``https://``: downloaded with a time-out, a size cap and at
  most ``MAX_REDIRECTS`` redirects. Other URL schemes (``file://``, ``ftp://``, ``data:``, ...)
  are refused.
* ``bytes``/``bytearray``: FunASR's rule. Bytes that start with a container signature (RIFF,
  fLaC, OggS, ID3, ``ftyp``, ...) are decoded as that file (soundfile, then ffmpeg) and fail
  loudly if corrupt; bytes starting with an MPEG frame sync are tried as MP3; all other bytes are
  headerless 16-bit little-endian mono PCM at ``fs`` (default 16000).
* ``numpy.ndarray``/``torch.Tensor``: samples at ``fs`` (default 16000). Float arrays are taken
  as already in [-1, 1]; ``int16`` is scaled by 1/32768 and ``int32`` by 1/2**31. Shape ``(N,)``
  or ``(N, C)`` with ``C <= MAX_CHANNELS`` (soundfile's layout); a ``(C, N)`` array is refused,
  pass ``array.T``.
* a 3-tuple ``(source, start_s, end_s)`` (``kaldi_lists.SegmentSource``): the source is decoded,
  cut at the original rate (sample ``round(t * rate)``; ``end_s == -1`` means to the end; an end
  up to 0.5 s past the audio is truncated as Kaldi's ``extract-segments`` does, further is an
  error), then resampled.

``fs`` is the rate of headerless input only; a container's own header always wins.
Multi-channel audio is averaged (FunASR does the same) unless ``channel=i`` picks one.
The output rate is ``sample_rate`` (default 16000; a model folder's ``frontend_conf.fs``, as
FunASR's ``load_audio_text_image_video(..., fs=frontend.fs)``); ``also_at`` adds the same audio at
further rates (``AudioResult.at``), each resampled from the original samples. Input at another
rate is resampled with ``resampler``:

* ``"funasr"`` (default): FunASR's resampler, ``torchaudio.transforms.Resample`` with its defaults
  (windowed sinc, Hann, width 6, rolloff 0.99), reproduced in ``frontend/resample.py``: the same
  kernel, output length ``ceil(n * new / orig)``, samples within float32 rounding of torchaudio's.
* ``"soxr"``: ``soxr`` quality ``"HQ"`` (funasr_lite's resampler before; length rounded half up).

Input at the output rate is never resampled. Rates below ``MIN_SAMPLE_RATE`` (1000 Hz) are refused
(a damaged header claiming 1 Hz would make a 1 MB file gigabytes), and so are rate ratios whose
filter would be too large (``resample.MAX_KERNEL_TAPS``). The waveform is not clipped; it is
nominally in [-1, 1] (the x32768 scaling belongs to the ASR/VAD frontends). Every failure is an
``InputError`` naming the key and/or source.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse
from collections.abc import Container, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import soundfile
import soxr

from funasr_lite.data.kaldi_lists import PathLike, SegmentSource, iter_wav_scp
from funasr_lite.errors import InputError, one_line
from funasr_lite.frontend.fetch import PIPE_TIMEOUT_S, URL_MAX_BYTES, URL_TIMEOUT_S, download, last_line, run_pipe
from funasr_lite.frontend.resample import ResampleError, resample

TARGET_SR = 16000  # default output rate (FunASR's frontends' default fs)
RESAMPLERS = ("funasr", "soxr")
DEFAULT_RESAMPLER = "funasr"  # torchaudio's sinc Resample, as FunASR (frontend/resample.py)
RESAMPLE_QUALITY = "HQ"  # soxr quality for resampler="soxr"
DEFAULT_FS = 16000  # rate assumed for headerless input when ``fs`` is not given
MAX_CHANNELS = 16
MAX_FLOAT_PEAK = 2.0  # codecs overshoot 1.0 a little; far beyond means wrongly scaled input
SEGMENT_MAX_OVERSHOOT_S = 0.5  # Kaldi extract-segments --max-overshoot default
# lowest rate accepted: resampling multiplies the samples by sample_rate / rate, so a header claiming 1 Hz
# would turn a 1 MB file into gigabytes
MIN_SAMPLE_RATE = 1000
_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# schemes that are refused even without "//" (``data:audio/wav;base64,...``), unless such a file exists
_BARE_SCHEME = re.compile(
    r"^(data|file|ftp|ftps|gopher|sftp|scp|smb|tftp|dict|ldap|telnet|jar|javascript|mailto):", re.IGNORECASE
)
ALLOW_PIPES_ENV = "FUNASR_LITE_ALLOW_PIPES"
_SIGNATURES = [
    (0, b"RIFF", "wav"),
    (0, b"RIFX", "wav"),
    (0, b"RF64", "wav"),
    (0, b"BW64", "wav"),
    (0, b"fLaC", "flac"),
    (0, b"OggS", "ogg"),
    (0, b"ID3", "mp3"),
    (0, b"FORM", "aiff"),
    (0, b".snd", "au"),
    (0, b"caff", "caf"),
    (4, b"ftyp", "m4a"),
    (0, b"\x1a\x45\xdf\xa3", "webm"),
]
# file suffix -> (libsndfile major format, subtype that must be available or None)
_SOUNDFILE_FORMATS = {
    "wav": ("WAV", None),
    "wave": ("WAV", None),
    "flac": ("FLAC", None),
    "ogg": ("OGG", None),
    "oga": ("OGG", None),
    "opus": ("OGG", "OPUS"),
    "mp3": ("MP3", None),
    "aif": ("AIFF", None),
    "aiff": ("AIFF", None),
    "au": ("AU", None),
    "snd": ("AU", None),
    "caf": ("CAF", None),
    "w64": ("W64", None),
    "rf64": ("RF64", None),
}

# str | os.PathLike | bytes | bytearray | np.ndarray | torch.Tensor | (source, start_s, end_s)
AudioSource = Any


@dataclass(frozen=True)
class AudioResult:
    """A decoded waveform: float32, 1-D, at ``sample_rate``, plus the rate the input had.

    ``others`` holds the same audio at the ``also_at`` rates that were asked for.
    """

    waveform: np.ndarray
    sample_rate_orig: int
    sample_rate: int = TARGET_SR
    others: Mapping[int, np.ndarray] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return len(self.waveform) / self.sample_rate

    def at(self, rate: int) -> np.ndarray:
        """The waveform at ``rate`` (``sample_rate`` or one of the ``also_at`` rates)."""
        if rate == self.sample_rate:
            return self.waveform
        if rate not in self.others:
            raise KeyError(f"audio was loaded at {self.sample_rate} Hz and {sorted(self.others)}, not {rate} Hz")
        return self.others[rate]


class _Output(NamedTuple):
    """What ``_finish`` makes: the rates and the resampler."""

    sample_rate: int = TARGET_SR
    also_at: tuple[int, ...] = ()
    resampler: str = DEFAULT_RESAMPLER


class _Limits(NamedTuple):
    url_timeout_s: float
    url_max_bytes: int
    pipe_timeout_s: float | None
    allow_pipes: bool = False


def pipes_allowed(allow_pipes: bool | None = None) -> bool:
    """``allow_pipes`` when given, else whether ``$FUNASR_LITE_ALLOW_PIPES`` is 1/true/yes."""
    if allow_pipes is not None:
        return bool(allow_pipes)
    return os.environ.get(ALLOW_PIPES_ENV, "").strip().lower() in ("1", "true", "yes", "on")


class _Decoded(NamedTuple):
    samples: np.ndarray  # float32, shape (N, C)
    rate: int


def load_audio(
    source: AudioSource,
    fs: int | None = None,
    channel: int | None = None,
    key: str | None = None,
    *,
    url_timeout_s: float = URL_TIMEOUT_S,
    url_max_bytes: int = URL_MAX_BYTES,
    pipe_timeout_s: float | None = PIPE_TIMEOUT_S,
    allow_pipes: bool | None = None,
    sample_rate: int = TARGET_SR,
    also_at: tuple[int, ...] = (),
    resampler: str = DEFAULT_RESAMPLER,
) -> AudioResult:
    """Decode ``source`` (see the module docstring) to a mono float32 ``AudioResult`` at ``sample_rate``.

    ``fs``: rate of headerless input (arrays, raw PCM bytes, ``.pcm`` files); default 16000.
    ``channel``: pick one channel (0-based) instead of averaging. ``key``: names the item in
    errors. ``url_timeout_s`` bounds connecting, each read and the whole download;
    ``url_max_bytes`` caps the download; ``pipe_timeout_s`` bounds a ``cmd |`` command, which runs
    only with ``allow_pipes=True`` (``None``: ``$FUNASR_LITE_ALLOW_PIPES``). ``sample_rate``: the
    output rate; ``also_at``: more output rates (``AudioResult.at``); ``resampler``: ``"funasr"``
    or ``"soxr"``. Raises ``InputError`` for every bad input (``ValueError`` for bad options).
    """
    out = _output(sample_rate, also_at, resampler)
    item = _item_name(source, key)
    limits = _Limits(url_timeout_s, url_max_bytes, pipe_timeout_s, pipes_allowed(allow_pipes))
    _check_fs(fs, item)
    if isinstance(source, tuple):
        inner, start_s, end_s = _split_segment(source, item)
        decoded = _decode(inner, fs, item, limits)
        return _finish(_cut(decoded, start_s, end_s, item), channel, item, out)
    return _finish(_decode(source, fs, item, limits), channel, item, out)


def load_wav_scp(
    wav_scp: PathLike,
    segments: PathLike | None = None,
    fs: int | None = None,
    channel: int | None = None,
    *,
    url_timeout_s: float = URL_TIMEOUT_S,
    url_max_bytes: int = URL_MAX_BYTES,
    pipe_timeout_s: float | None = PIPE_TIMEOUT_S,
    allow_pipes: bool | None = None,
    shard: tuple[int, int] | None = None,
    skip: Container[str] = (),
    sample_rate: int = TARGET_SR,
    also_at: tuple[int, ...] = (),
    resampler: str = DEFAULT_RESAMPLER,
) -> Iterator[tuple[str, AudioResult | InputError]]:
    """Yield ``(key, AudioResult or InputError)`` for every ``wav.scp`` line or segment.

    A bad item is yielded as its ``InputError`` (not raised) so a batch driver can log it and go
    on; errors in the lists themselves raise before the first item. With ``segments``, the last
    decoded recording is reused, so segments sorted by recording decode each file once.
    ``shard=(k, n)`` yields only the entries whose index is ``k`` modulo ``n`` (one DataLoader
    worker's share); keys in ``skip`` are passed over undecoded (a resumed job's finished ones).
    The other arguments are ``load_audio``'s.
    """
    out = _output(sample_rate, also_at, resampler)
    lim = _Limits(url_timeout_s, url_max_bytes, pipe_timeout_s, pipes_allowed(allow_pipes))
    cached: tuple[str, _Decoded | InputError] | None = None
    for index, (key, source) in enumerate(iter_wav_scp(wav_scp, segments)):
        if (shard is not None and index % shard[1] != shard[0]) or key in skip:
            continue
        item = _item_name(source, key)
        try:
            _check_fs(fs, item)
            if isinstance(source, SegmentSource):
                if cached is None or cached[0] != source.source:
                    cached = (source.source, _decode_or_error(source.source, fs, item, lim))
                decoded = cached[1]
                if isinstance(decoded, InputError):
                    raise InputError(item, decoded.problem)
                yield key, _finish(_cut(decoded, source.start_s, source.end_s, item), channel, item, out)
            else:
                yield key, _finish(_decode(source, fs, item, lim), channel, item, out)
        except InputError as err:
            yield key, err


# ---------------------------------------------------------------------------- naming and checks


def _describe(source: Any) -> str:
    """A short human-readable name for a source, used in error messages."""
    if isinstance(source, (str, os.PathLike)):
        text = str(source)
        return text if len(text) <= 200 else text[:197] + "..."
    if isinstance(source, (bytes, bytearray)):
        return f"<{len(source)} bytes>"
    if isinstance(source, tuple):
        return f"<segment of {_describe(source[0]) if source else '?'}>"
    shape = getattr(source, "shape", None)
    return f"<{type(source).__name__} shape {tuple(shape)}>" if shape is not None else f"<{type(source).__name__}>"


def _item_name(source: Any, key: str | None) -> str:
    """``key (source)`` when both are known, else whichever is."""
    described = _describe(source)
    return f"{key} ({described})" if key else described


def _output(sample_rate: Any, also_at: Any, resampler: Any) -> _Output:
    """Validate the output options (``ValueError``: they come from code or the command line, not an item)."""
    rates = (sample_rate, *also_at)
    for rate in rates:
        if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate < MIN_SAMPLE_RATE:
            raise ValueError(f"bad output sample rate {rate!r}: must be an integer >= {MIN_SAMPLE_RATE}")
    if resampler not in RESAMPLERS:
        raise ValueError(f"unknown resampler {resampler!r}: use one of {', '.join(RESAMPLERS)}")
    others = tuple(dict.fromkeys(int(r) for r in also_at if r != sample_rate))
    return _Output(int(sample_rate), others, resampler)


def _check_fs(fs: Any, item: str) -> None:
    """``fs`` must be ``None`` or a positive integer."""
    if fs is None:
        return
    if isinstance(fs, bool) or not isinstance(fs, (int, np.integer)) or fs <= 0:
        raise InputError(item, f"bad sample rate fs={fs!r}: must be a positive integer")


def _split_segment(source: tuple, item: str) -> tuple[Any, float, float]:
    """Validate a ``(source, start_s, end_s)`` tuple."""
    if len(source) != 3:
        raise InputError(item, "a segment must be (source, start_s, end_s)")
    inner, start_s, end_s = source
    try:
        start_s, end_s = float(start_s), float(end_s)
    except (TypeError, ValueError):
        raise InputError(item, f"segment times {start_s!r}, {end_s!r} are not numbers") from None
    if not (np.isfinite(start_s) and np.isfinite(end_s)) or start_s < 0:
        raise InputError(item, f"bad segment start {start_s} / end {end_s}")
    if end_s != -1 and end_s <= start_s:
        raise InputError(item, f"segment end {end_s} is not after start {start_s}")
    return inner, start_s, end_s


# ----------------------------------------------------------------------------------- decoding


def _decode(source: Any, fs: int | None, item: str, limits: _Limits) -> _Decoded:
    """Decode any source to ``(samples (N, C) float32, rate)`` at its original rate."""
    if isinstance(source, str):
        if source.rstrip().endswith("|"):
            if not limits.allow_pipes:
                raise InputError(
                    item,
                    "piped command refused: 'cmd |' entries run shell commands; enable "
                    f"them with --allow_pipes, allow_pipes=True or {ALLOW_PIPES_ENV}=1",
                )
            data = run_pipe(source.rstrip()[:-1].strip(), item, limits.pipe_timeout_s)
            return _decode_container(data, item, container_format(data) or "")
        match = _URL_SCHEME.match(source)
        if match:
            scheme = match.group(1).lower()
            if scheme not in ("http", "https"):
                raise InputError(item, f"URL scheme {scheme!r} is refused; only http and https")
            data = download(source, item, limits.url_timeout_s, limits.url_max_bytes)
            suffix = Path(urllib.parse.urlparse(source).path).suffix.lower().lstrip(".")
            if suffix == "pcm":
                return _raw_pcm(data, fs, item)
            return _decode_container(data, item, container_format(data) or suffix)
        bare = _BARE_SCHEME.match(source)
        if bare and not os.path.lexists(source):
            raise InputError(item, f"URL scheme {bare.group(1).lower()!r} is refused; only http and https")
        return _decode_path(Path(source), fs, item)
    if isinstance(source, os.PathLike):
        return _decode_path(Path(source), fs, item)
    if isinstance(source, (bytes, bytearray)):
        return _decode_bytes(bytes(source), fs, item)
    if isinstance(source, np.ndarray) or hasattr(source, "detach"):
        return _from_array(source, fs, item)
    raise InputError(item, f"unsupported audio source type {type(source).__name__}")


def _decode_or_error(source: Any, fs: int | None, item: str, limits: _Limits) -> _Decoded | InputError:
    """``_decode`` that returns its ``InputError`` instead of raising (for caching)."""
    try:
        return _decode(source, fs, item, limits)
    except InputError as err:
        return err


def _soundfile_read(file: Any) -> _Decoded:
    """Read with soundfile; raises whatever soundfile raises."""
    samples, rate = soundfile.read(file, dtype="float32", always_2d=True)
    return _Decoded(samples, int(rate))


def _decode_path(path: Path, fs: int | None, item: str) -> _Decoded:
    """Decode a file: ``.pcm`` raw, else soundfile, else ffmpeg."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(item, "file not found") from None
    except OSError as err:
        raise InputError(item, f"cannot access file: {err.strerror or err}") from None
    except ValueError as err:  # os.stat: "embedded null byte"
        raise InputError(item, f"not a usable file name: {one_line(err)}") from None
    if path.is_dir():
        raise InputError(item, "is a directory, not an audio file")
    if size == 0:
        raise InputError(item, "empty file (0 bytes)")
    if path.suffix.lower() == ".pcm":
        try:
            return _raw_pcm(path.read_bytes(), fs, item)
        except OSError as err:
            raise InputError(item, f"cannot read file: {err.strerror or err}") from None
    try:
        return _soundfile_read(str(path))
    except Exception as err:  # any soundfile failure means: not a format it can read
        sf_problem = _sf_problem(err)
    return _decode_with_ffmpeg(path, item, sf_problem, path.suffix.lower().lstrip("."))


def _decode_container(data: bytes, item: str, fmt: str) -> _Decoded:
    """Decode an in-memory audio file with soundfile, else ffmpeg on a temporary copy."""
    if not data:
        raise InputError(item, "no audio data (0 bytes)")
    try:
        return _soundfile_read(io.BytesIO(data))
    except Exception as err:  # any soundfile failure means: not a format it can read
        sf_problem = _sf_problem(err)
    if shutil.which("ffmpeg") is None:
        raise _no_ffmpeg_error(item, fmt, sf_problem)
    with tempfile.TemporaryDirectory(prefix="funasr_lite_") as tmp:
        path = Path(tmp) / (f"audio.{fmt}" if fmt else "audio")
        path.write_bytes(data)
        return _decode_with_ffmpeg(path, item, sf_problem, fmt)


def container_format(data: bytes) -> str | None:
    """The container a byte string starts like (FunASR's signatures plus AIFF/AU/CAF)."""
    for offset, magic, fmt in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return fmt
    return None


def _decode_bytes(data: bytes, fs: int | None, item: str) -> _Decoded:
    """Bytes with a container signature are that container; others are raw 16-bit PCM.

    Bare MPEG audio has no signature, only a frame sync: bytes that start with one are tried
    as MP3 and fall back to raw PCM when soundfile cannot read them.
    """
    if not data:
        raise InputError(item, "no audio data (0 bytes)")
    fmt = container_format(data)
    if fmt is not None:
        return _decode_container(data, item, fmt)
    if len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0:
        try:
            return _soundfile_read(io.BytesIO(data))
        except Exception:  # not MPEG after all: headerless PCM
            pass
    return _raw_pcm(data, fs, item)


def _raw_pcm(data: bytes, fs: int | None, item: str) -> _Decoded:
    """Headerless 16-bit little-endian mono PCM at ``fs`` (default 16000)."""
    if not data:
        raise InputError(item, "no audio data (0 bytes)")
    if len(data) % 2:
        raise InputError(item, f"raw 16-bit PCM needs an even byte count, got {len(data)}")
    samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / np.float32(32768.0)
    return _Decoded(samples[:, None], int(fs or DEFAULT_FS))


def _soundfile_reads(fmt: str) -> bool | None:
    """Whether this libsndfile build decodes ``fmt`` (``None``: not a libsndfile format at all).

    libsndfile before 1.1 has no MP3 and before 1.0.29 no Opus, so a known format may be missing.
    """
    if fmt not in _SOUNDFILE_FORMATS:
        return None
    major, subtype = _SOUNDFILE_FORMATS[fmt]
    try:
        if major not in soundfile.available_formats():
            return False
        return subtype is None or subtype in soundfile.available_subtypes(major)
    except Exception:  # noqa: BLE001 - an odd soundfile build: assume it reads the format
        return True


def _no_ffmpeg_error(item: str, fmt: str, sf_problem: str) -> InputError:
    """The error when soundfile failed and there is no ffmpeg to try."""
    reads = _soundfile_reads(fmt)
    if reads:  # soundfile reads this format: the data itself is bad
        return InputError(item, f"cannot decode {fmt}: {sf_problem} (corrupt or truncated?)")
    if reads is False:  # a format libsndfile knows, but not this build
        return InputError(
            item,
            f"cannot decode {fmt}: no {fmt} decoder (libsndfile "
            f"{soundfile.__libsndfile_version__} lacks it and ffmpeg is not "
            "installed); install ffmpeg",
        )
    return InputError(item, f"cannot decode {fmt or 'audio'} (soundfile: {sf_problem}); install ffmpeg")


def _decode_with_ffmpeg(path: Path, item: str, sf_problem: str, fmt: str) -> _Decoded:
    """Decode with the ffmpeg CLI at the native rate and channels (float32 WAV on stdout)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise _no_ffmpeg_error(item, fmt, sf_problem)
    command = [
        ffmpeg,
        "-nostdin",
        "-v",
        "error",
        "-i",
        f"file:{path.resolve()}",
        "-vn",
        "-f",
        "wav",
        "-c:a",
        "pcm_f32le",
        "-",
    ]
    try:
        proc = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, timeout=PIPE_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise InputError(item, f"ffmpeg failed: {one_line(err)}") from None
    if proc.returncode != 0 or not proc.stdout:
        ff_problem = last_line(proc.stderr).replace(f"file:{path.resolve()}: ", "")  # the item is named already
        raise InputError(
            item, f"cannot decode {fmt or 'audio'}: soundfile: {sf_problem}; ffmpeg: {ff_problem or 'no output'}"
        )
    try:
        return _soundfile_read(io.BytesIO(proc.stdout))
    except Exception as err:  # ffmpeg produced something unreadable
        raise InputError(item, f"cannot read ffmpeg's output: {_sf_problem(err)}") from None


def _from_array(array: Any, fs: int | None, item: str) -> _Decoded:
    """Numpy array or torch tensor of shape (N,) or (N, C) -> float32 (N, C)."""
    if hasattr(array, "detach"):  # torch.Tensor, without importing torch here
        tensor = array.detach().cpu()
        if tensor.dtype.is_floating_point and tensor.dtype.itemsize < 4:
            tensor = tensor.float()  # bfloat16 has no numpy counterpart
        array = tensor.numpy()
    array = np.asarray(array)
    if array.dtype == np.int16:
        samples = array.astype(np.float32) / np.float32(32768.0)
    elif array.dtype == np.int32:
        samples = (array.astype(np.float64) / 2.0**31).astype(np.float32)
    elif np.issubdtype(array.dtype, np.floating):
        samples = array.astype(np.float32)
    else:
        raise InputError(item, f"unsupported sample dtype {array.dtype}: use float, int16 or int32")
    if samples.ndim == 1:
        samples = samples[:, None]
    elif samples.ndim != 2 or not 1 <= samples.shape[1] <= MAX_CHANNELS:
        raise InputError(
            item,
            f"expected shape (samples,) or (samples, channels<={MAX_CHANNELS}), "
            f"got {array.shape}; transpose (channels, samples) arrays",
        )
    return _Decoded(np.ascontiguousarray(samples), int(fs or DEFAULT_FS))


# ------------------------------------------------------------------- cut, mix, check, resample


def _cut(decoded: _Decoded, start_s: float, end_s: float, item: str) -> _Decoded:
    """Cut ``[start_s, end_s)`` at the original rate (Kaldi's overshoot rule for the end)."""
    samples, rate = decoded
    total = len(samples)
    start = round(start_s * rate)
    end = total if end_s == -1 else round(end_s * rate)
    if start >= total:
        raise InputError(item, f"segment start {start_s} s is past the end of the audio ({total / rate:.3f} s)")
    if end > total:
        if end >= total + int(SEGMENT_MAX_OVERSHOOT_S * rate):
            raise InputError(item, f"segment end {end_s} s is past the end of the audio ({total / rate:.3f} s)")
        end = total
    return _Decoded(samples[start:end], rate)


def _finish(decoded: _Decoded, channel: int | None, item: str, out: _Output = _Output()) -> AudioResult:
    """Pick or average channels, check the samples, resample to the output rate(s)."""
    samples, rate = decoded
    if rate <= 0:
        raise InputError(item, f"bad sample rate {rate}")
    if rate < MIN_SAMPLE_RATE:
        raise InputError(
            item, f"implausible sample rate {rate} Hz (below {MIN_SAMPLE_RATE} Hz: a damaged header or a wrong fs?)"
        )
    n_channels = samples.shape[1]
    if channel is None:
        mono = samples[:, 0] if n_channels == 1 else samples.mean(axis=1, dtype=np.float32)
    elif isinstance(channel, bool) or not isinstance(channel, (int, np.integer)) or not 0 <= channel < n_channels:
        raise InputError(item, f"channel {channel!r} out of range: audio has {n_channels} channel(s)")
    else:
        mono = samples[:, channel]
    if mono.size == 0:
        raise InputError(item, "no samples (zero-length audio)")
    peak = max(float(np.max(mono)), -float(np.min(mono)))  # no |x| temporary: hours of audio are large
    if not np.isfinite(peak):
        raise InputError(item, "samples contain NaN or Inf")
    if peak > MAX_FLOAT_PEAK:
        raise InputError(
            item, f"samples reach {peak:g}, expected floats in [-1, 1] (pass 16-bit data as int16 or divide by 32768)"
        )
    mono = np.ascontiguousarray(mono, dtype=np.float32)
    others = {r: resample_audio(mono, rate, r, out.resampler, item) for r in out.also_at}
    return AudioResult(
        resample_audio(mono, rate, out.sample_rate, out.resampler, item), int(rate), out.sample_rate, others
    )


def resample_audio(
    mono: np.ndarray, rate: int, target: int, resampler: str = DEFAULT_RESAMPLER, item: str = "waveform"
) -> np.ndarray:
    """``mono`` (float32) from ``rate`` to ``target`` with ``resampler`` (``"funasr"`` or ``"soxr"``);
    the same array at equal rates. Raises ``InputError`` naming ``item`` when it cannot."""
    if resampler not in RESAMPLERS:
        raise ValueError(f"unknown resampler {resampler!r}: use one of {', '.join(RESAMPLERS)}")
    if rate == target:
        return mono
    if resampler == "soxr":
        try:
            out = soxr.resample(mono, rate, target, quality=RESAMPLE_QUALITY)
        except Exception as err:  # soxr refuses extreme rate ratios
            raise InputError(item, f"cannot resample from {rate} Hz: {one_line(err)}") from None
    else:
        try:
            out = resample(mono, rate, target)
        except ResampleError as err:
            raise InputError(
                item,
                f"cannot resample from {rate} Hz to {target} Hz: {one_line(err)}; "
                "convert the audio to a common rate first",
            ) from None
    if out.size == 0:
        raise InputError(item, f"no samples left after resampling from {rate} Hz")
    return np.ascontiguousarray(out, dtype=np.float32)


def _sf_problem(err: Exception) -> str:
    """soundfile's reason without its ``Error opening <file>:`` preamble."""
    problem = one_line(getattr(err, "error_string", None) or err)
    if problem.startswith("File does not exist or is not a regular file"):
        # libsndfile's words when its MPEG probe rejects an unknown header: the file exists (it was stat-ed)
        return "format not recognised"
    return problem
