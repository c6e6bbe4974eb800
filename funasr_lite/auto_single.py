"""``AutoModel(model=<folder>)`` for the folders that are not ASR models, with FunASR's result shapes.

- FSMN-VAD: ``[{"key": k, "value": [[start_ms, end_ms], ...]}]`` (``generate`` takes VAD options);
- CT-Transformer: ``[{"key": k, "text": punctuated, "punc_array": LongTensor of label ids}]``
  (input: a text, a list of texts or a ``.txt`` list of ``key text`` lines);
- CAM++: ``[{"spk_embedding": FloatTensor (1, embedding_size)}]``, one per input (no key, as FunASR).
"""

from __future__ import annotations

from typing import Any

import torch

from funasr_lite.auto_inputs import keyed_items, load_audio_inputs
from funasr_lite.auto_options import check_vad_options, reject_unknown
from funasr_lite.frontend.audio import TARGET_SR
from funasr_lite.vad.options import VadOptions


class VadOnly:
    """A loaded FSMN-VAD folder; ``generate`` gives each input's speech segments."""

    def __init__(self, model_dir: str, device: str, resampler: str, vad_kwargs: dict[str, Any]) -> None:
        from funasr_lite.models.fsmn_vad import load_fsmn_vad  # noqa: PLC0415

        check_vad_options(vad_kwargs, "AutoModel")
        self.model = load_fsmn_vad(model_dir, device=device)
        self.options = dict(vad_kwargs)
        self.resampler = resampler

    def generate(self, input: Any, fs: int | None, key: Any, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        """``[{"key", "value"}]`` per input; ``kwargs`` may hold VAD options for this call."""
        opts = {k: kwargs.pop(k) for k in list(kwargs) if k in VadOptions.field_names()}
        reject_unknown(kwargs, "generate", VadOptions.field_names())
        audio = {"sample_rate": self.model.sample_rate, "also_at": (), "resampler": self.resampler}
        return [
            {"key": k, "value": self.model.segments(a.waveform, **{**self.options, **opts})}
            for k, a in load_audio_inputs(input, fs, key, audio)
        ]


class PuncOnly:
    """A loaded CT-Transformer folder; ``generate`` punctuates texts."""

    def __init__(self, model_dir: str, device: str) -> None:
        from funasr_lite.models.ct_transformer import load_punc_model  # noqa: PLC0415

        self.punc = load_punc_model(model_dir, device=device)
        self.model = getattr(self.punc, "model", self.punc)

    def generate(self, input: Any, fs: int | None, key: Any, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        """``[{"key", "text", "punc_array"}]`` per text (``punc_array`` None for an empty text, as FunASR)."""
        reject_unknown(kwargs, "generate")
        items = keyed_items(input, key, path_keys=False)
        for k, text in items:
            if not isinstance(text, str):
                raise TypeError(f"{k}: a punctuation model takes text, got {type(text).__name__}")
        results = self.punc.punctuate_many([t for _, t in items])
        return [
            {
                "key": k,
                "text": r.text,
                "punc_array": torch.tensor(r.punc_array, dtype=torch.long) if r.punc_array else None,
            }
            for (k, _), r in zip(items, results)
        ]


class SpeakerOnly:
    """A loaded CAM++ folder; ``generate`` gives one speaker embedding per input."""

    def __init__(self, model_dir: str, device: str, resampler: str) -> None:
        from funasr_lite.models.campplus import load_campplus  # noqa: PLC0415

        self.model = load_campplus(model_dir, device=device)
        self.resampler = resampler

    def generate(self, input: Any, fs: int | None, key: Any, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        """``[{"spk_embedding"}]`` per input, the embedding a ``(1, D)`` float tensor on the CPU."""
        from funasr_lite.diar.embed import extract_embeddings  # noqa: PLC0415

        reject_unknown(kwargs, "generate")
        audio = {"sample_rate": TARGET_SR, "also_at": (), "resampler": self.resampler}
        out = []
        for _, a in load_audio_inputs(input, fs, key, audio):
            emb = extract_embeddings(self.model, [a.waveform], batch_size=1)
            out.append({"spk_embedding": torch.from_numpy(emb)})  # FunASR's dict has no key
        return out
