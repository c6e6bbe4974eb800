"""FSMN-VAD post-processing: options, per-frame decisions and FunASR's segment state machine."""

from funasr_lite.vad.decision import chunk_frame_ends, decide_segments
from funasr_lite.vad.frame_state import frame_decibels, needs_decibels, speech_flags
from funasr_lite.vad.options import DEFAULT_SILENCE_SCHEDULE, VadOptions

__all__ = [
    "VadOptions",
    "DEFAULT_SILENCE_SCHEDULE",
    "decide_segments",
    "chunk_frame_ends",
    "speech_flags",
    "frame_decibels",
    "needs_decibels",
]
