"""Long-audio transcription: VAD -> slice -> duration batches -> ASR -> file-time timestamps ->
punctuation -> sentences. The result is FunASR's dict (``key``, ``text``, ``timestamp``,
``sentence_info``, ``raw_text``).

``LongAudioPipeline.run_many(items, window_s, DecodeOptions(...))`` is the one entry point
(``AutoModel.generate``, ``bin/inference`` and the bench scripts call it); punctuation always goes
through the model's batched ``punctuate_many`` and speakers through ``diar.diarize.diarize``.

Segments are recognised in batches bounded by ``batch_size_s`` seconds of padded audio
(FunASR's grouping rule, ``duration_batches``); the ASR model masks padding, so the grouping
never changes a result. Only one batch's features exist at a time.

Deliberate differences from FunASR 1.4.16 (``docs/compatibility.md``): sentences are built from
the recognised words, not from FunASR's VAD-joined text (which shifts sentence texts by a word
at segment boundaries); a segment with no tokens gives an empty text for that segment only,
where FunASR blanks the whole file when a multi-segment batch (GPU) returns nothing, and adds
stray spaces for it on CPU; a file whose segments all come out empty still gets a result dict;
without a punctuation model, ``sentence_timestamp`` gives one sentence per VAD segment where
FunASR gives none.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from funasr_lite.asr import Recognition, SpeechRecognizer
from funasr_lite.frontend.audio import DEFAULT_RESAMPLER, TARGET_SR, resample_audio
from funasr_lite.memory import trim_heap
from funasr_lite.postprocess.sentences import build_sentences
from funasr_lite.prefetch import Prepared
from funasr_lite.protocols import PuncModel, SpeakerModel, VadModel

if TYPE_CHECKING:
    from funasr_lite.models.ct_transformer import PuncResult

log = logging.getLogger(__name__)
SAMPLES_PER_MS = 16  # FunASR slices VAD segments at a hard-coded 16 samples per ms


def duration_batches(durations_ms: Sequence[int], batch_size_ms: int, threshold_ms: int) -> list[list[int]]:
    """FunASR's grouping of VAD segments: shortest first; a batch closes (including the segment
    that closes it) when padded length ``max_len * count`` would reach ``batch_size_ms``, at a
    segment of at least ``threshold_ms``, or at the last segment."""
    order = sorted(range(len(durations_ms)), key=lambda i: durations_ms[i])  # stable, like sorted()
    if not order:
        return []
    budget = max(batch_size_ms, durations_ms[order[0]])
    batches: list[list[int]] = []
    current: list[int] = []
    max_len = 0
    for j, idx in enumerate(order):
        length = durations_ms[idx]
        current.append(idx)
        potential = max(max_len, length) * len(current)
        if j < len(order) - 1 and length < threshold_ms and potential < budget:
            max_len = max(max_len, length)
            continue
        batches.append(current)
        current, max_len = [], length
    return batches


def join_vad_texts(texts: Sequence[str]) -> str:
    """FunASR 1.4.16's punctuation input: segment texts joined without a space between two CJK sides."""
    parts = [t.strip() for t in texts if t.strip()]
    if not parts:
        return ""
    joined = parts[0]
    for text in parts[1:]:
        cjk = "\u3400" <= joined[-1] <= "\u9fff" and "\u3400" <= text[0] <= "\u9fff"
        joined += ("" if cjk else " ") + text
    return joined


@dataclass
class SegmentResult:
    """One VAD segment's recognition, with timestamps in file time (ms)."""

    start_ms: int
    end_ms: int
    rec: Recognition
    timestamp: list[list[int]] | None = field(default=None)


@dataclass
class DecodeOptions:
    """Per-call decoding options (``AutoModel.generate`` keywords, ``bin/inference`` flags).

    ``num_speakers``/``min_speakers``/``max_speakers`` matter only with a speaker model;
    ``vad_options`` are call-time VAD options (``VadOptions`` fields) over the pipeline's own.
    ``output_timestamp``: plain Paraformer's CIF-peak timestamps (FunASR's ``output_timestamp`` /
    ``pred_timestamp``; None: on exactly when a speaker model is loaded, as in FunASR; BiCif always
    has them).
    ``hotword``: FunASR's ``hotword`` (space-separated words or a ``.txt`` file) for a SeACo-Paraformer,
    the same for every segment of the call (``funasr_lite/hotwords.py``).
    """

    sentence_timestamp: bool = False
    output_timestamp: bool | None = None
    return_raw_text: bool = False
    num_speakers: int | None = None
    min_speakers: int = 1
    max_speakers: int = 15
    vad_options: dict[str, Any] = field(default_factory=dict)
    hotword: str | None = None


class LongAudioPipeline:
    """Runs VAD, ASR and punctuation over whole recordings."""

    def __init__(
        self,
        asr: SpeechRecognizer,
        vad: VadModel | None = None,
        punc: PuncModel | None = None,
        batch_size_s: float = 300,
        batch_size_threshold_s: float = 60,
        vad_options: dict[str, Any] | None = None,
        spk: SpeakerModel | None = None,
        spk_mode: str = "punc_segment",
        split_at_speaker_change: bool = True,
        resampler: str = DEFAULT_RESAMPLER,
    ) -> None:
        if spk_mode not in ("punc_segment", "vad_segment"):
            raise ValueError(f"spk_mode must be punc_segment or vad_segment, got {spk_mode!r}")
        self.asr, self.vad, self.punc, self.spk = asr, vad, punc, spk
        self.spk_mode = spk_mode
        self.split_at_speaker_change = split_at_speaker_change
        self.batch_size_ms = int(batch_size_s * 1000)
        self.threshold_ms = int(batch_size_threshold_s * 1000)
        self.vad_options = dict(vad_options or {})
        self.resampler = resampler

    def audio_options(self) -> dict[str, Any]:
        """``load_audio``/``load_wav_scp`` options for this pipeline: 16 kHz for the ASR model, plus
        the VAD model's own rate when it differs (FunASR loads the input at each ``frontend.fs``)."""
        vad_rate = None if self.vad is None else self.vad.sample_rate
        also_at = (vad_rate,) if vad_rate not in (None, TARGET_SR) else ()
        return {"sample_rate": TARGET_SR, "also_at": also_at, "resampler": self.resampler}

    def segments(self, waveform: np.ndarray, sample_rate: int = TARGET_SR, **vad_options: Any) -> list[list[int]]:
        """VAD segments ``[[start_ms, end_ms], ...]`` (the whole file when there is no VAD model).

        ``waveform`` is at ``sample_rate``; a VAD model with another rate gets it resampled, as
        FunASR's VAD resamples an array input (``fs``) to its ``frontend.fs``.
        """
        if self.vad is None:
            return [[0, int(len(waveform) / (sample_rate / 1000))]] if len(waveform) else []
        if sample_rate != self.vad.sample_rate:
            waveform = resample_audio(waveform, sample_rate, self.vad.sample_rate, self.resampler)
        segments = self.vad.segments(waveform, **{**self.vad_options, **vad_options})
        trim_heap()  # the VAD's whole-file feature buffers are freed now; hand them back
        return segments

    def recognize_segments(
        self, key: str, waveform: np.ndarray, segments: list[list[int]], timestamps: bool = False
    ) -> list[SegmentResult]:
        """ASR over the segments, batched by duration; results in segment order."""
        return self.recognize_files([(key, waveform, segments)], timestamps)[0]

    def recognize_files(
        self,
        files: Sequence[tuple[str, np.ndarray, list[list[int]]]],
        timestamps: bool = False,
        hotwords: list[list[int]] | None = None,
    ) -> list[list[SegmentResult]]:
        """ASR over the segments of several recordings at once (batches mix recordings: the model
        masks padding, so a segment's result never depends on its batch); per file, in segment order.
        ``timestamps``: plain Paraformer's timestamps too (BiCif always has them); ``hotwords``:
        ``SpeechRecognizer.hotword_ids``."""
        items, durations = [], []
        for f, (_, waveform, segments) in enumerate(files):
            for i, (s, e) in enumerate(segments):
                items.append((f"{f}-{i}", waveform[s * SAMPLES_PER_MS : min(e * SAMPLES_PER_MS, len(waveform))]))
                durations.append(e - s)
        by_key: dict[str, Recognition] = {}
        for batch in self.asr.recognize_batches(
            items, duration_batches(durations, self.batch_size_ms, self.threshold_ms), timestamps, hotwords
        ):
            by_key.update((r.key, r) for r in batch)
        out = []
        for f, (key, _, segments) in enumerate(files):
            results = []
            for i, (s, e) in enumerate(segments):
                rec = by_key[f"{f}-{i}"]
                rec.key = f"{key}-{i}"
                ts = None if rec.timestamp is None else [[int(a) + int(s), int(b) + int(s)] for a, b in rec.timestamp]
                results.append(SegmentResult(s, e, rec, ts))
            out.append(results)
        return out

    def run_many(
        self, items: Iterable[Prepared], window_s: float = 600.0, options: DecodeOptions | None = None
    ) -> Iterator[tuple[Prepared, dict[str, Any] | None, list[SegmentResult]]]:
        """Recordings -> FunASR-shaped result dicts (with ``spk`` on sentences when a speaker model
        is loaded), in order: the segments of up to ``window_s`` seconds of recordings are
        recognised together (full GPU batches across short files). Yields ``(item, result,
        segment results)``; ``result`` is None for an item that failed to load."""
        options = options or DecodeOptions()
        hotwords = self.asr.hotword_ids(options.hotword)  # once per call, as FunASR per batch
        window: list[Prepared] = []
        seconds = 0.0
        for item in items:
            window.append(item)
            seconds += item.duration_s
            if seconds >= window_s:
                yield from self._run_window(window, options, hotwords)
                window, seconds = [], 0.0
        yield from self._run_window(window, options, hotwords)

    def _run_window(
        self, window: list[Prepared], options: DecodeOptions, hotwords: list[list[int]] | None = None
    ) -> Iterator[tuple[Prepared, dict[str, Any] | None, list[SegmentResult]]]:
        live = [w for w in window if w.error is None]
        for w in live:
            if w.segments is None and w.vad_waveform is not None and self.vad is not None:
                w.segments = self.segments(w.vad_waveform, self.vad.sample_rate, **options.vad_options)
            elif w.segments is None:
                w.segments = self.segments(w.waveform, **options.vad_options)
            w.vad_waveform = None
        # FunASR's AutoModel turns output_timestamp on whenever a speaker model is loaded
        timestamps = self.spk is not None if options.output_timestamp is None else options.output_timestamp
        recognized = self.recognize_files([(w.key, w.waveform, w.segments) for w in live], timestamps, hotwords)
        done = iter(zip(recognized, self.punctuate_files(recognized)))
        for w in window:
            if w.error is not None:
                yield w, None, []
                continue
            seg_results, punc = next(done)
            yield w, self._finish(w.key, w.waveform, w.segments, seg_results, punc, options), seg_results

    def punctuate_files(self, files: Sequence[list[SegmentResult]]) -> list[PuncResult | None]:
        """The punctuation of each recording's joined segment texts (None without a punctuation
        model or text), all recordings' windows batched together (``punctuate_many``)."""
        if self.punc is None:
            return [None] * len(files)
        texts = [[r.rec.text for r in segs] for segs in files]
        todo = [i for i, t in enumerate(texts) if any(x.strip() for x in t)]
        done = dict(zip(todo, self.punc.punctuate_many([join_vad_texts(texts[i]) for i in todo])))
        return [done.get(i) for i in range(len(files))]

    def _finish(
        self,
        key: str,
        waveform: np.ndarray,
        segments: list[list[int]],
        seg_results: list[SegmentResult],
        punc: PuncResult | None,
        options: DecodeOptions,
    ) -> dict[str, Any]:
        """Sentences and speakers for one recognised, punctuated recording."""
        result = merge(
            key, seg_results, punc, options.sentence_timestamp or self.spk is not None, options.return_raw_text
        )
        if self.spk is not None and segments:
            from funasr_lite.diar.diarize import diarize  # noqa: PLC0415  (diarization only)

            diar = diarize(
                self.spk, waveform, segments, options.num_speakers, options.min_speakers, options.max_speakers
            )
            self.add_speakers(result, seg_results, diar.turns)
        return result

    def add_speakers(
        self, result: dict[str, Any], seg_results: list[SegmentResult], turns: list[tuple[float, float, int]]
    ) -> None:
        """``spk`` on every sentence (FunASR's largest-overlap rule), sentences split at speaker
        changes (option), one speaker per character timestamp (``timestamp_spk``), and the turns."""
        from funasr_lite.diar.assign import char_speakers, distribute_spk, split_sentences_at_speaker_change  # noqa: PLC0415

        if self.spk_mode == "vad_segment":
            sentences = [
                {
                    "start": r.start_ms,
                    "end": r.end_ms,
                    "text": r.rec.text,
                    "sentence": r.rec.text,
                    "timestamp": r.timestamp or [],
                }
                for r in seg_results
            ]
        else:
            sentences = result.get("sentence_info", [])
        distribute_spk(sentences, turns)
        if self.split_at_speaker_change and self.spk_mode == "punc_segment":
            sentences = split_sentences_at_speaker_change(sentences, turns)
        result["sentence_info"] = sentences
        if result.get("timestamp"):
            result["timestamp_spk"] = char_speakers(result["timestamp"], turns)
        result["speaker_turns"] = [[int(round(s * 1000)), int(round(e * 1000)), spk] for s, e, spk in turns]


def merge(
    key: str,
    seg_results: list[SegmentResult],
    punc: PuncResult | None = None,
    sentence_timestamp: bool = False,
    return_raw_text: bool = False,
) -> dict[str, Any]:
    """Join one recording's segment results, apply ``punc`` (their punctuation, from
    ``LongAudioPipeline.punctuate_files``; None: unpunctuated), and build sentences."""
    texts = [r.rec.text for r in seg_results]
    raw_text = " ".join(t for t in texts if t.strip())
    has_ts = any(r.timestamp is not None for r in seg_results)
    timestamps = [t for r in seg_results for t in (r.timestamp or [])]
    words = [w for r in seg_results for w in r.rec.words]
    result: dict[str, Any] = {"key": key, "text": raw_text}
    if has_ts:
        result["timestamp"] = timestamps
    punc_ids = None
    if punc is not None and raw_text:
        result["text"] = punc.text
        punc_ids = list(punc.punc_array)
        if return_raw_text:
            result["raw_text"] = raw_text
    if sentence_timestamp:
        result["sentence_info"] = _sentences(seg_results, punc_ids, timestamps, words, return_raw_text)
    return result


def _sentences(
    seg_results: list[SegmentResult],
    punc_ids: list[int] | None,
    timestamps: list[list[int]],
    words: list[str],
    return_raw_text: bool,
) -> list[dict[str, Any]]:
    if punc_ids is not None and len(punc_ids) == len(timestamps) == len(words):
        return build_sentences(punc_ids, timestamps, words, return_raw_text)
    if punc_ids is not None and not timestamps:
        log.info(
            "no character timestamps (plain Paraformer without output_timestamp=True): "
            "one sentence per VAD segment, as FunASR"
        )
    elif punc_ids is not None:
        log.warning(
            "%d punctuated words but %d timed words: sentences cannot be cut at the punctuation; "
            "one sentence per VAD segment, as FunASR",
            len(punc_ids),
            len(timestamps),
        )
    return vad_segment_sentences(seg_results)


def vad_segment_sentences(seg_results: list[SegmentResult]) -> list[dict[str, Any]]:
    """One sentence per non-empty VAD segment (FunASR's fallback when punctuation cannot be aligned)."""
    out = []
    for r in seg_results:
        text = r.rec.text.strip()
        if not text:
            continue
        ts = r.timestamp or []
        out.append(
            {
                "start": ts[0][0] if ts else r.start_ms,
                "end": ts[-1][1] if ts else r.end_ms,
                "text": text,
                "sentence": text,
                "timestamp": ts,
            }
        )
    return out
