"""Shared helpers for the golden-fixture generators.

These scripts run ONLY in the side virtualenv tools/funasr_venv (FunASR 1.4.16 is the
reference implementation).  funasr_lite itself never imports funasr.
"""

import io
import json
import os
import shutil
import struct
import subprocess
import tempfile
import zipfile
import zlib

import numpy as np
import torch

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(REPO, "tests", "fixtures")
FS = 16000

# SpecAugLFR of FunASR's Paraformer template.yaml (funasr/models/paraformer/template.yaml)
SPECAUG = {
    "apply_time_warp": False,
    "time_warp_window": 5,
    "time_warp_mode": "bicubic",
    "apply_freq_mask": True,
    "freq_mask_width_range": [0, 30],
    "lfr_rate": 6,
    "num_freq_mask": 1,
    "apply_time_mask": True,
    "time_mask_width_range": [0, 12],
    "num_time_mask": 1,
}

_FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def save_npz(path, **arrays):
    """Like np.savez_compressed, but byte-for-byte deterministic (fixed zip timestamps)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            arr = np.asanyarray(arrays[key])
            b = io.BytesIO()
            np.lib.format.write_array(b, arr, allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=_FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, b.getvalue(), compresslevel=9)
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def _patch_serialization_id(path):
    """torch.save writes a random `.data/serialization_id` record; zero it (and fix the CRCs)
    so that regenerating a checkpoint gives identical bytes."""
    with zipfile.ZipFile(path) as zf:
        infos = [i for i in zf.infolist() if i.filename.endswith(".data/serialization_id")]
    if not infos:
        return
    info = infos[0]
    data = bytearray(open(path, "rb").read())
    off = info.header_offset
    assert data[off : off + 4] == b"PK\x03\x04"
    assert struct.unpack("<H", data[off + 8 : off + 10])[0] == 0, "expected a stored record"
    n_name, n_extra = struct.unpack("<HH", data[off + 26 : off + 30])
    start = off + 30 + n_name + n_extra
    size = info.file_size
    new = b"0" * size
    old_crc = struct.pack("<I", info.CRC)
    new_crc = struct.pack("<I", zlib.crc32(new) & 0xFFFFFFFF)
    data[start : start + size] = new
    patched = 0
    if data[off + 14 : off + 18] == old_crc:
        data[off + 14 : off + 18] = new_crc
        patched += 1
    flags = struct.unpack("<H", data[off + 6 : off + 8])[0]
    if flags & 0x8:  # data descriptor after the data
        dd = start + size
        if data[dd : dd + 4] == b"PK\x07\x08":
            dd += 4
        assert data[dd : dd + 4] == old_crc
        data[dd : dd + 4] = new_crc
        patched += 1
    assert patched >= 1
    # central directory entry
    name = info.filename.encode()
    pos = 0
    while True:
        pos = data.find(b"PK\x01\x02", pos)
        assert pos >= 0, "central directory entry not found"
        nlen = struct.unpack("<H", data[pos + 28 : pos + 30])[0]
        if bytes(data[pos + 46 : pos + 46 + nlen]) == name:
            assert data[pos + 16 : pos + 20] == old_crc
            data[pos + 16 : pos + 20] = new_crc
            break
        pos += 4
    with open(path, "wb") as f:
        f.write(bytes(data))
    # sanity: torch still loads it
    torch.load(path, map_location="cpu", weights_only=True)


def torch_save_deterministic(obj, path):
    torch.save(obj, path)
    _patch_serialization_id(path)


def perturb(sd, seed):
    """Replace constant-initialised float tensors (LayerNorm / BatchNorm / zero biases) with seeded
    random values, so that tests can tell weight from bias; ``running_var`` stays positive."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in sd.items():
        v = v.detach().clone()
        if v.is_floating_point() and v.numel() > 0:
            flat = v.flatten()
            if bool((flat == flat[0]).all()):
                noise = torch.randn(v.shape, generator=g, dtype=v.dtype)
                v = 0.5 + noise.abs() if k.endswith("running_var") else v + 0.1 * noise
        out[k] = v.contiguous()
    return out


def cif_alpha_adjust(scale, bias):
    """A state-dict adjustment (deterministic, no RNG) of a Paraformer's CIF alpha head:
    `predictor.cif_output.weight *= scale`, `predictor.cif_output.bias = bias`. A random init
    gives alphas with little dependence on the input (every clip fires about the same number of
    tokens per frame); a power-of-two scale (exact in float32) makes them depend on the encoder
    output and the bias moves the operating point. Each caller says why its values."""

    def _adjust(sd):
        sd = dict(sd)
        sd["predictor.cif_output.weight"] = (sd["predictor.cif_output.weight"] * scale).contiguous()
        sd["predictor.cif_output.bias"] = torch.full_like(sd["predictor.cif_output.bias"], bias)
        return sd

    return _adjust


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)
        f.write("\n")


# ----------------------------------------------------------------------------------------
# test audio
def to_int16_grid(x):
    """Quantize to k/32768 (what decoding a 16-bit PCM wav gives), as float32."""
    q = np.clip(np.round(np.asarray(x, dtype=np.float64) * 32768.0), -32768, 32767)
    return (q / 32768.0).astype(np.float32)


# ----------------------------------------------------------------------------------------
def speech_like(n_samples, seed, gaps=True):
    """Deterministic 'speech-like' signal in [-1, 1]: syllables of harmonic tones with a
    moving pitch and formant-ish weighting, seeded noise, and silence gaps."""
    rng = np.random.RandomState(seed)
    t = np.arange(n_samples, dtype=np.float64) / FS
    out = np.zeros(n_samples, dtype=np.float64)
    pos = int(0.05 * FS) if gaps else 0
    while pos < n_samples:
        dur = int(rng.uniform(0.12, 0.30) * FS)
        end = min(n_samples, pos + dur)
        seg_t = t[pos:end] - t[pos]
        f0 = rng.uniform(110, 260) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(1, 4) * seg_t))
        phase = 2 * np.pi * np.cumsum(f0) / FS
        sig = np.zeros(end - pos)
        formant = rng.uniform(500, 2500)
        for h in range(1, 16):
            amp = np.exp(-((h * f0.mean() - formant) ** 2) / (2 * 600.0**2)) + 0.05 / h
            sig += amp * np.sin(h * phase + rng.uniform(0, 2 * np.pi))
        env = np.sin(np.pi * np.linspace(0, 1, end - pos)) ** 0.7
        out[pos:end] += 0.25 * env * sig / 4.0
        pos = end
        if gaps and rng.rand() < 0.35:
            pos += int(rng.uniform(0.10, 0.35) * FS)  # silence gap
    out += 0.003 * rng.randn(n_samples)  # background noise, also in the gaps
    out = np.clip(out, -0.95, 0.95)
    return to_int16_grid(out)


def espeak_mandarin(text="你好，世界。", seed=0, speed=160, n_samples=None):
    """Mandarin TTS with espeak-ng (if on PATH), resampled to 16 kHz with soxr. None if absent.
    `speed` is espeak-ng's -s (words per minute); with `n_samples` the 16 kHz signal is
    zero-padded / cut to that length before the seeded noise is added."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    import soundfile as sf
    import soxr

    with tempfile.TemporaryDirectory() as d:
        wav = os.path.join(d, "tts.wav")
        subprocess.run(
            [exe, "-v", "cmn", "-s", str(speed), "-w", wav, text],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        x, sr = sf.read(wav, dtype="float32")
    if x.ndim > 1:
        x = x.mean(axis=1)
    if sr != FS:
        x = soxr.resample(x, sr, FS).astype(np.float32)
    if n_samples is not None:
        x = np.pad(x, (0, max(0, n_samples - len(x))))[:n_samples]
    rng = np.random.RandomState(seed)
    x = x + (0.002 * rng.randn(len(x))).astype(np.float32)
    return to_int16_grid(np.clip(x, -1.0, 1.0))


def sines_noise(n_samples, seed, n_sines=4):
    """Deterministic sum of `n_sines` sinusoids (random frequency 100..3000 Hz, amplitude
    0.05..0.2, phase) under a sqrt-sine envelope, plus seeded white noise (std 0.01)."""
    rng = np.random.RandomState(seed)
    t = np.arange(n_samples, dtype=np.float64) / FS
    x = np.zeros(n_samples, dtype=np.float64)
    for _ in range(n_sines):
        amp, f, ph = rng.uniform(0.05, 0.2), rng.uniform(100, 3000), rng.uniform(0, 2 * np.pi)
        x += amp * np.sin(2 * np.pi * f * t + ph)
    x *= np.sin(np.pi * np.linspace(0, 1, n_samples)) ** 0.5
    x += 0.01 * rng.randn(n_samples)
    return to_int16_grid(np.clip(x, -0.95, 0.95))


# ----------------------------------------------------------------------------------------
# am.mvn writer: same layout as funasr/bin/compute_audio_cmvn.py
# ----------------------------------------------------------------------------------------
def write_am_mvn(path, mean_stats, var_stats, total_frames):
    mean = -1.0 * mean_stats / total_frames
    var = 1.0 / np.sqrt(var_stats / total_frames - mean * mean)
    dims = mean.shape[0]
    with open(path, "w") as fout:
        fout.write(
            "<Nnet>"
            + "\n"
            + "<Splice> "
            + str(dims)
            + " "
            + str(dims)
            + "\n"
            + "[ 0 ]"
            + "\n"
            + "<AddShift> "
            + str(dims)
            + " "
            + str(dims)
            + "\n"
        )
        fout.write("<LearnRateCoef> 0 [ " + " ".join([str(item) for item in mean]) + " ]\n")
        fout.write("<Rescale> " + str(dims) + " " + str(dims) + "\n")
        fout.write("<LearnRateCoef> 0 [ " + " ".join([str(item) for item in var]) + " ]\n")
        fout.write("</Nnet>" + "\n")
