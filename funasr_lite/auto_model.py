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
from pathlib import Path
from typing import Any

from funasr_lite.asr import Recognition, SpeechRecognizer
from funasr_lite.errors import InputError
from funasr_lite.frontend.audio import DEFAULT_RESAMPLER, RESAMPLERS, AudioResult, load_audio, load_wav_scp
from funasr_lite.models.ct_transformer import load_punc_model
from funasr_lite.models.fsmn_vad import load_fsmn_vad
from funasr_lite.pipeline import DecodeOptions, LongAudioPipeline, SegmentResult, merge
from funasr_lite.prefetch import Prepared
from funasr_lite.seeding import set_seed
from funasr_lite.vad.options import VadOptions

log = logging.getLogger(__name__)
# FunASR options that are meaningless here (hub/download/update settings): accepted silently.
_FUNASR_NOOPS = {"disable_update", "disable_pbar", "disable_log", "hub", "model_revision", "check_latest", "ncpu"}


def _warn_unused(where: str, kwargs: dict[str, Any]) -> None:
    unused = sorted(set(kwargs) - _FUNASR_NOOPS)
    if unused:
        log.warning("%s: ignoring options funasr_lite does not use: %s", where, ", ".join(unused))


def build_pipeline(
    model: str,
    vad_model: str | None = None,
    punc_model: str | None = None,
    device: str = "cpu",
    batch_size_s: float = 300,
    batch_size_threshold_s: float = 60,
    dither: float = 0.0,
    vad_options: dict[str, Any] | None = None,
    spk_model: str | None = None,
    spk_mode: str = "punc_segment",
    split_at_speaker_change: bool = True,
    dtype: str = "fp32",
    quantize: str | None = None,
    vad_device: str | None = None,
    resampler: str = DEFAULT_RESAMPLER,
) -> LongAudioPipeline:
    """Load the ASR, VAD, punctuation and speaker folders into a ``LongAudioPipeline``.

    ``dtype``/``quantize`` set the ASR model's precision (``models.precision``); ``vad_device``
    puts the VAD elsewhere (``cpu`` when DataLoader workers run it); ``resampler`` (``funasr`` or
    ``soxr``) is how audio at other rates is resampled (``frontend/audio.py``).
    """
    if resampler not in RESAMPLERS:
        raise ValueError(f"unknown resampler {resampler!r}: use one of {', '.join(RESAMPLERS)}")
    asr = SpeechRecognizer(model, device=device, dither=dither, dtype=dtype, quantize=quantize)
    vad = load_fsmn_vad(vad_model, device=vad_device or device) if vad_model else None
    punc = load_punc_model(punc_model, device=device) if punc_model else None
    spk = None
    if spk_model:
        if vad is None:
            raise ValueError("spk_model needs a vad_model: speakers are clustered over VAD segments")
        from funasr_lite.models.campplus import load_campplus  # noqa: PLC0415

        spk = load_campplus(spk_model, device=device)
    return LongAudioPipeline(
        asr,
        vad,
        punc,
        batch_size_s,
        batch_size_threshold_s,
        vad_options,
        spk,
        spk_mode,
        split_at_speaker_change,
        resampler,
    )


class AutoModel:
    """Load local model folders (ASR, optional VAD and punctuation) and transcribe audio.

    Without ``vad_model`` each input is recognised as one utterance (batched across inputs);
    with it, each input is a long recording cut into segments. ``vad_kwargs`` are VAD options
    used for every call; ``generate(..., max_end_silence_time=...)`` overrides them per call.
    ``dtype`` (``fp32``/``bf16``/``fp16``) and ``quantize`` (``int8``, CPU) set the ASR model's
    precision (``models.precision``; fp32 is the exact path). ``resampler``: ``"funasr"`` (default,
    FunASR's torchaudio sinc resampler) or ``"soxr"`` for audio at other rates.
    """

    def __init__(
        self,
        model: str,
        vad_model: str | None = None,
        punc_model: str | None = None,
        spk_model: str | None = None,
        device: str = "cpu",
        batch_size_token: int = 6000,
        batch_size_s: float = 300,
        batch_size_threshold_s: float = 60,
        dither: float = 0.0,
        seed: int = 0,
        vad_kwargs: dict[str, Any] | None = None,
        spk_mode: str = "punc_segment",
        split_at_speaker_change: bool = True,
        dtype: str = "fp32",
        quantize: str | None = None,
        resampler: str = DEFAULT_RESAMPLER,
        **kwargs: Any,
    ) -> None:
        _warn_unused("AutoModel", kwargs)
        set_seed(seed)
        self.seed = seed
        self.pipeline = build_pipeline(
            model,
            vad_model,
            punc_model,
            device,
            batch_size_s,
            batch_size_threshold_s,
            dither,
            vad_kwargs,
            spk_model,
            spk_mode,
            split_at_speaker_change,
            dtype,
            quantize,
            resampler=resampler,
        )
        self.recognizer = self.pipeline.asr
        self.recognizer.batch_size_token = batch_size_token

    def generate(
        self,
        input: Any,
        fs: int | None = None,
        key: str | list[str] | None = None,
        sentence_timestamp: bool = False,
        return_raw_text: bool = False,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        """Transcribe ``input``; one dict per input: ``key``, ``text`` [, ``timestamp``, ``sentence_info``, ``raw_text``].

        Extra keyword arguments are VAD options (e.g. ``max_end_silence_time=800``) when a VAD
        model is loaded; anything else is reported as unused.
        """
        p = self.pipeline
        loaded = _load_inputs(input, fs, key, p.audio_options())
        items = [(k, a.waveform) for k, a in loaded]
        if p.vad is not None:
            vad_opts = {k: kwargs.pop(k) for k in list(kwargs) if k in VadOptions.field_names()}
            spk_opts = {k: kwargs.pop(k) for k in ("num_speakers", "min_speakers", "max_speakers") if k in kwargs}
            if "preset_spk_num" in kwargs:  # FunASR's name for an exact speaker count
                spk_opts["num_speakers"] = kwargs.pop("preset_spk_num")
            _warn_unused("generate", kwargs)
            vad_rate = p.vad.sample_rate  # the VAD reads the input at its own rate (an 8 kHz model: 8 kHz)
            prepared = [
                Prepared(k, a.waveform, None, vad_waveform=a.others.get(vad_rate))  # one window, batched
                for k, a in loaded
            ]
            options = DecodeOptions(sentence_timestamp, return_raw_text, vad_options=vad_opts, **spk_opts)
            return [
                result if seg_results else {"key": item.key, "text": "", "timestamp": []}
                for item, result, seg_results in p.run_many(prepared, float("inf"), options)
            ]
        _warn_unused("generate", kwargs)
        if p.punc is not None:
            return self._punctuated(
                [r for batch in self.recognizer.recognize(items) for r in batch], sentence_timestamp, return_raw_text
            )
        results = {r.key: r for batch in self.recognizer.recognize(items) for r in batch}
        out = []
        for k, _ in items:
            r = results[k]
            d: dict[str, Any] = {"key": k, "text": r.text}
            if r.timestamp is not None:
                d["timestamp"] = r.timestamp
            out.append(d)
        return out

    def _punctuated(
        self, recs: list[Recognition], sentence_timestamp: bool, return_raw_text: bool
    ) -> list[dict[str, Any]]:
        """Whole-utterance results punctuated in one batch, each as a one-segment recording."""
        files = [[SegmentResult(0, int(r.audio_s * 1000), r, r.timestamp)] for r in recs]
        return [
            merge(r.key, segs, punc, sentence_timestamp, return_raw_text)
            for r, segs, punc in zip(recs, files, self.pipeline.punctuate_files(files))
        ]


def _is_scp(x: Any) -> bool:
    return isinstance(x, (str, Path)) and str(x).endswith(".scp") and Path(x).is_file()


def _default_key(source: Any, index: int) -> str:
    """The file name without extension, each whitespace character replaced by ``_`` (``my meeting.wav``
    -> ``my_meeting``: keys are single fields in Kaldi lists and RTTM); ``utt0003`` for other inputs."""
    if isinstance(source, (str, Path)) and not str(source).rstrip().endswith("|"):
        stem = Path(str(source).split("?")[0]).stem
        return "".join("_" if ch.isspace() else ch for ch in stem) or f"utt{index:04d}"
    return f"utt{index:04d}"


def _load_inputs(
    input: Any, fs: int | None, key: str | list[str] | None, audio_options: dict[str, Any]
) -> list[tuple[str, AudioResult]]:
    if _is_scp(input):
        items = []
        for k, res in load_wav_scp(input, fs=fs, **audio_options):
            if isinstance(res, InputError):
                raise res
            items.append((k, res))
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
        items.append((k, load_audio(src, fs=fs, key=k, **audio_options)))
    return items
