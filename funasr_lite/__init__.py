"""funasr_lite: a readable, offline, FunASR-compatible speech recognition toolkit."""

__version__ = "0.1.0"


def __getattr__(name: str):  # lazy: `import funasr_lite` stays light for tools that need no model
    if name == "AutoModel":
        from funasr_lite.auto_model import AutoModel

        return AutoModel
    raise AttributeError(f"module 'funasr_lite' has no attribute {name!r}")
