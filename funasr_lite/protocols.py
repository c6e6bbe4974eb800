"""What ``LongAudioPipeline`` needs of its VAD, punctuation and speaker models (typing only).

``models.fsmn_vad.FsmnVAD``, ``models.ct_transformer.CTTransformerPunc`` and
``models.campplus.CAMPPlus`` are the implementations; a test double needs only these members.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor
    from torch.nn import Parameter

    from funasr_lite.models.ct_transformer import PuncResult


class VadModel(Protocol):
    """Speech segments of a waveform at the model's own ``sample_rate``."""

    @property
    def sample_rate(self) -> int: ...

    def segments(self, waveform: np.ndarray, options: Any = None, **overrides: Any) -> list[list[int]]: ...


class PuncModel(Protocol):
    """Punctuation of many texts at once (FunASR's answer for each)."""

    def punctuate_many(self, texts: list[str]) -> list[PuncResult]: ...


class SpeakerModel(Protocol):
    """A speaker-embedding network (``diar.embed.extract_embeddings`` runs it)."""

    embedding_size: int

    def parameters(self) -> Iterator[Parameter]: ...

    def __call__(self, feats: Tensor, counts: Tensor) -> Tensor: ...
