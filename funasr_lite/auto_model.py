"""``AutoModel``: FunASR's Python entry point, offline and local-folder only.

    from funasr_lite import AutoModel
    m = AutoModel(model="./models/paraformer-large", device="cpu")
    m.generate(input="a.wav")          # [{"key": "a", "text": "...", "timestamp": [...]}]

``input`` may be anything the audio loader takes (path, URL, bytes, numpy/torch array), a list
of those, or a Kaldi ``wav.scp`` path. Results are FunASR-shaped dicts in input order; a bad
item raises ``InputError`` here (batch jobs use ``bin/asr_inference``, which skips and reports).
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from funasr_lite.asr import SpeechRecognizer
from funasr_lite.errors import InputError
from funasr_lite.frontend.audio import load_audio, load_wav_scp

log = logging.getLogger(__name__)
# FunASR options that are meaningless here (hub/download/update settings): accepted silently.
_FUNASR_NOOPS = {"disable_update", "disable_pbar", "disable_log", "hub", "model_revision", "check_latest", "ncpu"}


def _warn_unused(where: str, kwargs: dict[str, Any]) -> None:
    unused = sorted(set(kwargs) - _FUNASR_NOOPS)
    if unused:
        log.warning("%s: ignoring options funasr_lite does not use: %s", where, ", ".join(unused))


class AutoModel:
    """Load a local ASR model folder and recognise audio with it."""

    def __init__(self, model: str, device: str = "cpu", batch_size_token: int = 6000,
                 dither: float = 0.0, seed: int = 0, **kwargs: Any) -> None:
        _warn_unused("AutoModel", kwargs)
        set_seed(seed)
        self.seed = seed
        self.recognizer = SpeechRecognizer(model, device=device, batch_size_token=batch_size_token, dither=dither)

    def generate(self, input: Any, fs: int | None = None, key: str | list[str] | None = None,
                 **kwargs: Any) -> list[dict[str, Any]]:
        """Recognise ``input``; return one dict per utterance: ``key``, ``text`` [, ``timestamp``]."""
        _warn_unused("generate", kwargs)
        items = list(_load_inputs(input, fs, key))
        results = {r.key: r for batch in self.recognizer.recognize(items) for r in batch}
        out = []
        for k, _ in items:
            r = results[k]
            d: dict[str, Any] = {"key": k, "text": r.text}
            if r.timestamp is not None:
                d["timestamp"] = r.timestamp
            out.append(d)
        return out


def set_seed(seed: int) -> None:
    """Seed Python, numpy and torch RNGs (as FunASR's AutoModel does at build time)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _is_scp(x: Any) -> bool:
    return isinstance(x, (str, Path)) and str(x).endswith(".scp") and Path(x).is_file()


def _default_key(source: Any, index: int) -> str:
    if isinstance(source, (str, Path)) and not str(source).rstrip().endswith("|"):
        return Path(str(source).split("?")[0]).stem or f"utt{index:04d}"
    return f"utt{index:04d}"


def _load_inputs(input: Any, fs: int | None, key: str | list[str] | None) -> list[tuple[str, np.ndarray]]:
    if _is_scp(input):
        items = []
        for k, res in load_wav_scp(input, fs=fs):
            if isinstance(res, InputError):
                raise res
            items.append((k, res.waveform))
        return items
    sources = list(input) if isinstance(input, (list, tuple)) else [input]
    keys = [key] if isinstance(key, str) else key
    if keys is not None and len(keys) != len(sources):
        raise ValueError(f"got {len(keys)} keys for {len(sources)} inputs")
    items = []
    seen: set[str] = set()
    for i, src in enumerate(sources):
        k = keys[i] if keys is not None else _default_key(src, i)
        if k in seen:
            k = f"{k}_{i}"
        seen.add(k)
        items.append((k, load_audio(src, fs=fs, key=k).waveform))
    return items
