"""FSMN-VAD post-processing options: FunASR's ``VADXOptions`` plus the 1.4.16 dynamic schedule."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# FunASR 1.4.16 ``DEFAULT_SILENCE_SCHEDULE`` (fsmn_vad_streaming/model.py): (speech ms so far,
# end-silence ms). ``inf`` is written as ``None`` so the dataclass stays JSON-friendly.
DEFAULT_SILENCE_SCHEDULE: tuple[tuple[float | None, int], ...] = (
    (10000, 2000),
    (20000, 1000),
    (30000, 800),
    (40000, 600),
    (50000, 400),
    (60000, 200),
    (None, 100),
)


@dataclass(frozen=True)
class VadOptions:
    """Every ``VADXOptions`` field (FunASR names and defaults) plus the dynamic end-silence schedule.

    Dynamic schedule (FunASR 1.4.16, on by default): at the start of every ``chunk_size_ms`` chunk
    the end-silence rule becomes ``schedule(accumulated) - speech_to_sil_time_thres`` (floored at
    0), where ``accumulated`` grows by ``chunk_size_ms`` for each chunk that starts inside a
    segment and is reset after a chunk that ends one; the speech/noise threshold becomes
    ``dynamic_speech_noise_thres``. ``dynamic_silence=None`` means FunASR's rule: on unless
    ``max_end_silence_time`` is passed at call time. ``dynamic_silence=False`` is classic FunASR
    (fixed ``max_end_silence_time``, ``speech_noise_thres``).
    """

    sample_rate: int = 16000
    detect_mode: int = 1
    snr_mode: int = 0
    max_end_silence_time: float = 800
    max_start_silence_time: float = 3000
    do_start_point_detection: bool = True
    do_end_point_detection: bool = True
    window_size_ms: float = 200
    sil_to_speech_time_thres: float = 150
    speech_to_sil_time_thres: float = 150
    speech_2_noise_ratio: float = 1.0
    do_extend: int = 1
    lookback_time_start_point: float = 200
    lookahead_time_end_point: float = 100
    max_single_segment_time: float = 60000
    nn_eval_block_size: int = 8
    dcd_block_size: int = 4
    snr_thres: float = -100.0
    noise_frame_num_used_for_snr: int = 100
    decibel_thres: float = -100.0
    speech_noise_thres: float = 0.6
    fe_prior_thres: float = 1e-4
    silence_pdf_num: int = 1
    sil_pdf_ids: tuple[int, ...] = (0,)
    speech_noise_thresh_low: float = -0.1
    speech_noise_thresh_high: float = 0.3
    output_frame_probs: bool = False
    frame_in_ms: int = 10
    frame_length_ms: int = 25
    # --- funasr_lite additions (FunASR 1.4.16 inference kwargs) ---
    dynamic_silence: bool | None = None
    silence_schedule: tuple[tuple[float | None, float], ...] = DEFAULT_SILENCE_SCHEDULE
    dynamic_speech_noise_thres: float | None = 0.5
    chunk_size_ms: int = 60000

    def __post_init__(self) -> None:
        object.__setattr__(self, "sil_pdf_ids", tuple(int(i) for i in self.sil_pdf_ids))
        object.__setattr__(self, "silence_schedule", tuple((a, b) for a, b in self.silence_schedule))
        self.validate()

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """All option names."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_config(cls, model_conf: Mapping[str, Any] | None) -> VadOptions:
        """From a FunASR ``model_conf`` (unknown keys are ignored, as ``VADXOptions(**kw)`` does)."""
        names = set(cls.field_names())
        return cls(**{k: v for k, v in (model_conf or {}).items() if k in names})

    def replace(self, **overrides: Any) -> VadOptions:
        """A copy with ``overrides``; an unknown name raises ``TypeError`` listing the valid ones."""
        unknown = sorted(set(overrides) - set(self.field_names()))
        if unknown:
            raise TypeError(f"unknown VAD option(s) {unknown}; valid options: {', '.join(self.field_names())}")
        return dataclasses.replace(self, **overrides)

    def resolve_call(self, overrides: Mapping[str, Any]) -> VadOptions:
        """Apply call-time ``overrides`` with FunASR's rules, and resolve ``dynamic_silence``.

        As FunASR: passing ``max_end_silence_time`` turns the schedule off (unless
        ``dynamic_silence`` is given). Unlike FunASR (whose schedule silently forces 0.5), a
        call-time ``speech_noise_thres`` is honoured under the schedule too, unless
        ``dynamic_speech_noise_thres`` is passed as well.
        """
        opts = self.replace(**overrides)
        changes: dict[str, Any] = {}
        if opts.dynamic_silence is None:
            changes["dynamic_silence"] = "max_end_silence_time" not in overrides
        if "speech_noise_thres" in overrides and "dynamic_speech_noise_thres" not in overrides:
            changes["dynamic_speech_noise_thres"] = None
        return dataclasses.replace(opts, **changes) if changes else opts

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad option."""
        if self.detect_mode not in (0, 1):
            raise ValueError(f"detect_mode must be 0 (single utterance) or 1 (multiple), got {self.detect_mode!r}")
        if self.frame_in_ms <= 0:
            raise ValueError(f"frame_in_ms must be > 0, got {self.frame_in_ms}")
        if int(self.window_size_ms / self.frame_in_ms) < 1:
            raise ValueError(f"window_size_ms={self.window_size_ms} is shorter than one frame")
        if self.max_single_segment_time <= 0:
            raise ValueError(f"max_single_segment_time must be > 0, got {self.max_single_segment_time}")
        if self.noise_frame_num_used_for_snr < 1:
            raise ValueError(f"noise_frame_num_used_for_snr must be >= 1, got {self.noise_frame_num_used_for_snr}")
        if len(self.sil_pdf_ids) != self.silence_pdf_num:
            raise ValueError(
                f"silence_pdf_num={self.silence_pdf_num} but sil_pdf_ids has {len(self.sil_pdf_ids)} entries"
            )
        if self.chunk_size_ms < 15000:
            raise ValueError(f"chunk_size_ms must be >= 15000 (offline mode), got {self.chunk_size_ms}")
        if not self.silence_schedule:
            raise ValueError("silence_schedule must not be empty")
        for name in (
            "speech_noise_thres",
            "speech_2_noise_ratio",
            "max_end_silence_time",
            "snr_thres",
            "decibel_thres",
        ):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ValueError(f"{name} must be a number, got {value!r}")

    def end_silence_threshold(self, accumulated_ms: float) -> float | None:
        """Dynamic schedule: end-silence rule (ms) after ``accumulated_ms``; ``None``: no entry matches."""
        for limit_ms, silence_ms in self.silence_schedule:
            if limit_ms is None or accumulated_ms <= limit_ms:
                return max(silence_ms - self.speech_to_sil_time_thres, 0)
        return None
