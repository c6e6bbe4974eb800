"""``AutoModel.generate`` for an ASR model: inputs -> pipeline -> FunASR dicts [-> ``1best_recog/``].

``merge_vad`` is FunASR 1.4.16's ``funasr.utils.vad_utils.merge_vad``: the VAD segments of a
file are replaced by spans of at most about ``merge_length_s`` that run from one segment edge to
a later one (the silence between them included), so the recogniser sees longer pieces.
``data_type="fbank"`` takes features that are already the frontend's output (fbank, LFR and
CMVN: ``(T, n_mels * lfr_m)`` or ``(1, T, D)``), as FunASR's Paraformer does for a tensor input.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from funasr_lite.asr import Recognition
from funasr_lite.auto_inputs import keyed_items, load_audio_inputs
from funasr_lite.auto_options import SPEAKER_CALL, CallDefaults, check_vad_options, reject_unknown
from funasr_lite.errors import InputError
from funasr_lite.pipeline import DecodeOptions, LongAudioPipeline, SegmentResult, merge
from funasr_lite.prefetch import Prepared
from funasr_lite.vad.options import VadOptions
from funasr_lite.writers.recog_files import recog_record


def merge_vad(segments: list[list[int]], max_length: float = 15000, min_length: float = 0) -> list[list[int]]:
    """FunASR's ``merge_vad``: spans between segment edges, each closed at the last edge before
    ``max_length`` ms from its start would be reached (spans shorter than ``min_length`` are dropped)."""
    if len(segments) <= 1:
        return segments
    edges = sorted({t for seg in segments for t in seg[:2]})
    out: list[list[int]] = []
    begin = 0
    for i in range(len(edges) - 1):
        if edges[i + 1] - begin < max_length:
            continue
        if edges[i] - begin > min_length:
            out.append([begin, edges[i]])
        begin = edges[i]
    out.append([begin, edges[-1]])
    return out


@contextmanager
def _call_settings(p: LongAudioPipeline, call: CallDefaults) -> Iterator[None]:
    """The pipeline's batch sizes and speaker model as this call asks, restored afterwards."""
    saved = (p.batch_size_ms, p.threshold_ms, p.spk)
    p.batch_size_ms = int(call.batch_size_s * 1000)
    p.threshold_ms = int(call.batch_size_threshold_s * 1000)
    if not call.return_spk_res:
        p.spk = None
    try:
        yield
    finally:
        p.batch_size_ms, p.threshold_ms, p.spk = saved


def run_asr(
    p: LongAudioPipeline,
    input: Any,
    fs: int | None,
    key: Any,
    call: CallDefaults,
    data_type: str,
    kwargs: dict[str, Any],
) -> list[dict[str, Any]]:
    """Recognise ``input`` with ``p``; ``kwargs`` holds what is left of the call's options."""
    if data_type == "fbank":
        if p.vad is not None:
            raise ValueError("data_type='fbank' works without a vad_model: features cannot be cut by the VAD")
        reject_unknown(kwargs, "generate", CallDefaults.names())
        results, records = _fbank(p, input, key, call)
    elif p.vad is not None:
        results, records = _with_vad(p, input, fs, key, call, kwargs)
    else:
        reject_unknown(kwargs, "generate", CallDefaults.names())
        loaded = load_audio_inputs(input, fs, key, p.audio_options())
        hotwords = p.asr.hotword_ids(call.hotword)
        recs = {
            r.key: r
            for batch in p.asr.recognize(
                [(k, a.waveform) for k, a in loaded], call.timestamps(p.spk is not None), hotwords=hotwords
            )
            for r in batch
        }
        ordered = [recs[k] for k, _ in loaded]
        results, records = _whole(p, ordered, call)
    if call.output_dir:
        from funasr_lite.writers.recog_files import RecogWriter  # noqa: PLC0415

        writer = RecogWriter(call.output_dir)
        writer.add(records)
        writer.finalize([r["key"] for r in records])
    return results


def _with_vad(
    p: LongAudioPipeline, input: Any, fs: int | None, key: Any, call: CallDefaults, kwargs: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    vad_opts = {k: kwargs.pop(k) for k in list(kwargs) if k in VadOptions.field_names()}
    spk_opts = {k: kwargs.pop(k) for k in SPEAKER_CALL if k in kwargs}
    if "preset_spk_num" in spk_opts:  # FunASR's name for an exact speaker count
        spk_opts["num_speakers"] = spk_opts.pop("preset_spk_num")
    reject_unknown(kwargs, "generate", CallDefaults.names() + VadOptions.field_names() + SPEAKER_CALL)
    check_vad_options({**p.vad_options, **vad_opts}, "generate")
    assert p.vad is not None
    loaded = load_audio_inputs(input, fs, key, p.audio_options())
    vad_rate = p.vad.sample_rate  # the VAD reads the input at its own rate (an 8 kHz model: 8 kHz)
    prepared = []
    for k, a in loaded:
        vad_wave = a.others.get(vad_rate)
        segments = None
        if call.merge_vad:
            wave, rate = (a.waveform, 16000) if vad_wave is None else (vad_wave, vad_rate)
            segments = merge_vad(p.segments(wave, rate, **vad_opts), call.merge_length_s * 1000)
            vad_wave = None
        prepared.append(Prepared(k, a.waveform, segments, vad_waveform=vad_wave))
    options = DecodeOptions(
        call.sentence_timestamp,
        return_raw_text=call.return_raw_text,
        output_timestamp=call.timestamps(p.spk is not None),
        vad_options=vad_opts,
        hotword=call.hotword,
        **spk_opts,
    )
    results, records = [], []
    with _call_settings(p, call):
        for item, result, seg_results in p.run_many(prepared, float("inf"), options):
            result = result if seg_results else {"key": item.key, "text": "", "timestamp": []}
            results.append(result)
            records.append(recog_record(result, seg_results, item.duration_s, p.punc is not None))
    return results, records


def _whole(
    p: LongAudioPipeline, recs: list[Recognition], call: CallDefaults
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Whole-utterance results (no VAD), punctuated in one batch when a punctuation model is loaded."""
    files = [[SegmentResult(0, int(r.audio_s * 1000), r, r.timestamp)] for r in recs]
    if p.punc is not None:
        results = [
            merge(r.key, segs, punc, call.sentence_timestamp, call.return_raw_text)
            for r, segs, punc in zip(recs, files, p.punctuate_files(files))
        ]
    else:
        results = []
        for r in recs:
            d: dict[str, Any] = {"key": r.key, "text": r.text}
            if r.timestamp is not None:
                d["timestamp"] = r.timestamp
            results.append(d)
    records = [recog_record(res, segs, r.audio_s, p.punc is not None) for res, segs, r in zip(results, files, recs)]
    return results, records


def _fbank(
    p: LongAudioPipeline, input: Any, key: Any, call: CallDefaults
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Recognise frontend-output features directly (FunASR's ``data_type="fbank"``)."""
    asr = p.asr
    dim = asr.frontend.output_size()
    recs = []
    hotwords = asr.hotword_ids(call.hotword)
    items = keyed_items(input if isinstance(input, (list, tuple)) else [input], key, path_keys=False)
    for k, feats in items:
        if isinstance(feats, np.ndarray):
            feats = torch.from_numpy(feats)
        if not isinstance(feats, torch.Tensor):
            raise InputError(
                k, f"data_type='fbank' takes a tensor or numpy array of features, got {type(feats).__name__}"
            )
        if feats.dim() == 3 and feats.shape[0] == 1:
            feats = feats[0]
        if feats.dim() != 2 or feats.shape[1] != dim or feats.shape[0] == 0:
            raise InputError(k, f"fbank features must be (T, {dim}) with T >= 1, got {tuple(feats.shape)}")
        with torch.no_grad():
            res = asr.model.recognize(
                feats.float()[None].to(asr.device),
                torch.tensor([feats.shape[0]], device=asr.device),
                timestamps=call.timestamps(p.spk is not None) or asr.has_timestamps,
                **({} if hotwords is None else {"hotwords": hotwords}),
            )[0]
        recs.append(asr.recognition(k, res, feats.shape[0] * asr.frontend.lfr_n * 0.01, 0.0))
    return _whole(p, recs, call)
