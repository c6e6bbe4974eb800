"""Tests for funasr_lite.frontend.audio.load_audio: every source kind, resampling, errors.

All audio is generated here. Expectations are computed independently of the loader: from the
int16 samples written, by hand-computed sample indices, or from an FFT of the output.
"""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch
from conftest import QuietHandler, clear_proxies, serve_http
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funasr_lite.errors import InputError
from funasr_lite.frontend import audio
from funasr_lite.frontend.audio import AudioResult, load_audio, load_wav_scp

settings.register_profile(
    "funasr_lite", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
PROFILE = settings.get_profile("funasr_lite")
HAS_FFMPEG = shutil.which("ffmpeg") is not None
HAS_SOX = shutil.which("sox") is not None
needs_ffmpeg = pytest.mark.skipif(not HAS_FFMPEG, reason="ffmpeg binary not installed")
needs_sox = pytest.mark.skipif(not HAS_SOX, reason="sox binary not installed")


def tone(freq: float, sr: int, n: int, amp: float = 0.5) -> np.ndarray:
    """A float64 sine of ``n`` samples."""
    return amp * np.sin(2 * np.pi * freq * np.arange(n) / sr)


def int16_signal(n: int = 16000, seed: int = 0) -> np.ndarray:
    """Speech-like int16 content: two tones plus noise, covering the int16 extremes."""
    rng = np.random.default_rng(seed)
    x = tone(440, 16000, n, 0.3) + tone(1234, 16000, n, 0.2) + rng.normal(0, 0.05, n)
    pcm = np.round(x * 32767).astype(np.int16)
    pcm[:2] = [-32768, 32767]
    return pcm


def peak_hz(y: np.ndarray, sr: int) -> float:
    """Frequency of the largest FFT bin of the middle of ``y`` (Hann window)."""
    mid = y[len(y) // 4 : 3 * len(y) // 4]
    spectrum = np.abs(np.fft.rfft(mid * np.hanning(len(mid)), n=sr))  # 1 Hz bins
    return float(np.argmax(spectrum))


def rms_mid(y: np.ndarray) -> float:
    mid = y[len(y) // 4 : 3 * len(y) // 4]
    return float(np.sqrt(np.mean(np.square(mid, dtype=np.float64))))


def sine_matches(result: AudioResult, freq: float, amp: float, tol: float = 0.02) -> None:
    assert abs(peak_hz(result.waveform, 16000) - freq) <= 2
    assert rms_mid(result.waveform) == pytest.approx(amp / math.sqrt(2), rel=tol)


# ------------------------------------------------------------------- same content, every kind


@pytest.fixture()
def pcm() -> np.ndarray:
    return int16_signal()


@pytest.fixture()
def wav16(tmp_path: Path, pcm: np.ndarray) -> Path:
    path = tmp_path / "a b.wav"  # a space in the name, as wav.scp allows
    sf.write(path, pcm, 16000, subtype="PCM_16")
    return path


def test_16bit_wav_reads_int_over_32768_exactly(wav16: Path, pcm: np.ndarray) -> None:
    result = load_audio(wav16)
    expected = pcm.astype(np.float64) / 32768.0  # independent of soundfile
    assert result.waveform.dtype == np.float32 and result.waveform.ndim == 1
    assert result.sample_rate_orig == 16000
    np.testing.assert_array_equal(result.waveform.astype(np.float64), expected)
    assert result.waveform[0] == -1.0 and result.waveform[1] == 32767 / 32768


def test_every_input_kind_gives_the_same_waveform(tmp_path: Path, wav16: Path, pcm: np.ndarray) -> None:
    expected = (pcm.astype(np.float64) / 32768.0).astype(np.float32)
    flac = tmp_path / "a.flac"
    sf.write(flac, pcm, 16000, subtype="PCM_16")
    raw = tmp_path / "a.pcm"
    raw.write_bytes(pcm.astype("<i2").tobytes())
    scp = tmp_path / "wav.scp"
    scp.write_text(f"k1 {wav16}\nk2 cat '{wav16}' |\nk3 {flac}\nk4 {raw}\n")
    sources = {
        "path": str(wav16),
        "pathlike": wav16,
        "wav bytes": wav16.read_bytes(),
        "bytearray": bytearray(wav16.read_bytes()),
        "raw pcm bytes": pcm.astype("<i2").tobytes(),
        "numpy int16": pcm,
        "numpy int32": pcm.astype(np.int32) << 16,
        "numpy float32": expected.copy(),
        "numpy float64 (N,1)": (pcm.astype(np.float64) / 32768)[:, None],
        "torch float": torch.from_numpy(expected.copy()),
        "torch int16": torch.from_numpy(pcm.copy()),
        "pipe": f"cat '{wav16}' |",
        "flac": flac,
        "pcm file": raw,
        "segment -1": (str(wav16), 0, -1),
    }
    for name, source in sources.items():
        result = load_audio(source, allow_pipes=True)  # the 'cmd |' source needs the opt-in
        assert result.sample_rate_orig == 16000, name
        np.testing.assert_array_equal(result.waveform, expected, err_msg=name)
    scp_results = dict(load_wav_scp(scp, allow_pipes=True))
    assert list(scp_results) == ["k1", "k2", "k3", "k4"]
    for name, result in scp_results.items():
        assert isinstance(result, AudioResult), result
        np.testing.assert_array_equal(result.waveform, expected, err_msg=name)


@needs_sox
def test_sox_pipe_like_kaldi(tmp_path: Path, wav16: Path, pcm: np.ndarray) -> None:
    result = load_audio(f"sox '{wav16}' -t wav - |", allow_pipes=True)
    np.testing.assert_array_equal(result.waveform, pcm / np.float32(32768))


@needs_ffmpeg
def test_m4a_alac_through_ffmpeg_is_exact(tmp_path: Path, wav16: Path, pcm: np.ndarray) -> None:
    m4a = tmp_path / "a.m4a"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(wav16), "-c:a", "alac", str(m4a)], check=True)
    for source in (m4a, m4a.read_bytes()):  # bytes: the 'ftyp' signature routes to ffmpeg
        result = load_audio(source, key="utt")
        np.testing.assert_array_equal(result.waveform, pcm / np.float32(32768))


# --------------------------------------------------------------------------------- resampling


@pytest.mark.parametrize("sr, n", [(8000, 8001), (44100, 44123), (48000, 48007), (22050, 22051)])
def test_resample_keeps_frequency_amplitude_and_funasr_length(tmp_path: Path, sr: int, n: int) -> None:
    path = tmp_path / f"sine{sr}.wav"
    sf.write(path, tone(1000, sr, n).astype(np.float32), sr, subtype="FLOAT")
    result = load_audio(path)  # default resampler: FunASR's (torchaudio's sinc Resample)
    assert result.sample_rate_orig == sr and result.sample_rate == 16000
    assert len(result.waveform) == math.ceil(n * 16000 / sr)  # torchaudio: ceil
    sine_matches(result, 1000, 0.5, tol=0.005)


@pytest.mark.parametrize("sr, n", [(8000, 8001), (44100, 44123), (48000, 48007), (22050, 22051)])
def test_soxr_resampler_keeps_frequency_amplitude_and_soxr_length(tmp_path: Path, sr: int, n: int) -> None:
    path = tmp_path / f"sine{sr}.wav"
    sf.write(path, tone(1000, sr, n).astype(np.float32), sr, subtype="FLOAT")
    result = load_audio(path, resampler="soxr")
    assert result.sample_rate_orig == sr
    assert len(result.waveform) == math.floor(n * 16000 / sr + 0.5)  # soxr: round half up
    sine_matches(result, 1000, 0.5, tol=0.005)
    x = sf.read(path, dtype="float32")[0]
    np.testing.assert_array_equal(result.waveform, soxr.resample(x, sr, 16000, quality="HQ"))  # the old path


def test_resample_length_rounds() -> None:
    # 3 samples at 32 kHz -> 1.5 samples at 16 kHz: 2 with both resamplers; 1 at 48 kHz -> 1/3: 1 (ceil) or 0 (soxr)
    assert len(load_audio(np.zeros(3, np.float32), fs=32000).waveform) == 2
    assert len(load_audio(np.zeros(3, np.float32), fs=32000, resampler="soxr").waveform) == 2
    assert len(load_audio(np.zeros(1, np.float32), fs=48000).waveform) == 1


def test_numpy_at_other_rate_is_resampled() -> None:
    result = load_audio(tone(500, 8000, 8000).astype(np.float32), fs=8000)
    assert result.sample_rate_orig == 8000 and len(result.waveform) == 16000
    sine_matches(result, 500, 0.5, tol=0.005)


def test_output_rate_and_also_at() -> None:
    """``sample_rate`` sets the output rate; ``also_at`` adds other rates, each from the original samples."""
    from funasr_lite.frontend.resample import resample

    x = tone(500, 44100, 44100).astype(np.float32)
    r = load_audio(x, fs=44100, sample_rate=8000, also_at=(16000, 8000))
    assert r.sample_rate == 8000 and len(r.waveform) == 8000 and r.duration_s == 1.0
    np.testing.assert_array_equal(r.waveform, resample(x, 44100, 8000))
    np.testing.assert_array_equal(r.at(16000), resample(x, 44100, 16000))
    assert r.at(8000) is r.waveform and list(r.others) == [16000]
    with pytest.raises(KeyError, match="not 22050 Hz"):
        r.at(22050)
    same = load_audio(x[:8000], fs=8000, sample_rate=8000)
    np.testing.assert_array_equal(same.waveform, x[:8000])  # the output rate: never resampled
    for bad in ({"sample_rate": 0}, {"sample_rate": 16000.0}, {"also_at": (999,)}, {"resampler": "sinc"}):
        with pytest.raises(ValueError):
            load_audio(x, fs=44100, **bad)


def test_extreme_rate_ratio_is_refused_in_one_line() -> None:
    """FunASR's resampler needs a (new x taps) filter for the gcd-reduced ratio: a prime rate near 2**31
    (a damaged header) would need 16000 x 1.6M taps; it is refused naming the item and the rates."""
    with pytest.raises(InputError) as err:
        load_audio(np.zeros(3000, np.float32), fs=2147483647, key="k")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(
        "k (<ndarray shape (3000,)>): cannot resample from 2147483647 Hz to 16000 Hz"
    )
    assert "convert the audio to a common rate first" in msg
    assert len(load_audio(np.zeros(3000, np.float32), fs=44101).waveform) == math.ceil(3000 * 16000 / 44101)


# --------------------------------------------------------------------------------- channels


@pytest.fixture()
def stereo(tmp_path: Path) -> tuple[Path, np.ndarray]:
    left = np.round(tone(300, 16000, 16000, 0.4) * 32767).astype(np.int16)
    right = np.round(tone(2000, 16000, 16000, 0.2) * 32767).astype(np.int16)
    both = np.stack([left, right], axis=1)
    path = tmp_path / "stereo.wav"
    sf.write(path, both, 16000, subtype="PCM_16")
    return path, both


def test_stereo_mixdown_is_channel_mean(stereo: tuple[Path, np.ndarray]) -> None:
    path, both = stereo
    expected = (both[:, 0].astype(np.float64) + both[:, 1]) / 2 / 32768
    np.testing.assert_allclose(load_audio(path).waveform, expected, rtol=0, atol=1e-7)
    np.testing.assert_allclose(load_audio(both).waveform, expected, rtol=0, atol=1e-7)


def test_channel_selection(stereo: tuple[Path, np.ndarray]) -> None:
    path, both = stereo
    for ch in (0, 1):
        np.testing.assert_array_equal(load_audio(path, channel=ch).waveform, both[:, ch] / np.float32(32768))
    for bad in (2, -1, 1.0):
        with pytest.raises(InputError, match=r"stereo.wav: channel .* out of range: audio has 2"):
            load_audio(path, channel=bad)


# --------------------------------------------------------------------------------- segments


@pytest.fixture()
def ramp(tmp_path: Path) -> Path:
    """2 s at 16 kHz whose sample i has the value i (int16), so cuts are easy to check."""
    path = tmp_path / "ramp.wav"
    sf.write(path, np.arange(32000, dtype=np.int16), 16000, subtype="PCM_16")
    return path


def test_segment_cut_at_hand_computed_samples(ramp: Path) -> None:
    cases = {
        (0.5, 1.25): (8000, 20000),
        (0.0, 0.001): (0, 16),
        (1.5, -1): (24000, 32000),
        (0.1234, 0.5): (1974, 8000),  # 0.1234 * 16000 = 1974.4 -> 1974
        (1.8, 2.3): (28800, 32000),
    }  # 0.3 s overshoot is within Kaldi's 0.5 s: truncated
    for (start, end), (first, stop) in cases.items():
        got = load_audio((str(ramp), start, end)).waveform
        np.testing.assert_array_equal(got * 32768, np.arange(first, stop), err_msg=str(start))


def test_segment_cut_before_resampling(tmp_path: Path) -> None:
    x = tone(700, 8000, 16000).astype(np.float32)
    path = tmp_path / "r8k.wav"
    sf.write(path, x, 8000, subtype="FLOAT")
    got = load_audio((path, 0.5, 1.5)).waveform  # samples 4000..12000 at 8 kHz
    from funasr_lite.frontend.resample import resample

    np.testing.assert_array_equal(got, resample(x[4000:12000], 8000, 16000))
    assert len(got) == 16000
    old = load_audio((path, 0.5, 1.5), resampler="soxr").waveform
    np.testing.assert_array_equal(old, soxr.resample(x[4000:12000], 8000, 16000, quality="HQ"))


def test_segment_past_the_end(ramp: Path) -> None:
    with pytest.raises(InputError, match=r"ramp.wav.*start 2.5 s is past the end .*2.000 s"):
        load_audio((str(ramp), 2.5, 3.0))
    with pytest.raises(InputError, match=r"ramp.wav.*end 2.6 s is past the end"):
        load_audio((str(ramp), 1.0, 2.6))
    for bad in ((str(ramp), 1.0, 0.5), (str(ramp), -1, 1), (str(ramp), "a", 1), (str(ramp), 1)):
        with pytest.raises(InputError, match="ramp.wav"):
            load_audio(bad)


def test_load_wav_scp_with_segments(tmp_path: Path, ramp: Path) -> None:
    (tmp_path / "wav.scp").write_text(f"r1 {ramp}\nr2 cat {ramp} |\nr3 {tmp_path}/gone.wav\n")
    (tmp_path / "segments").write_text("s1 r1 0 0.5\ns2 r1 0.5 1\ns3 r2 1.0 -1\ns4 r3 0 1\ns5 r1 3 4\n")
    out = dict(load_wav_scp(tmp_path / "wav.scp", tmp_path / "segments", allow_pipes=True))
    assert list(out) == ["s1", "s2", "s3", "s4", "s5"]
    np.testing.assert_array_equal(out["s1"].waveform * 32768, np.arange(0, 8000))
    np.testing.assert_array_equal(out["s2"].waveform * 32768, np.arange(8000, 16000))
    np.testing.assert_array_equal(out["s3"].waveform * 32768, np.arange(16000, 32000))
    assert isinstance(out["s4"], InputError) and "s4" in str(out["s4"])
    assert "gone.wav" in str(out["s4"]) and "file not found" in str(out["s4"])
    assert isinstance(out["s5"], InputError) and str(out["s5"]).startswith("s5 ")


def test_load_wav_scp_yields_errors_and_goes_on(tmp_path: Path, wav16: Path) -> None:
    (tmp_path / "wav.scp").write_text(f"a {wav16}\nb {tmp_path}/missing.wav\nc false |\nd {wav16}\n")
    out = list(load_wav_scp(tmp_path / "wav.scp"))
    assert [key for key, _ in out] == ["a", "b", "c", "d"]
    kinds = [type(value).__name__ for _, value in out]
    assert kinds == ["AudioResult", "InputError", "InputError", "AudioResult"]
    assert str(out[1][1]).startswith("b (") and "missing.wav" in str(out[1][1])


# ---------------------------------------------------------------------- lossy / other formats


@pytest.mark.parametrize(
    "name, sr, kwargs",
    [("a.mp3", 44100, {}), ("a.ogg", 22050, {}), ("a.opus", 48000, {"format": "OGG", "subtype": "OPUS"})],
)
def test_lossy_formats_through_soundfile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, sr: int, kwargs: dict
) -> None:
    path = tmp_path / name
    sf.write(path, tone(1000, sr, 2 * sr).astype(np.float32), sr, **kwargs)
    monkeypatch.setattr(audio.shutil, "which", lambda _name: None)  # proves: no ffmpeg used
    result = load_audio(path)
    assert result.sample_rate_orig == sr
    assert abs(len(result.waveform) - 32000) <= 0.01 * 32000
    sine_matches(result, 1000, 0.5, tol=0.05)


@pytest.fixture()
def aac(tmp_path: Path) -> Path:
    if not HAS_FFMPEG:
        pytest.skip("ffmpeg binary not installed")
    src, m4a = tmp_path / "src.wav", tmp_path / "a.m4a"
    sf.write(src, tone(1000, 44100, 44100).astype(np.float32), 44100, subtype="FLOAT")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(src), "-c:a", "aac", "-b:a", "128k", str(m4a)], check=True
    )
    return m4a


def test_aac_m4a_through_ffmpeg(aac: Path) -> None:
    result = load_audio(aac)
    assert result.sample_rate_orig == 44100
    sine_matches(result, 1000, 0.5, tol=0.05)


def test_without_ffmpeg_says_install_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    m4a = tmp_path / "voice.m4a"
    m4a.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(200))  # needs no ffmpeg to create
    monkeypatch.setattr(audio.shutil, "which", lambda _name: None)
    with pytest.raises(InputError, match=r"voice.m4a: cannot decode m4a .*; install ffmpeg$"):
        load_audio(m4a)
    with pytest.raises(InputError, match=r"^utt7 \(.*voice.m4a\): .*install ffmpeg"):
        load_audio(str(m4a), key="utt7")


# ------------------------------------------------------------------------------- bad inputs


def _bad_files(tmp: Path) -> dict[str, tuple[object, str]]:
    """name -> (source, expected problem regex)."""
    good = io.BytesIO()
    sf.write(good, np.zeros(1000, np.int16), 16000, format="WAV", subtype="PCM_16")
    (tmp / "empty.wav").write_bytes(b"")
    (tmp / "cut.wav").write_bytes(good.getvalue()[:20])
    (tmp / "random.wav").write_bytes(np.random.default_rng(1).bytes(3000))
    sf.write(tmp / "nan.wav", np.array([0.1, np.nan, 0.2], np.float32), 16000, subtype="FLOAT")
    sf.write(tmp / "inf.wav", np.array([0.1, np.inf, 0.2], np.float32), 16000, subtype="FLOAT")
    sf.write(tmp / "zero.wav", np.zeros(0, np.int16), 16000, subtype="PCM_16")
    sf.write(tmp / "loud.wav", np.array([0.1, 300.0], np.float32), 16000, subtype="FLOAT")
    (tmp / "odd.pcm").write_bytes(b"\x01\x02\x03")
    (tmp / "dir.wav").mkdir()
    return {
        "missing": (tmp / "missing.wav", "missing.wav: file not found"),
        "empty": (tmp / "empty.wav", r"empty.wav: empty file \(0 bytes\)"),
        "truncated header": (tmp / "cut.wav", "cut.wav: cannot decode wav"),
        "random bytes": (tmp / "random.wav", "random.wav: cannot decode wav"),
        "nan": (tmp / "nan.wav", "nan.wav: samples contain NaN or Inf"),
        "inf": (tmp / "inf.wav", "inf.wav: samples contain NaN or Inf"),
        "zero samples": (tmp / "zero.wav", r"zero.wav: no samples"),
        "wrongly scaled floats": (tmp / "loud.wav", r"loud.wav: samples reach 300"),
        "odd pcm": (tmp / "odd.pcm", "odd.pcm: raw 16-bit PCM needs an even byte count, got 3"),
        "directory": (tmp / "dir.wav", "dir.wav: is a directory"),
        "failing pipe": ("echo boom >&2; exit 3 |", r"command exited with status 3: boom"),
        "silent pipe": ("true |", "command produced no output"),
        "pipe not audio": ("echo hello |", "cannot decode"),
        "ftp url": ("ftp://example.com/a.wav", "URL scheme 'ftp' is refused"),
        "file url": (f"file://{tmp}/zero.wav", "URL scheme 'file' is refused"),
        "broken wav bytes": (good.getvalue()[:30], "cannot decode wav"),
        "empty bytes": (b"", r"no audio data \(0 bytes\)"),
        "odd raw bytes": (b"\x00\x01\x02", "even byte count"),
        "(C, N) array": (np.zeros((2, 1600), np.float32), r"transpose \(channels, samples\)"),
        "3-D array": (np.zeros((2, 2, 2), np.float32), "expected shape"),
        "bool array": (np.zeros(10, bool), "unsupported sample dtype bool"),
        "empty array": (np.zeros(0, np.float32), "no samples"),
        "nan tensor": (torch.tensor([0.0, float("nan")]), "NaN or Inf"),
        "int16 scale mistake": (np.full(10, 1000.0, np.float32), "samples reach 1000"),
        "unknown type": (12345, "unsupported audio source type int"),
    }


@pytest.mark.parametrize("with_ffmpeg", [True, False])
def test_bad_inputs_raise_input_error_naming_item(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_ffmpeg: bool
) -> None:
    if with_ffmpeg and not HAS_FFMPEG:
        pytest.skip("ffmpeg binary not installed")
    if not with_ffmpeg:
        monkeypatch.setattr(audio.shutil, "which", lambda _name: None)
    for name, (source, problem) in _bad_files(tmp_path).items():
        with pytest.raises(InputError, match=problem) as info:
            load_audio(source, allow_pipes=True)  # the pipe cases need the opt-in
        if isinstance(source, (str, Path)):
            assert str(source) in str(info.value), name
        with pytest.raises(InputError) as info:
            load_audio(source, key="KEY1", allow_pipes=True)
        assert str(info.value).startswith("KEY1 ("), name
        assert "\n" not in str(info.value), name


def test_one_sample_at_48k(tmp_path: Path) -> None:
    """soxr rounds 1/3 of a sample to none (an error naming the file); FunASR's resampler keeps ceil(1/3) = 1."""
    sf.write(tmp_path / "one48k.wav", np.zeros(1, np.int16), 48000, subtype="PCM_16")
    with pytest.raises(InputError, match="one48k.wav: no samples left after resampling from 48000 Hz"):
        load_audio(tmp_path / "one48k.wav", resampler="soxr")
    assert load_audio(tmp_path / "one48k.wav").waveform.tolist() == [0.0]


@pytest.mark.parametrize("fs", [0, -16000, 16000.5, True, "16000"])
def test_bad_fs(fs: object) -> None:
    with pytest.raises(InputError, match="bad sample rate fs="):
        load_audio(np.zeros(100, np.float32), fs=fs)


def test_pipe_timeout_kills_the_command() -> None:
    start = time.monotonic()
    with pytest.raises(InputError, match="sleep 30; echo x.*timed out after 0.5 s"):
        load_audio("sleep 30; echo x |", pipe_timeout_s=0.5, allow_pipes=True)
    assert time.monotonic() - start < 5


def test_raw_pcm_fs_sets_the_rate(tmp_path: Path) -> None:
    x = np.round(tone(1000, 8000, 8000) * 32767).astype("<i2")
    (tmp_path / "a.pcm").write_bytes(x.tobytes())
    for source in (tmp_path / "a.pcm", x.tobytes()):
        result = load_audio(source, fs=8000)
        assert result.sample_rate_orig == 8000 and len(result.waveform) == 16000
        sine_matches(result, 1000, 0.5, tol=0.005)


# ------------------------------------------------------------------------------------- URLs


class _Handler(QuietHandler):
    """Routes for the URL tests; bodies come from the server's ``files`` dict."""

    def do_GET(self) -> None:  # noqa: N802
        wav = self.server.files["wav"]  # type: ignore[attr-defined]
        if self.path == "/a.wav":
            self._send(200, wav)
        elif self.path == "/nolength.wav":
            self._send(200, wav, length=False)
        elif self.path == "/a.pcm":
            self._send(200, self.server.files["pcm"])  # type: ignore[attr-defined]
        elif self.path == "/redirect":
            self._send(302, headers={"Location": "/a.wav"})
        elif self.path == "/loop":
            self._send(302, headers={"Location": "/loop"})
        elif self.path.startswith("/hop"):
            hop = int(self.path[4:])
            self._send(302, headers={"Location": f"/hop{hop + 1}"})
        elif self.path == "/tofile":
            self._send(302, headers={"Location": "file:///etc/hostname"})
        elif self.path == "/html":
            self._send(200, b"<html>not audio</html>")
        elif self.path in ("/endless.wav", "/stall.wav"):
            self._stream(wav[:44])
        else:
            self._send(404, b"not found")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    buf = io.BytesIO()
    pcm = int16_signal(8000, seed=3)
    sf.write(buf, pcm, 16000, format="WAV", subtype="PCM_16")
    files = {"wav": buf.getvalue(), "pcm": pcm.astype("<i2").tobytes(), "expected": pcm / np.float32(32768)}
    with serve_http(_Handler, files=files) as url:
        yield url


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_proxies(monkeypatch)


def test_url_success(server: str) -> None:
    expected = int16_signal(8000, seed=3) / np.float32(32768)
    for path in ("/a.wav", "/nolength.wav", "/redirect"):
        np.testing.assert_array_equal(load_audio(server + path).waveform, expected, path)
    np.testing.assert_array_equal(load_audio(server + "/a.pcm").waveform, expected)


def test_url_redirect_limit(server: str) -> None:
    # /hop0 -> /hop1 -> ... never ends; /loop redirects to itself.
    for path in ("/hop0", "/loop"):
        with pytest.raises(InputError, match=rf"{path}: HTTP 302: too many redirects \(limit 5\)"):
            load_audio(server + path)


@pytest.mark.parametrize(
    "path, kwargs, problem",
    [
        ("/missing.wav", {}, "HTTP error 404"),
        ("/a.wav", {"url_max_bytes": 1000}, r"download too big: \d+ bytes > limit 1000"),
        ("/nolength.wav", {"url_max_bytes": 1000}, "download too big: over limit 1000 bytes"),
        ("/endless.wav", {"url_timeout_s": 1.0}, r"download timed out after 1.0 s"),
        ("/stall.wav", {"url_timeout_s": 1.0}, r"download timed out after 1.0 s"),
        ("/tofile", {}, "cannot fetch URL: redirect to a 'file' URL refused"),
        ("/html", {}, "cannot decode"),
    ],
)
def test_url_errors(server: str, path: str, kwargs: dict, problem: str) -> None:
    start = time.monotonic()
    with pytest.raises(InputError, match=problem) as info:
        load_audio(server + path, **kwargs)
    assert str(info.value).startswith(server + path)
    assert time.monotonic() - start < 4


def test_dead_url() -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(InputError, match=rf"127.0.0.1:{port}/a.wav: cannot fetch URL: .*refused"):
        load_audio(f"http://127.0.0.1:{port}/a.wav", url_timeout_s=2)


# ------------------------------------------------------------------------------- properties


_WAV = io.BytesIO()
sf.write(_WAV, int16_signal(400), 16000, format="WAV", subtype="PCM_16")
_MAGICS = [b"RIFF", b"RF64", b"fLaC", b"OggS", b"ID3", b"FORM", b".snd", b"caff", b"\xff\xfb"]

arbitrary_audio_bytes = st.one_of(
    st.binary(max_size=2000),
    st.builds(lambda m, rest: m + rest, st.sampled_from(_MAGICS), st.binary(max_size=2000)),
    st.integers(0, len(_WAV.getvalue())).map(lambda n: _WAV.getvalue()[:n]),
    st.builds(lambda n, b: _WAV.getvalue()[:n] + b, st.integers(0, 60), st.binary(max_size=200)),
)


def _only_input_error(data: bytes) -> None:
    try:
        result = load_audio(data, key="prop")
    except InputError as err:
        assert str(err).startswith("prop (")
    else:
        assert result.waveform.dtype == np.float32 and result.waveform.size > 0
        assert np.all(np.isfinite(result.waveform))


@settings(PROFILE)
@given(data=arbitrary_audio_bytes)
def test_arbitrary_bytes_only_raise_input_error(data: bytes) -> None:
    with pytest.MonkeyPatch.context() as patch:  # soundfile and raw-PCM paths only: fast
        patch.setattr(audio.shutil, "which", lambda _name: None)
        _only_input_error(data)


@needs_ffmpeg
@settings(PROFILE, max_examples=40)
@given(data=arbitrary_audio_bytes)
def test_arbitrary_bytes_with_ffmpeg_only_raise_input_error(data: bytes) -> None:
    _only_input_error(data)  # corrupt containers also go through ffmpeg (a process each)
