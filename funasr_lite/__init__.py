"""funasr_lite: a readable, offline, FunASR-compatible speech recognition toolkit."""

__version__ = "0.1.0"
