"""Speech recognition over many utterances: length-sorted batches under a frame budget.

``SpeechRecognizer`` loads a Paraformer / BiCif-Paraformer folder and turns waveforms into
``Recognition`` results. Batches are formed from utterances sorted by length so that the
padded size ``batch_count x longest_LFR_frames`` stays within ``batch_size_token``; the models
mask padded frames, so a result never depends on which utterances share its batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from funasr_lite.backends import check_backend
from funasr_lite.hotwords import HotwordTokenizer
from funasr_lite.memory import keep_freed_memory
from funasr_lite.models.paraformer import BiCifParaformer, load_paraformer
from funasr_lite.models.paraformer.model import RecogResult
from funasr_lite.models.paraformer.seaco import SeacoParaformer
from funasr_lite.models.precision import autocast, set_precision
from funasr_lite.postprocess.text import tokens_to_text

log = logging.getLogger(__name__)


@dataclass
class Recognition:
    """One utterance's result. ``text`` is FunASR's text (space-separated when timestamps exist)."""

    key: str
    text: str
    tokens: list[str]
    token_ids: list[int]
    score: float
    timestamp: list[list[int]] | None
    words: list[str]
    audio_s: float
    compute_s: float

    @property
    def rtf(self) -> float:
        """Compute seconds per audio second."""
        return self.compute_s / self.audio_s if self.audio_s > 0 else 0.0


def make_batches(num_frames: Sequence[int], budget: int) -> list[list[int]]:
    """Indices grouped longest-first so that ``len(batch) * max_frames <= budget`` (a longer item goes alone)."""
    order = sorted(range(len(num_frames)), key=lambda i: (-num_frames[i], i))
    batches: list[list[int]] = []
    for i in order:
        if batches and (len(batches[-1]) + 1) * max(num_frames[batches[-1][0]], 1) <= budget:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


class SpeechRecognizer:
    """A loaded ASR model folder with its frontend and token list.

    ``backend``: ``"torch"`` (the eager model, ``dtype``/``quantize`` from ``models/precision.py``)
    or ``"onnxruntime"`` (``backends/onnx_paraformer.py``: the exported graph, ``model_quant.onnx``
    with ``quantize="int8"``; ``model_dir`` may then be an export folder).
    """

    def __init__(
        self,
        model_dir: str,
        device: str = "cpu",
        batch_size_token: int = 6000,
        dither: float = 0.0,
        dtype: str = "fp32",
        quantize: str | None = None,
        backend: str = "torch",
    ) -> None:
        check_backend(backend, device, dtype, quantize)
        self.device = torch.device(device)
        self.backend = backend
        if self.device.type == "cpu":
            keep_freed_memory()  # large per-batch tensors reuse heap memory instead of new pages
        if backend == "onnxruntime":  # the same interface (recognize -> RecogResult) on an ONNX graph
            from funasr_lite.backends.onnx_paraformer import load_onnx_paraformer  # noqa: PLC0415

            self.model, self.frontend, self.token_list = load_onnx_paraformer(model_dir, quantize, dither)
            self.has_timestamps = self.model.bicif
        else:
            self.model, self.frontend, self.token_list = load_paraformer(model_dir, device=device, dither=dither)
            set_precision([self.model.encoder, self.model.decoder], dtype, quantize, self.device)
            self.has_timestamps = isinstance(self.model, BiCifParaformer)
        self.dtype = dtype
        self.batch_size_token = batch_size_token
        self.hotword_tokenizer = (
            HotwordTokenizer.for_model_dir(model_dir, self.token_list, self.model.sos)
            if isinstance(self.model, SeacoParaformer)
            else None
        )

    def hotword_ids(self, hotword: str | None) -> list[list[int]] | None:
        """FunASR's ``hotword`` (space-separated words or a ``.txt`` file, ``funasr_lite/hotwords.py``)
        as the token-id lists the model takes; ``None`` for no hotword, or for a model without a bias
        encoder (FunASR's Paraformer ignores ``hotword``; logged here)."""
        if hotword is None:
            return None
        if self.hotword_tokenizer is None:
            log.warning(
                "hotword ignored: a %s has no hotword biasing (SeACo-Paraformer has)", type(self.model).__name__
            )
            return None
        return self.hotword_tokenizer(hotword)

    def lfr_frames(self, num_samples: int) -> int:
        """LFR frames the frontend makes from ``num_samples`` (for batching)."""
        return self.frontend.num_output_frames(num_samples)

    @torch.no_grad()
    def recognize(
        self, items: Iterable[tuple[str, np.ndarray]], timestamps: bool = False, hotwords: list[list[int]] | None = None
    ) -> Iterable[list[Recognition]]:
        """Yield results batch by batch (each batch in input order within itself).

        ``timestamps``: plain Paraformer's CIF-peak timestamps too (FunASR's ``output_timestamp``);
        BiCif always has them. ``hotwords``: :meth:`hotword_ids`, the same for every batch (FunASR:
        per call).
        """
        items = list(items)
        frames = [self.lfr_frames(len(w)) for _, w in items]
        yield from self.recognize_batches(items, make_batches(frames, self.batch_size_token), timestamps, hotwords)

    @torch.no_grad()
    def recognize_batches(
        self,
        items: Sequence[tuple[str, np.ndarray]],
        batches: Iterable[Sequence[int]],
        timestamps: bool = False,
        hotwords: list[list[int]] | None = None,
    ) -> Iterable[list[Recognition]]:
        """Yield results for caller-formed batches of ``items`` indices (any grouping gives the same results)."""
        for batch in batches:
            yield self._run([items[i] for i in sorted(batch)], timestamps, hotwords)

    def _run(
        self, items: list[tuple[str, np.ndarray]], timestamps: bool = False, hotwords: list[list[int]] | None = None
    ) -> list[Recognition]:
        start = time.perf_counter()
        # audio too short for one feature frame (a few samples) has no token: empty result, no model call
        live = [i for i, (_, w) in enumerate(items) if self.lfr_frames(len(w)) > 0]
        with_ts = self.has_timestamps or timestamps
        results = [RecogResult([], 0.0, [] if with_ts else None) for _ in items]
        if live:
            lengths = torch.tensor([len(items[i][1]) for i in live])
            waves = torch.zeros(len(live), int(lengths.max()), pin_memory=self.device.type == "cuda")
            for row, i in enumerate(live):  # padded on the host, then one copy to the device
                waves[row, : len(items[i][1])] = torch.from_numpy(items[i][1])
            waves = waves.to(self.device, non_blocking=True)
            feats, feat_lens = self.frontend(waves, lengths.to(self.device))
            with autocast(self.device, self.dtype):
                bias = {} if hotwords is None else {"hotwords": hotwords}  # SeACo-Paraformer only
                recognized = self.model.recognize(feats, feat_lens, timestamps=with_ts, **bias)
            for i, res in zip(live, recognized):
                results[i] = res
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        elapsed = time.perf_counter() - start
        audio = [len(w) / 16000 for _, w in items]
        total_audio = sum(audio) or 1.0
        out = []
        for (key, _), res, secs in zip(items, results, audio):
            out.append(self.recognition(key, res, secs, elapsed * secs / total_audio))
        return out

    def recognition(self, key: str, res: RecogResult, audio_s: float, compute_s: float) -> Recognition:
        """``res`` (token ids, score, timestamps) as a :class:`Recognition`: tokens, text and words."""
        tokens = [self.token_list[i] for i in res.token_ids]
        post = tokens_to_text(tokens, res.timestamps)
        return Recognition(
            key,
            post.text,
            tokens,
            list(res.token_ids),
            float(res.score),
            post.timestamps,
            list(post.words),
            audio_s,
            compute_s,
        )
